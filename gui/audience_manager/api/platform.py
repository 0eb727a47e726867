"""The one interface every platform client implements; the jobs layer sees only this.

A platform's differences (bulk or per-row, ids or emails, which actions exist) stay behind it and in
its `Capabilities`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from audience_manager.api.resolution import ResolutionPlan, ResolveProgress
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.platforms import Capabilities, PlatformKind
from audience_manager.core.work import Created, ItemResult, NewPerson, WorkItem


@dataclass(frozen=True)
class AccountInfo:
    """Who a credential belongs to, for "Test connection" and the status bar."""

    name: str
    detail: str = ""  # e.g. the primary email or the location's address


@dataclass(frozen=True)
class RateBudget:
    """What is left of the rate limit right now, for the status bar."""

    remaining: int
    limit: int
    window_seconds: float
    daily_remaining: int | None = None


@dataclass(frozen=True)
class MemberPage:
    """One page of a tag's or form's members: (id, email) each, and how many there are in all
    when the platform says (for progress)."""

    people: list[tuple[str, str]]
    total: int | None = None


# Who `Platform.members` lists: one subscriber state ("active", "cancelled"...) or "all".
MEMBER_STATUSES = ("active", "inactive", "bounced", "complained", "cancelled", "all")

StateKey = tuple[int, str]  # (row, target id): a row may go to several targets, each with its own state


def state_key(item: WorkItem) -> StateKey:
    """Where `Platform.read_state` puts `item`'s state."""
    return (item.row, item.target.id)


@runtime_checkable
class Platform(Protocol):
    kind: PlatformKind

    @property
    def capabilities(self) -> Capabilities: ...

    def budget(self) -> RateBudget: ...

    async def whoami(self) -> AccountInfo: ...

    async def list_targets(self, kind: TargetKind) -> list[Target]: ...

    async def create_tag(self, name: str) -> Target: ...

    def members(self, target: Target, status: str = "active") -> AsyncIterator[MemberPage]:
        """Everyone on the tag or form `target`, a page at a time, with their ids and emails (so
        an audience read this way needs no lookups). `status` is a subscriber state or "all";
        platforms without subscriber states (HighLevel) list every contact whatever it is.
        Raises `NotFoundError` when the target is gone, like `resolve` for errors that end a job."""
        ...

    async def plan_resolution(self, emails: Sequence[str]) -> ResolutionPlan:
        """The cheapest way to resolve `emails` on this account, and its cost in requests.

        May spend a request or two finding out the account's size (counted in the plan). Raises
        like `resolve` for errors that end the job.
        """
        ...

    async def resolve(
        self,
        emails: Sequence[str],
        *,
        plan: ResolutionPlan | None = None,
        progress: ResolveProgress | None = None,
    ) -> dict[str, str | None]:
        """Map each email to the platform's subscriber/contact id, or None when not found.

        Follows `plan` (from `plan_resolution`) when given, else looks each email up (one paced
        request each). `progress` hears how far the reading got and the answers found so far.
        Raises only for errors that end the job (authentication, connection), never for "not found".
        """
        ...

    async def apply(
        self, action: Action, items: Sequence[WorkItem], value: str | None = None
    ) -> list[ItemResult]:
        """Run one batch (at most `capabilities.items_per_request` items) and return one result per item.

        Per-item refusals are results, not exceptions. Raises `AuthenticationError` or
        `GaveUpError` when the whole request failed; the runner then fails the batch's rows.
        """
        ...

    async def create(self, people: Sequence[NewPerson]) -> list[Created]:
        """Create people who are not on the platform yet (at most `capabilities.creates_per_request`),
        one answer per person: the new id, or the platform's reason. Only called with emails that
        `resolve` did not find: a create that upserts must never be sent an existing person.
        Raises like `apply` when the whole request failed."""
        ...

    async def read_state(self, action: Action, items: Sequence[WorkItem]) -> dict[StateKey, str | None]:
        """The state each item's target has now (tagged "yes"/"no", a field's value), keyed by
        `state_key(item)`: (row, target id), as a row with several targets has one state for each.

        For Preview and Undo; platforms without `can_read_membership` return an empty dict.
        """
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class ReadsStateBeforeWrite(Protocol):
    """A platform that can say what each item's target is before a write, cheaply enough to ask
    before every batch (from the member lists a client reads anyway to judge its writes).

    The runner journals the answer with the batch *before* the write goes out, so an undo knows
    what to restore even when the write's answer is lost. Keyed like `Platform.read_state`; items
    it cannot tell are left out or None.
    """

    async def state_before(self, action: Action, items: Sequence[WorkItem]) -> dict[StateKey, str | None]: ...


@runtime_checkable
class ReadsAheadOfWrites(Protocol):
    """A platform that reads, once before a job's first write, what its writes would otherwise read
    batch by batch (Kit's old field values: one account listing instead of one read a subscriber).

    Best effort: whatever it could not read, the batches read as before.
    """

    async def read_ahead(self, action: Action, subjects: Sequence[str]) -> None: ...
