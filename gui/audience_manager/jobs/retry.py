"""Retrying a job's failed rows as a new job, linked to the first (parent id, kind "retry").

The retry keeps each row's original row number, so its report lines up with the input file. Rows
are sent to every target that failed for any of them; a row that had already succeeded on one of
those targets comes back "unchanged" (every action is idempotent), never applied twice.
"""

from __future__ import annotations

from collections.abc import Iterable
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

    def summary(self) -> str:
        targets = ", ".join(str(t) for t in self.spec.targets) or "all tags"
        return f"Retry of job {self.parent_id}: {self.rows} failed rows, {self.spec.action.label}: {targets}."


def retry_spec(journal: Journal, job_id: str, *, reasons: Iterable[str] = ()) -> RetryPlan:
    """The failed rows of `job_id` as a new job. With `reasons`, only rows whose failure reason
    contains one of them (case-insensitive). Create it with
    `journal.create_job(plan.spec, account, parent_id=plan.parent_id, kind=plan.kind)`."""
    wanted = [r.lower() for r in reasons if r.strip()]
    original = journal.spec(job_id)
    failed_rows: set[int] = set()
    failed_targets: set[str] = set()
    for record in journal.outcome_records(job_id).values():
        if record.outcome is not Outcome.FAILED:
            continue
        if wanted and not any(w in record.reason.lower() for w in wanted):
            continue
        failed_rows.add(record.row)
        failed_targets.add(record.target_id)
    sendable = {r.row for r in original.audience.rows}
    failed_rows &= sendable  # invalid and duplicate rows never fail (they are skipped)
    if not failed_rows:
        which = f" with a reason containing {', '.join(repr(w) for w in wanted)}" if wanted else ""
        raise NothingToRetryError(f"Job {job_id} has no failed rows{which}.")
    targets: tuple[Target, ...] = tuple(t for t in original.targets if t.id in failed_targets)
    if not targets and ALL_TAGS.id not in failed_targets:
        targets = original.targets
    audience: Audience = original.audience.subset(failed_rows)
    audience = replace(audience, source=f"failed rows of job {job_id} ({original.audience.source})")
    spec = replace(original, targets=targets, audience=audience)
    return RetryPlan(parent_id=job_id, spec=spec, rows=len(failed_rows))
