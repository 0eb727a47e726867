"""Retrying a job's failed rows as a new job, linked to the first (parent id, kind "retry").

The retry keeps each row's original row number, so its report lines up with the input file. Rows
are sent to every target that failed for any of them; a row that had already succeeded on one of
those targets comes back "unchanged" (every action is idempotent), never applied twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from audience_manager.core.actions import Target
from audience_manager.core.audience import Audience
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome
from audience_manager.core.planning import ALL_TAGS
from audience_manager.jobs.journal import KIND_RETRY, Journal

# Reasons a retry will most likely fix, for "only rate limits and server errors". Matched as
# case-insensitive substrings of the recorded reason.
TRANSIENT_REASONS = (
    "429",
    "rate limit",
    "retry later",
    "timed out",
    "timeout",
    "server",
    "HTTP 5",
    "connect",
)


class NothingToRetryError(Exception):
    """No failed row matched; the message says so in the user's words."""


@dataclass(frozen=True)
class RetryPlan:
    parent_id: str
    spec: JobSpec
    rows: int  # input rows in the retry
    kind: str = KIND_RETRY
    left_out: int = 0  # failed rows not retried: they cannot succeed (the subscriber does not exist)

    @property
    def notes(self) -> tuple[str, ...]:
        if not self.left_out:
            return ()
        rows = "row" if self.left_out == 1 else "rows"
        return (
            f"{self.left_out:,} failed {rows} left out: the platform said the subscriber does not exist,"
            " so sending again cannot succeed.",
        )

    def summary(self) -> str:
        targets = ", ".join(str(t) for t in self.spec.targets) or "all tags"
        rows = "row" if self.rows == 1 else "rows"
        action = self.spec.action.label
        head = f"Retry of job {self.parent_id}: {self.rows:,} failed {rows}, {action}: {targets}."
        return " ".join((head, *self.notes))


def retry_spec(
    journal: Journal,
    job_id: str,
    *,
    reasons: Iterable[str] = (),
    rows: Iterable[int] | None = None,
    leave_out: Callable[[str], bool] | None = None,
) -> RetryPlan:
    """The failed rows of `job_id` as a new job. With `reasons`, only rows whose failure reason
    contains one of them (case-insensitive); with `rows`, only those input rows; rows whose reason
    `leave_out` accepts are not retried and counted in `left_out`. Create it with
    `journal.create_job(plan.spec, account, parent_id=plan.parent_id, kind=plan.kind)`."""
    wanted = [r.lower() for r in reasons if r.strip()]
    chosen = None if rows is None else set(rows)
    original = journal.spec(job_id)
    failed_rows: set[int] = set()
    failed_targets: set[str] = set()
    hopeless: set[int] = set()
    for record in journal.outcome_records(job_id).values():
        if record.outcome is not Outcome.FAILED:
            continue
        if wanted and not any(w in record.reason.lower() for w in wanted):
            continue
        if chosen is not None and record.row not in chosen:
            continue
        if leave_out is not None and leave_out(record.reason):
            hopeless.add(record.row)
            continue
        failed_rows.add(record.row)
        failed_targets.add(record.target_id)
    sendable = {r.row for r in original.audience.rows}
    failed_rows &= sendable  # invalid and duplicate rows never fail (they are skipped)
    hopeless = (hopeless & sendable) - failed_rows
    if not failed_rows:
        which = f" with a reason containing {', '.join(repr(w) for w in wanted)}" if wanted else ""
        why = (
            f" that can succeed ({len(hopeless):,} failed because the subscriber does not exist)"
            if hopeless
            else ""
        )
        raise NothingToRetryError(f"Job {job_id} has no failed rows{which}{why}.")
    targets: tuple[Target, ...] = tuple(t for t in original.targets if t.id in failed_targets)
    if not targets and ALL_TAGS.id not in failed_targets:
        targets = original.targets
    audience: Audience = original.audience.subset(failed_rows)
    audience = replace(audience, source=f"failed rows of job {job_id} ({original.audience.source})")
    spec = replace(original, targets=targets, audience=audience)
    return RetryPlan(parent_id=job_id, spec=spec, rows=len(failed_rows), left_out=len(hopeless))
