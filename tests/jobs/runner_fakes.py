"""An in-memory platform for runner tests: it keeps real state (who has which tag, which form, which
field value) and answers like a platform does, with failures injected on purpose by a seeded RNG."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from audience_manager.api.errors import AuthenticationError, ConnectionFailedError, GaveUpError
from audience_manager.api.platform import AccountInfo, RateBudget, StateKey
from audience_manager.api.resolution import ResolutionPlan, ResolveProgress, lookups
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow, Problem
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.core.platforms import Capabilities, PlatformKind, RateLimit
from audience_manager.core.work import Created, ItemResult, NewPerson, WorkItem
from audience_manager.jobs.events import JobState


def caps(
    items_per_request: int = 100, per_second: float = 10.0, *, emails: bool = False, creates: int = 0
) -> Capabilities:
    kinds = {IdentifierKind.SUBSCRIBER_ID, IdentifierKind.EMAIL}
    return Capabilities(
        actions=frozenset(Action),
        identifiers=frozenset(kinds),
        writes_by_email=frozenset(Action) if emails else frozenset(),
        items_per_request=items_per_request,
        rate=RateLimit(requests=int(per_second * 60), per_seconds=60),
        creates_per_request=creates,
    )


@dataclass
class MemoryPlatform:
    """Subscribers 1..n exist (email `s<id>@example.com`); anything else "does not exist"."""

    subscribers: int = 1000
    caps: Capabilities = field(default_factory=caps)
    kind: PlatformKind = PlatformKind.KIT_V4
    latency: float = 0.0
    seed: int = 0
    fail_item_rate: float = 0.0  # per-item refusals (results, not exceptions)
    raise_rate: float = 0.0  # whole-request failures (GaveUpError or an unexpected bug)
    auth_fails_after: int | None = None  # the n-th apply call (0-based) and later raise AuthenticationError
    connection_fails_after: int | None = None
    down_after: int | None = None  # the n-th apply call and later give up after their retries
    tags: dict[str, set[str]] = field(default_factory=dict)
    forms: dict[str, set[str]] = field(default_factory=dict)
    values: dict[tuple[str, str], str] = field(default_factory=dict)
    apply_calls: list[list[WorkItem]] = field(default_factory=list)
    resolve_calls: list[list[str]] = field(default_factory=list)
    in_flight: int = 0
    created: dict[str, str] = field(default_factory=dict)  # email -> id of the people created
    create_calls: list[list[NewPerson]] = field(default_factory=list)
    refuse_create: frozenset[str] = frozenset()  # emails whose creation fails
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @property
    def capabilities(self) -> Capabilities:
        return self.caps

    def budget(self) -> RateBudget:
        return RateBudget(remaining=100, limit=100, window_seconds=60)

    async def whoami(self) -> AccountInfo:
        return AccountInfo(name="memory")

    async def list_targets(self, kind: TargetKind) -> list[Target]:
        return []

    async def create_tag(self, name: str) -> Target:
        return Target(TargetKind.TAG, name, name)

    def _exists(self, subject: str) -> bool:
        if not subject.isdigit():
            return False
        return 1 <= int(subject) <= self.subscribers or subject in self.created.values()

    async def plan_resolution(self, emails: Sequence[str]) -> ResolutionPlan:
        return lookups(len(set(emails)))

    async def resolve(
        self,
        emails: Sequence[str],
        *,
        plan: ResolutionPlan | None = None,
        progress: ResolveProgress | None = None,
    ) -> dict[str, str | None]:
        self.resolve_calls.append(list(emails))
        await asyncio.sleep(self.latency)
        found: dict[str, str | None] = {}
        for email in emails:
            local = email.split("@")[0]
            found[email] = local[1:] if local.startswith("s") and self._exists(local[1:]) else None
            if email in self.created:
                found[email] = self.created[email]
        return found

    async def create(self, people: Sequence[NewPerson]) -> list[Created]:
        assert len(people) <= self.caps.creates_per_request
        self.create_calls.append(list(people))
        await asyncio.sleep(self.latency)
        out: list[Created] = []
        for p in people:
            if p.email in self.refuse_create:
                out.append(Created(p.email, None, "Email address is invalid"))
                continue
            subject = str(10_000_000 + len(self.created))
            self.created[p.email] = subject
            out.append(Created(p.email, subject))
        return out

    async def apply(
        self, action: Action, items: Sequence[WorkItem], value: str | None = None
    ) -> list[ItemResult]:
        assert len(items) <= self.caps.items_per_request
        call = len(self.apply_calls)
        self.apply_calls.append(list(items))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
            if self.auth_fails_after is not None and call >= self.auth_fails_after:
                raise AuthenticationError(401, ["The access token is invalid"])
            if self.connection_fails_after is not None and call >= self.connection_fails_after:
                raise ConnectionFailedError("Could not connect to Kit: connection refused")
            if self.down_after is not None and call >= self.down_after:
                raise GaveUpError("Kit answered 503 Service Unavailable 6 times")
            roll = self.rng.random()
            if roll < self.raise_rate / 2:
                raise GaveUpError("Kit kept answering 429 Retry later; gave up after 5 tries")
            if roll < self.raise_rate:
                raise KeyError("a bug in the client")
            return [self._apply_one(action, item, value) for item in items]
        finally:
            self.in_flight -= 1

    def _apply_one(self, action: Action, item: WorkItem, value: str | None) -> ItemResult:
        if self.rng.random() < self.fail_item_rate:
            return ItemResult(item, Outcome.FAILED, "Injected refusal")
        if not self._exists(item.subject):
            return ItemResult(item, Outcome.FAILED, "Subscriber does not exist")
        tid = item.target.id
        if action in (Action.TAG, Action.UNTAG):
            members = self.tags.setdefault(tid, set())
            had = item.subject in members
            if action is Action.TAG:
                members.add(item.subject)
                return ItemResult(
                    item, Outcome.UNCHANGED if had else Outcome.SUCCEEDED, previous="yes" if had else "no"
                )
            members.discard(item.subject)
            return ItemResult(
                item, Outcome.SUCCEEDED if had else Outcome.UNCHANGED, previous="yes" if had else "no"
            )
        if action is Action.ADD_TO_FORM:
            members = self.forms.setdefault(tid, set())
            had = item.subject in members
            members.add(item.subject)
            return ItemResult(item, Outcome.UNCHANGED if had else Outcome.SUCCEEDED)
        old = self.values.get((item.subject, tid))
        written = (item.value if item.value is not None else value) or ""
        self.values[(item.subject, tid)] = written
        return ItemResult(item, Outcome.UNCHANGED if old == written else Outcome.SUCCEEDED, previous=old)

    async def read_state(self, action: Action, items: Sequence[WorkItem]) -> dict[StateKey, str | None]:
        return {}

    async def aclose(self) -> None:
        return None


@dataclass
class ListRecorder:
    """Records the journal calls in order, and checks the crash-safety order as they arrive."""

    calls: list[tuple[str, object]] = field(default_factory=list)
    sent: set[tuple[int, str]] = field(default_factory=set)

    def job_started(self, job_id: str) -> None:
        self.calls.append(("job_started", job_id))

    def batch_sent(
        self,
        job_id: str,
        items: Sequence[WorkItem],
        before: Mapping[tuple[int, str], str | None] | None = None,
    ) -> None:
        self.sent |= {(i.row, i.target.id) for i in items}
        self.calls.append(("batch_sent", list(items)))

    def results_received(self, job_id: str, results: Sequence[ItemResult]) -> None:
        for r in results:
            assert (r.item.row, r.item.target.id) in self.sent, "result recorded before its batch was sent"
        self.calls.append(("results_received", list(results)))

    def outcomes_without_request(self, job_id: str, outcomes: Sequence[RowOutcome]) -> None:
        self.calls.append(("outcomes_without_request", list(outcomes)))

    def job_ended(self, job_id: str, state: JobState, reason: str) -> None:
        self.calls.append(("job_ended", (state, reason)))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def recorded_pairs(self) -> list[tuple[int, str]]:
        """Every (row, target) the journal heard an ending for, with repeats (there must be none)."""
        pairs: list[tuple[int, str]] = []
        for name, payload in self.calls:
            if name == "results_received":
                pairs += [(r.item.row, r.item.target.name) for r in payload]  # type: ignore[attr-defined]
            elif name == "outcomes_without_request":
                pairs += [(o.row, o.target) for o in payload]  # type: ignore[attr-defined]
        return pairs


def tag(i: int) -> Target:
    return Target(TargetKind.TAG, str(i), f"tag-{i}")


def id_audience(
    ids: Sequence[int], *, invalid: Sequence[str] = (), duplicates: Sequence[str] = ()
) -> Audience:
    rows = [AudienceRow(n, str(i), IdentifierKind.SUBSCRIBER_ID) for n, i in enumerate(ids, start=1)]
    start = len(rows) + 1
    bad = [Problem(start + k, text, "Not a subscriber ID or an email") for k, text in enumerate(invalid)]
    start += len(bad)
    dup = [Problem(start + k, text, "Duplicate of an earlier row") for k, text in enumerate(duplicates)]
    return Audience(rows=rows, invalid=bad, duplicates=dup)


def spec(
    audience: Audience, *targets: Target, action: Action = Action.TAG, value: str | None = None
) -> JobSpec:
    return JobSpec(
        account="memory", action=action, targets=targets or (tag(1),), audience=audience, value=value
    )
