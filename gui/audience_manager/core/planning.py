"""Turning a job into requests: which row goes to which target in which request, and how many requests.

Batches never mix targets. HighLevel's bulk tag endpoint applies *all* its tags to *all* its contacts,
so a batch that mixed targets could not be sent as one request there; on Kit the cost is at most one
partly filled request per target. Order is target by target, then rows in input order, so the same
job always plans the same requests (the journal and resume rely on that).
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass

from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import AudienceRow
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.platforms import Capabilities
from audience_manager.core.work import WorkItem

# HighLevel "remove all tags" has no target of its own; the job still needs one to key its outcomes.
ALL_TAGS = Target(kind=TargetKind.TAG, id="*", name="all tags")


def job_targets(spec: JobSpec) -> tuple[Target, ...]:
    """The targets every row is paired with. Raises when a job has nothing to apply to."""
    if spec.targets:
        return spec.targets
    if spec.action is Action.UNTAG and spec.remove_all_tags:
        return (ALL_TAGS,)
    raise ValueError("Choose at least one target for this job.")


def target_label(target: Target) -> str:
    """How a target is named in outcomes and reports: its name when it has one, else its id."""
    return str(target)


def needs_resolving(row: AudienceRow, capabilities: Capabilities, action: Action) -> bool:
    """An email must be looked up first unless the platform writes this action by email."""
    return row.kind is IdentifierKind.EMAIL and action not in capabilities.writes_by_email


def _batches(items: Iterator[WorkItem], size: int) -> Iterator[tuple[WorkItem, ...]]:
    current: list[WorkItem] = []
    for item in items:
        current.append(item)
        if len(current) == size:
            yield tuple(current)
            current = []
    if current:
        yield tuple(current)


@dataclass(frozen=True)
class Plan:
    """The write requests of a job. `unresolved` are rows whose email had no subject: never sent."""

    batches: tuple[tuple[WorkItem, ...], ...]
    unresolved: tuple[AudienceRow, ...] = ()

    @property
    def requests(self) -> int:
        return len(self.batches)

    @property
    def items(self) -> int:
        return sum(len(b) for b in self.batches)


def plan(
    spec: JobSpec,
    capabilities: Capabilities,
    *,
    subjects: Mapping[str, str | None] | None = None,
    done: Container[tuple[int, str]] = (),
) -> Plan:
    """Batches of at most `capabilities.items_per_request` items, one item per row x target pair.

    `subjects` maps an email (as it appears in the audience) to the platform's id for it, for rows
    that `needs_resolving`; a row missing from it, or mapped to None, is left out and listed in
    `unresolved`. Pairs in `done` (row, target id) are left out: that is how a job resumes.
    """
    found = subjects or {}
    unresolved = tuple(r for r in spec.audience.rows if _subject(r, capabilities, spec.action, found) is None)
    batches = tuple(iter_batches(spec, capabilities, subjects=found, done=done))
    return Plan(batches=batches, unresolved=unresolved)


def iter_batches(
    spec: JobSpec,
    capabilities: Capabilities,
    *,
    subjects: Mapping[str, str | None] | None = None,
    done: Container[tuple[int, str]] = (),
) -> Iterator[tuple[WorkItem, ...]]:
    """The batches of `plan`, made one at a time as they are taken: a 100,000-row job starts sending
    at once, never holds every work item in memory, and never blocks the event loop building them."""
    found = subjects or {}
    size = max(1, capabilities.items_per_request)
    if spec.action is Action.SET_FIELD and spec.fields and size == 1 and capabilities.fields_in_one_request:
        yield from _per_person(spec, capabilities, found, done)
        return
    for target in job_targets(spec):
        items = (
            WorkItem(
                row=row.row,
                identifier=row.identifier,
                subject=subject,
                target=target,
                value=spec.value_for(row, target) if spec.fields else None,
            )
            for row in spec.audience.rows
            if (row.row, target.id) not in done
            and (subject := _subject(row, capabilities, spec.action, found)) is not None
        )
        yield from _batches(items, size)


def _per_person(
    spec: JobSpec,
    capabilities: Capabilities,
    found: Mapping[str, str | None],
    done: Container[tuple[int, str]],
) -> Iterator[tuple[WorkItem, ...]]:
    """Every field of one person in one request (one batch a row), for a per-row endpoint that
    takes them all at once."""
    targets = job_targets(spec)
    for row in spec.audience.rows:
        subject = _subject(row, capabilities, spec.action, found)
        if subject is None:
            continue
        items = tuple(
            WorkItem(row.row, row.identifier, subject, t, spec.value_for(row, t))
            for t in targets
            if (row.row, t.id) not in done
        )
        if items:
            yield items


def job_subjects(
    spec: JobSpec,
    capabilities: Capabilities,
    *,
    subjects: Mapping[str, str | None] | None = None,
    done: Container[tuple[int, str]] = (),
) -> set[str]:
    """The platform ids `iter_batches` will write to (rows with a pair still to send), without
    building its work items: what a client reads ahead of the writes in one go."""
    found = subjects or {}
    targets = job_targets(spec)
    return {
        subject
        for row in spec.audience.rows
        if any((row.row, t.id) not in done for t in targets)
        and (subject := _subject(row, capabilities, spec.action, found)) is not None
    }


def _subject(
    row: AudienceRow, capabilities: Capabilities, action: Action, subjects: Mapping[str, str | None]
) -> str | None:
    if needs_resolving(row, capabilities, action):
        return subjects.get(row.identifier)
    return row.identifier


@dataclass(frozen=True)
class RequestEstimate:
    """What a Preview shows before a run: how many requests, and how long at the rate limit."""

    lookups: int  # one per email to resolve
    writes: int
    seconds: float

    @property
    def requests(self) -> int:
        return self.lookups + self.writes


def estimate(
    spec: JobSpec, capabilities: Capabilities, *, done: Container[tuple[int, str]] = ()
) -> RequestEstimate:
    """Counts requests assuming every email is found (the most a job can send)."""
    size = max(1, capabilities.items_per_request)
    targets = job_targets(spec)
    rows: Sequence[AudienceRow] = spec.audience.rows
    lookups = sum(
        1
        for row in rows
        if needs_resolving(row, capabilities, spec.action)
        and any((row.row, t.id) not in done for t in targets)
    )
    writes = 0
    for target in targets:
        pending = sum(1 for row in rows if (row.row, target.id) not in done)
        writes += math.ceil(pending / size)
    if spec.action is Action.MOVE_TAG:  # tag, then untag: two requests a batch
        writes *= 2
    per_second = capabilities.rate.per_second
    seconds = (lookups + writes) / per_second if per_second > 0 else 0.0
    return RequestEstimate(lookups=lookups, writes=writes, seconds=seconds)
