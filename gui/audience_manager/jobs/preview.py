"""Preview (dry run): what a job would do, read from the platform, with no write.

It prices resolving the audience's emails (`Platform.plan_resolution`: the way the run will take and
its cost in requests, "resolving 3,050 emails: 20 requests"), resolves the checked rows' emails that
way, reads the current state where the platform allows
(`Platform.read_state`: Kit v4 tag membership and custom field values, HighLevel contact tags) and
counts, per target, the rows found, not found, already so and that would change, plus the write
requests the run would send. Used by `apply --dry-run` and the GUI's Preview button.

Reading costs requests against the same rate limit as the run, so only the first `limit` rows are
checked (all of them with `limit=None`); the summary says how many were.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from audience_manager.api.platform import Platform, StateKey, state_key
from audience_manager.api.resolution import ResolutionPlan
from audience_manager.core.actions import Action, Target
from audience_manager.core.audience import AudienceRow
from audience_manager.core.durations import format_duration
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.planning import estimate, job_targets, needs_resolving, plan
from audience_manager.core.work import WorkItem
from audience_manager.jobs.directory import Directory

DEFAULT_LIMIT = 1000
YES = "yes"
NO = "no"


@dataclass(frozen=True)
class TargetPreview:
    target: Target
    checked: int = 0  # rows whose state was read
    already: int = 0  # already so: the run would report them unchanged
    would_change: int = 0
    not_found: int = 0  # the platform does not know this subscriber
    unknown: int = 0  # state not readable on this platform
    requests: int = 0  # write requests the run sends for this target
    examples: tuple[str, ...] = ()  # "row 3: 'old' -> 'new'" for custom fields


@dataclass(frozen=True)
class PreviewReport:
    action: Action
    value: str | None
    rows: int  # rows that would be sent
    invalid: int
    duplicates: int
    lookups: int  # requests the run spends resolving emails (see `resolution`)
    found: int  # among the checked rows
    not_found: int
    checked_rows: int
    targets: tuple[TargetPreview, ...]
    writes: int
    seconds: float  # at the platform's rate limit
    can_read_state: bool
    items_per_request: int
    notes: tuple[str, ...] = field(default=())
    # Rows the platform said do not exist, and why in its words: `jobs.workflows.with_preview`
    # leaves them out of the run, so the confirmation and the results give the preview's numbers.
    not_found_rows: frozenset[int] = frozenset()
    not_found_reason: str = ""
    resolution: ResolutionPlan | None = None  # how the run resolves its emails, and the cost
    create_missing: bool = False  # the emails not found will be created, then written

    @property
    def sendable(self) -> int:
        """Rows the run sends once the rows found not to exist are left out."""
        return self.rows - len(self.not_found_rows)

    @property
    def resolution_text(self) -> str:
        """ "Resolving 3,050 emails: 20 requests (…)", for the confirmation; "" with no emails."""
        if self.resolution is None or self.resolution.emails == 0:
            return ""
        text = self.resolution.describe()
        return text[:1].upper() + text[1:]

    @property
    def would_change(self) -> int:
        return sum(t.would_change for t in self.targets)

    @property
    def already(self) -> int:
        return sum(t.already for t in self.targets)

    def summary(self) -> str:
        """The preview in plain text, for the CLI and the Preview dialog."""
        value = ""
        if self.action is Action.SET_FIELD:
            value = " from each row's own value" if self.value is None else f" = {self.value!r}"
        lines = [
            f"Preview: {self.action.label}{value}; no change was made.",
            f"Rows: {self.rows} to send, {self.invalid} invalid, {_plural(self.duplicates, 'duplicate')}.",
        ]
        partial = self.checked_rows < self.rows
        scope = f" (first {self.checked_rows} of {self.rows} rows checked)" if partial else ""
        lines.append(f"Found: {self.found}, not found: {self.not_found}{scope}.")
        if self.create_missing and self.not_found:
            then = self.action.label.lower()
            lines.append(f"To create: {self.not_found:,} people not there yet, then {then}.")
        for t in self.targets:
            if self.can_read_state:
                lines.append(
                    f"  {t.target}: {t.would_change} would change, {t.already} already so,"
                    f" {t.not_found} not found" + (f", {t.unknown} unknown" if t.unknown else "") + "."
                )
            else:
                lines.append(
                    f"  {t.target}: this platform cannot read the current state; {t.checked} rows checked."
                )
            lines += [f"    {e}" for e in t.examples]
        if self.resolution_text:
            lines.append(f"{self.resolution_text}.")
        lines.append(
            f"Requests the run would send: {self.lookups:,} resolving emails, "
            f"{_plural(self.writes, 'write')}"
            f" (up to {self.items_per_request} rows each),"
            f" about {format_duration(self.seconds)} at the rate limit."
        )
        for t in self.targets:
            if t.requests:
                lines.append(f"  {t.requests} x {self.action.label} {t.target}")
        lines += list(self.notes)
        return "\n".join(lines)


async def price_resolution(
    platform: Platform, spec: JobSpec, directory: Directory | None = None
) -> tuple[dict[str, str | None], ResolutionPlan | None]:
    """What the run will spend resolving the audience's emails: the answers the account's
    `directory` already holds, and the platform's cheapest plan for the rest (None: no email to
    resolve). May spend a request finding out the account's size (`Platform.plan_resolution`)."""
    caps = platform.capabilities
    emails = [r.identifier for r in spec.audience.rows if needs_resolving(r, caps, spec.action)]
    known: dict[str, str | None] = {}
    if directory is not None and emails:
        known = await asyncio.to_thread(directory.get, emails)
        emails = [e for e in emails if e not in known]
    return known, (await platform.plan_resolution(emails) if emails else None)


