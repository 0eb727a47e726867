"""Picking a job up where it stopped: after a crash, a kill, or a Cancel.

A resume continues the same job (same id, one report): the pairs that already have an outcome are
left alone (`Runner(done=...)`), everything else is sent. Pairs whose request went out but whose
answer never arrived (the batches in flight at the crash) are sent again; that is safe because every
action we send is idempotent (tagging a tagged subscriber, adding a form member again, untagging an
untagged one and writing the same field value change nothing), so the worst a crash costs is one
batch per request that was in flight.
"""

from __future__ import annotations

from dataclasses import dataclass

from audience_manager.core.accounts import Account
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.planning import job_targets
from audience_manager.jobs.events import JobState
from audience_manager.jobs.journal import LIVE_STATES, Journal

RESUMABLE_STATES = (JobState.INTERRUPTED, JobState.CANCELLED, *LIVE_STATES)


class CannotResumeError(Exception):
    """The job cannot be resumed; the message says why and what to do instead."""


@dataclass(frozen=True)
class ResumePlan:
    job_id: str
    spec: JobSpec
    account: Account  # no secrets: find the credentials by its name
    done: frozenset[tuple[int, str]]  # pass to Runner(done=...)
    in_flight: int  # pairs sent with no answer recorded: they go out again
    remaining: int  # pairs the resume will give an outcome

    def summary(self) -> str:
        again = f", {self.in_flight} of them sent again (they were in flight)" if self.in_flight else ""
        return f"Resuming job {self.job_id}: {self.remaining} rows x targets left{again}."


def resume_plan(journal: Journal, job_id: str) -> ResumePlan:
    """What resuming `job_id` will do. Raises `CannotResumeError` for a finished or running job."""
    journal.interrupted_jobs()  # turns a dead process's live job into INTERRUPTED
    record = journal.job(job_id)
    if record.state not in RESUMABLE_STATES:
        if record.state is JobState.FAILED:
            raise CannotResumeError(
                f"Job {job_id} stopped with an error ({record.reason or 'see its report'}); its unsent "
                "rows already failed. Use retry to send them again."
            )
        raise CannotResumeError(f"Job {job_id} has finished; nothing to resume. Use retry for failed rows.")
    if record.state in LIVE_STATES and record.started_at is not None:
        raise CannotResumeError(f"Job {job_id} is still running in another window or process.")
    spec = journal.spec(job_id)
    done_pairs, sent_unanswered = journal.resume_state(job_id)
    done = frozenset(done_pairs)
    pairs = {(r, t.id) for r in _all_rows(spec) for t in job_targets(spec)}
    remaining = len(pairs - done)
    if remaining == 0:
        raise CannotResumeError(f"Every row of job {job_id} already has an outcome; nothing to resume.")
    in_flight = len(sent_unanswered - done)
    return ResumePlan(
        job_id=job_id,
        spec=spec,
        account=journal.account(job_id),
        done=done,
        in_flight=in_flight,
        remaining=remaining,
    )


def _all_rows(spec: JobSpec) -> list[int]:
    a = spec.audience
    return [r.row for r in a.rows] + [p.row for p in (*a.invalid, *a.duplicates)]
