"""Every job workflow, once: start, resume, retry, undo, "can it be undone", preview into a run.

The window and the CLI only call these and render what they yield; neither plans a retry or
sequences an undo itself. Each workflow records the job in the journal before its first request,
so a crash at any point can be resumed, retried or undone from the journal alone.

Disk work here is synchronous (SQLite): the window calls the functions that touch the journal in an
executor, the CLI calls them directly.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from audience_manager.api.platform import Platform
from audience_manager.api.resolution import ResolutionPlan
from audience_manager.core.accounts import Account
from audience_manager.core.audience import Problem
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.core.planning import needs_resolving
from audience_manager.core.platforms import Capabilities
from audience_manager.jobs.directory import Directory
from audience_manager.jobs.events import JobEvent, JobFinished, JobStarted, JobState, OutcomesReady
from audience_manager.jobs.history import job_outcomes
from audience_manager.jobs.journal import KIND_RETRY, KIND_RUN, KIND_UNDO, Journal
from audience_manager.jobs.preview import PreviewReport, preview, price_resolution
from audience_manager.jobs.resume import ResumePlan, resume_plan
from audience_manager.jobs.retry import NothingToRetryError, RetryPlan, retry_spec
from audience_manager.jobs.runner import Runner
from audience_manager.jobs.undo import UndoPlan, undo_spec

__all__ = [
    "KIND_RETRY",
    "KIND_RUN",
    "KIND_UNDO",
    "JobRun",
    "NothingToRetryError",
    "never_succeeds",
    "prepare_resume",
    "preview_job",
    "resolution_cost",
    "resolves_emails",
    "resume_job",
    "retry_plan",
    "start_job",
    "undo_plan",
    "undo_runs",
    "with_preview",
]

# Failure reasons that a retry cannot fix: the platform said the subscriber is not there. Matched
# case-insensitively as substrings of the recorded reason, whatever the platform's own words.
NOT_THERE = ("does not exist", "not found", "no subscriber with", "no contact with")


def never_succeeds(reason: str) -> bool:
    """Whether a failure's reason says the subscriber does not exist, so sending again cannot help."""
    text = reason.casefold()
    return any(words in text for words in NOT_THERE)


@dataclass
class JobRun:
    """A job that has been recorded and is ready to run: iterate `events()` once, `cancel()` any time.

    A resumed job's earlier outcomes come right after `JobStarted`, so whoever renders the events
    ends with the whole job, not only the rows sent this time."""

    job_id: str
    spec: JobSpec
    kind: str
    parent_id: str | None
    runner: Runner
    earlier: list[RowOutcome] = field(default_factory=list)
    state: JobState = JobState.PENDING
    reason: str = ""

    async def events(self) -> AsyncIterator[JobEvent]:
        async for event in self.runner.events():
            yield event
            if isinstance(event, JobStarted) and self.earlier:
                yield OutcomesReady(outcomes=list(self.earlier))
            if isinstance(event, JobFinished):
                self.state, self.reason = event.state, event.reason

    def cancel(self) -> None:
        self.runner.cancel()

    def outcomes(self) -> list[RowOutcome]:
        """Every outcome of the job so far: the earlier starts' and this one's."""
        return [*self.earlier, *self.runner.outcomes()]


def start_job(
    journal: Journal | None,
    platform: Platform,
    account: Account,
    spec: JobSpec,
    *,
    parent_id: str | None = None,
    kind: str = KIND_RUN,
    **runner_options: Any,
) -> JobRun:
    """Record `spec` as a new job (its audience included), then make its runner. With no journal
    (a demo without a data folder) the job still runs, but cannot be resumed or undone later."""
    job_id = journal.create_job(spec, account, parent_id=parent_id, kind=kind) if journal else None
    runner = Runner(platform, spec, recorder=journal, job_id=job_id, **runner_options)
    return JobRun(runner.job_id, spec, kind, parent_id, runner)