async def preview(
    platform: Platform,
    spec: JobSpec,
    *,
    limit: int | None = DEFAULT_LIMIT,
    directory: Directory | None = None,
) -> PreviewReport:
    """Read-only: resolves emails and reads the state of the first `limit` rows; never writes.

    With the account's `directory`, emails it already answers cost nothing (as in the run), and
    what the preview resolves is kept for the run."""
    caps = platform.capabilities
    targets = job_targets(spec)
    rows = list(spec.audience.rows)
    checked = rows if limit is None else rows[:limit]

    subjects, resolution = await price_resolution(platform, spec, directory)
    to_resolve = [
        r.identifier
        for r in checked
        if needs_resolving(r, caps, spec.action) and r.identifier not in subjects
    ]
    if to_resolve:
        answers = await platform.resolve(to_resolve, plan=resolution)
        subjects.update(answers)
        if directory is not None:
            directory.put(answers)

    # The same items the run would send, for the checked rows.
    checked_spec = _with_rows(spec, checked)
    checked_plan = plan(checked_spec, caps, subjects=subjects)
    unresolved = {r.row for r in checked_plan.unresolved}
    items_by_target: dict[str, list[WorkItem]] = {t.id: [] for t in targets}
    for batch in checked_plan.batches:
        for item in batch:
            items_by_target[item.target.id].append(item)

    can_read = caps.can_read_membership
    full = estimate(spec, caps)
    size = max(1, caps.items_per_request)
    sendable = len(rows)
    previews: list[TargetPreview] = []
    row_not_found: set[int] = set(unresolved)
    for target in targets:
        items = items_by_target[target.id]
        state: dict[StateKey, str | None] = {}
        readable = False
        if can_read and items:
            for start in range(0, len(items), size):
                chunk = items[start : start + size]
                got = await platform.read_state(spec.action, chunk)
                readable = readable or bool(got)
                state.update(got)
        tp = _count(spec, target, items, state, readable, len(unresolved))
        if readable:
            row_not_found |= {i.row for i in items if _not_found(spec.action, state_key(i), state)}
        previews.append(_with_requests(tp, math.ceil(sendable / size)))

    notes: list[str] = []
    if not can_read:
        notes.append(f"{platform.kind.label} cannot read the current state, so rows are not split by change.")
    found = len(checked) - len(row_not_found)
    lookups = resolution.requests if resolution is not None else 0
    per_second = caps.rate.per_second
    return PreviewReport(
        action=spec.action,
        value=spec.value,
        rows=len(rows),
        invalid=len(spec.audience.invalid),
        duplicates=len(spec.audience.duplicates),
        lookups=lookups,
        found=found,
        not_found=len(row_not_found),
        checked_rows=len(checked),
        targets=tuple(previews),
        writes=full.writes,
        seconds=(lookups + full.writes) / per_second if per_second > 0 else 0.0,
        can_read_state=can_read,
        items_per_request=size,
        notes=tuple(notes),
        not_found_rows=frozenset(row_not_found),
        not_found_reason=(
            f"Not found on {platform.kind.label}: no {platform.kind.person} with this ID or email"
            " (found by the preview; not sent)"
        ),
        resolution=resolution,
        create_missing=spec.create_missing and caps.can_create,
    )


def _with_rows(spec: JobSpec, rows: Sequence[AudienceRow]) -> JobSpec:
    return replace(spec, audience=replace(spec.audience, rows=list(rows), invalid=[], duplicates=[]))


def _with_requests(tp: TargetPreview, requests: int) -> TargetPreview:
    return replace(tp, requests=requests)


def _not_found(action: Action, key: StateKey, state: dict[StateKey, str | None]) -> bool:
    """A row the platform does not know. Tag membership reads "yes"/"no" for every subscriber that
    exists, so None there means not found; a form or field value of None only means "not known" or
    "empty" (Kit answers None for a field nobody set)."""
    if key not in state:
        return True
    return state[key] is None and action in (Action.TAG, Action.UNTAG)


def _count(
    spec: JobSpec,
    target: Target,
    items: Sequence[WorkItem],
    state: dict[StateKey, str | None],
    readable: bool,
    unresolved: int,
) -> TargetPreview:
    if not readable:
        return TargetPreview(target, checked=len(items), unknown=len(items), not_found=unresolved)
    already = change = missing = unknown = 0
    examples: list[str] = []
    for item in items:
        if _not_found(spec.action, state_key(item), state):
            missing += 1
            continue
        now = state[state_key(item)]
        if spec.action is Action.SET_FIELD:
            current = now or ""
            wanted = (item.value if item.value is not None else spec.value) or ""
            if current == wanted or spec.leaves_blank(item.value, item.target):
                already += 1  # already so, or a blank cell left as it was
            else:
                change += 1
                if len(examples) < 5:
                    examples.append(f"row {item.row}: {current!r} -> {wanted!r}")
            continue
        if now not in (YES, NO):
            unknown += 1
        elif (now == YES) == (spec.action in (Action.TAG, Action.ADD_TO_FORM)):
            already += 1
        else:
            change += 1
    return TargetPreview(
        target,
        checked=len(items),
        already=already,
        would_change=change,
        not_found=missing + unresolved,
        unknown=unknown,
        examples=tuple(examples),
    )


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
