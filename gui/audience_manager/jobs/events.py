"""What a running job reports, as plain values: the GUI adapts them to Qt signals, the CLI prints them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from audience_manager.core.outcomes import RowOutcome


class JobState(enum.StrEnum):
    PENDING = "pending"
    RESOLVING = "resolving"  # looking emails up before any write
    RUNNING = "running"
    FINISHED = "finished"  # every row has an outcome (some may have failed)
    CANCELLED = "cancelled"
    FAILED = "failed"  # stopped early (authentication, connection); unsent rows failed with the reason
    INTERRUPTED = "interrupted"  # the process died mid-job; the journal can resume it


@dataclass(frozen=True)
class JobStarted:
    job_id: str
    total: int  # outcomes the job will produce (rows x targets, plus skipped rows)


@dataclass(frozen=True)
class OutcomesReady:
    outcomes: list[RowOutcome]


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    succeeded: int
    unchanged: int
    failed: int
    skipped: int
    rows_per_second: float
    seconds_left: float | None
    state: JobState
    # The same progress in people (input rows): `done`/`total` count row x target outcomes.
    people_done: int = 0
    people_total: int = 0
    # While emails are resolved (state RESOLVING): how far the reading got, in `resolve_unit`
    # ("subscribers"/"contacts" read from the account, or "emails" looked up), of `resolve_total`.
    resolved: int = 0
    resolve_total: int | None = None
    resolve_unit: str = ""
    resolve_per_second: float = 0.0
    resolve_seconds_left: float | None = None


@dataclass(frozen=True)
class JobFinished:
    job_id: str
    state: JobState
    reason: str = ""  # why it stopped early, in the user's words


JobEvent = JobStarted | OutcomesReady | Progress | JobFinished