def prepare_resume(journal: Journal, job_id: str) -> tuple[ResumePlan, list[RowOutcome]]:
    """What resuming `job_id` will do, and the outcomes its earlier starts already gave (cancelled
    rows excluded: they go out again). Raises `CannotResumeError` saying why not."""
    plan = resume_plan(journal, job_id)
    earlier = [o for o in job_outcomes(journal, plan.job_id) if o.outcome is not Outcome.CANCELLED]
    return plan, earlier


def resume_job(
    journal: Journal,
    platform: Platform,
    plan: ResumePlan,
    earlier: list[RowOutcome],
    **runner_options: Any,
) -> JobRun:
    """Finish an interrupted job under its own id: only the pairs without an outcome are sent."""
    runner = Runner(
        platform, plan.spec, recorder=journal, job_id=plan.job_id, done=plan.done, **runner_options
    )
    record = journal.job(plan.job_id)
    return JobRun(plan.job_id, plan.spec, record.kind, record.parent_id, runner, earlier=list(earlier))


def retry_plan(
    journal: Journal, job_id: str, *, reasons: Iterable[str] = (), rows: Iterable[int] | None = None
) -> RetryPlan:
    """The failed rows of `job_id` (only those with one of `reasons`, or among `rows`, when given) as
    a new job. Rows that failed because the subscriber does not exist are left out, and the plan's
    notes say how many: sending them again cannot succeed."""
    return retry_spec(journal, job_id, reasons=reasons, rows=rows, leave_out=never_succeeds)


def undo_plan(journal: Journal, job_id: str) -> UndoPlan:
    """The jobs that put back what `job_id` changed, or why it cannot be undone (`impossible_reason`)."""
    return undo_spec(journal, job_id)


async def undo_runs(
    journal: Journal, platform: Platform, account: Account, plan: UndoPlan, **runner_options: Any
) -> AsyncIterator[JobRun]:
    """Each undo job of `plan` in order, the next one only once the caller has run the previous one
    to its end (iterated its events); stops after a job that failed (the platform is down or the
    credential was refused: the next one would fail the same way)."""
    for spec in plan.specs:
        run = start_job(
            journal, platform, account, spec, parent_id=plan.job_id, kind=plan.kind, **runner_options
        )
        yield run
        if run.state is JobState.FAILED:
            return


@contextlib.contextmanager
def _directory(journal: Journal | None, account: Account) -> Iterator[Directory | None]:
    directory = Directory(journal.path, account) if journal is not None else None
    try:
        yield directory
    finally:
        if directory is not None:
            directory.close()


async def preview_job(
    journal: Journal | None, platform: Platform, account: Account, spec: JobSpec
) -> PreviewReport:
    """The preview of `spec`, using and filling the account's directory of looked-up emails as the
    run will (so the preview's cost is the run's)."""
    with _directory(journal, account) as directory:
        return await preview(platform, spec, directory=directory)


def resolves_emails(spec: JobSpec, capabilities: Capabilities) -> bool:
    """Whether the run has emails to look up before writing (the platform writes ids)."""
    return any(needs_resolving(r, capabilities, spec.action) for r in spec.audience.rows)


async def resolution_cost(
    journal: Journal | None, platform: Platform, account: Account, spec: JobSpec
) -> ResolutionPlan | None:
    """How the run will resolve the audience's emails and what it costs in requests, for the
    confirmation when no preview was made (None: nothing to resolve)."""
    with _directory(journal, account) as directory:
        return (await price_resolution(platform, spec, directory))[1]


def with_preview(spec: JobSpec, report: PreviewReport | None) -> JobSpec:
    """The job as the preview found it: rows the platform said do not exist are not sent, and end
    skipped with that reason (the confirmation and the results then give the preview's numbers)."""
    if report is None or not report.not_found_rows or spec.create_missing:
        return spec  # creating the missing people: the rows not found are sent, to be created
    missing = report.not_found_rows
    audience = spec.audience
    gone = [Problem(r.row, r.identifier, report.not_found_reason) for r in audience.rows if r.row in missing]
    if not gone:
        return spec
    kept = [r for r in audience.rows if r.row not in missing]
    invalid = sorted([*audience.invalid, *gone], key=lambda p: p.row)
    return replace(spec, audience=replace(audience, rows=kept, invalid=invalid))
