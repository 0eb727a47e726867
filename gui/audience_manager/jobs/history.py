"""Past jobs, for the History view and `jobs list`: filter them, reopen one's outcomes, forget old ones.

Every function takes the `Journal` and reads through this thread's own connection, so the GUI can
run them in an executor while a job writes on the event loop (WAL readers never wait for a writer).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from audience_manager.core.actions import Action
from audience_manager.core.outcomes import Outcome, RowOutcome, person_outcome
from audience_manager.core.planning import job_targets, target_label
from audience_manager.jobs.events import JobState
from audience_manager.jobs.journal import _JOB_COLUMNS, JobRecord, Journal, job_record


@dataclass(frozen=True)
class JobFilter:
    """Which past jobs to show. Empty fields match everything; `since`/`until` are epoch seconds."""

    account: str | None = None
    action: Action | None = None
    state: JobState | None = None
    since: float | None = None
    until: float | None = None
    limit: int | None = None


def list_jobs(journal: Journal, where: JobFilter | None = None) -> list[JobRecord]:
    """Matching jobs, newest first."""
    where = where or JobFilter()
    clauses: list[str] = []
    params: list[object] = []
    if where.account:
        clauses.append("account = ?")
        params.append(where.account)
    if where.action is not None:
        clauses.append("action = ?")
        params.append(str(where.action))
    if where.state is not None:
        clauses.append("state = ?")
        params.append(str(where.state))
    if where.since is not None:
        clauses.append("created_at >= ?")
        params.append(where.since)
    if where.until is not None:
        clauses.append("created_at < ?")
        params.append(where.until)
    sql = f"SELECT {_JOB_COLUMNS} FROM jobs"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY created_at DESC, rowid DESC"
    if where.limit is not None:
        sql += " LIMIT ?"
        params.append(where.limit)
    return [job_record(r) for r in journal.read().execute(sql, params)]


def job_outcomes(journal: Journal, job_id: str) -> list[RowOutcome]:
    """The job's recorded outcomes in input order, then target order: the same rows and columns as
    the results table and `apply --report` (feed them to `core.report.write_report`).

    A job that never finished has fewer outcomes than rows; `missing_rows` counts the difference.
    """
    return list(iter_job_outcomes(journal, job_id))


def iter_job_outcomes(journal: Journal, job_id: str) -> Iterator[RowOutcome]:
    spec_targets = job_targets(journal.spec_header(job_id))
    order = {t.id: k for k, t in enumerate(spec_targets)}
    labels = {t.id: target_label(t) for t in spec_targets}
    identifiers: dict[int, str] = dict(
        journal.read().execute("SELECT row, identifier FROM audience WHERE job_id=?", (job_id,)).fetchall()
    )
    records = journal.outcome_records(job_id)
    for (row, target_id), r in sorted(records.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 0))):
        identifier = identifiers.get(row, r.subject or "")
        yield RowOutcome(
            row, identifier, labels.get(target_id, target_id), r.outcome, r.reason, target_id=target_id
        )


def missing_rows(journal: Journal, job_id: str) -> int:
    """Row x target pairs of the job with no outcome yet (an interrupted job)."""
    record = journal.job(job_id)
    return max(0, record.total - len(journal.outcome_records(job_id)))


def children(journal: Journal, job_id: str) -> list[JobRecord]:
    """Retries and undos made from this job, oldest first."""
    rows = journal.read().execute(
        f"SELECT {_JOB_COLUMNS} FROM jobs WHERE parent_id=? ORDER BY created_at", (job_id,)
    )
    return [job_record(r) for r in rows]


def delete_jobs_before(journal: Journal, before: float) -> int:
    """Forget jobs created before `before` (epoch seconds) that are not running. Returns how many."""
    ids = [
        str(r[0])
        for r in journal.read().execute(
            "SELECT id FROM jobs WHERE created_at < ? AND state NOT IN (?,?,?)",
            (before, str(JobState.PENDING), str(JobState.RESOLVING), str(JobState.RUNNING)),
        )
    ]
    return journal.delete_jobs(ids)


def delete_jobs_older_than(journal: Journal, days: float) -> int:
    return delete_jobs_before(journal, time.time() - days * 86400)


def describe(record: JobRecord) -> str:
    """One line for `jobs list`, its id first so scripts can cut it."""
    when = datetime.fromtimestamp(record.created_at).strftime("%Y-%m-%d %H:%M")
    what = record.action.label
    if record.value is not None:
        what += f" = {record.value!r}"
    targets = record.target_names or "all tags"
    counts = (
        f"{record.succeeded} succeeded, {record.unchanged} unchanged, {record.failed} failed,"
        f" {record.skipped} skipped"
    )
    if record.cancelled:
        counts += f", {record.cancelled} cancelled"
    kind = "" if record.kind == "run" else f" [{record.kind} of {record.parent_id}]"
    return (
        f"{record.id}  {when}  {record.state:<11}  {record.account} ({record.platform})  {what}: {targets}"
        f"  {record.total} rows: {counts}{kind}"
    )


def people_counts(journal: Journal, record: JobRecord) -> dict[Outcome, int]:
    """How many people (input rows) ended in each outcome, one outcome each (`person_outcome`).

    A job with one target counts the same either way and is answered from its record; one with
    several targets reads its outcomes (in a worker thread: the History view calls it there)."""
    if len(record.targets) <= 1:
        return {
            Outcome.SUCCEEDED: record.succeeded,
            Outcome.UNCHANGED: record.unchanged,
            Outcome.FAILED: record.failed,
            Outcome.SKIPPED: record.skipped,
            Outcome.CANCELLED: record.cancelled,
        }
    by_row: dict[int, list[Outcome]] = {}
    for (row, _target), outcome in journal.outcome_records(record.id).items():
        by_row.setdefault(row, []).append(outcome.outcome)
    counts = dict.fromkeys(Outcome, 0)
    for outcomes in by_row.values():
        counts[person_outcome(outcomes)] += 1
    return counts
