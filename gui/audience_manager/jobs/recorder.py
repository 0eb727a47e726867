"""What the runner tells the journal, as a protocol so the runner can be tested without SQLite.

The order is the crash-safety contract: a batch is marked sent before its request goes out, and its
results are recorded when the response arrives. The job's lock is taken by `job_started` (it
raises when another live process runs the job). After a crash, rows marked sent without a result are
the batch that was in flight: all our actions are idempotent (tagging a tagged subscriber, adding a
form member again, writing the same field value), so sending them again is safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from audience_manager.core.outcomes import RowOutcome
from audience_manager.core.work import ItemResult, WorkItem
from audience_manager.jobs.events import JobState


class JobRecorder(Protocol):
    def job_started(self, job_id: str) -> None: ...

    def batch_sent(
        self,
        job_id: str,
        items: Sequence[WorkItem],
        before: Mapping[tuple[int, str], str | None] | None = None,
    ) -> None:
        """Before the request goes out; `before` is each (row, target id)'s state before the write,
        when the platform could read it (what undo restores even if the answer is lost)."""
        ...

    def results_received(self, job_id: str, results: Sequence[ItemResult]) -> None: ...

    def outcomes_without_request(self, job_id: str, outcomes: Sequence[RowOutcome]) -> None:
        """Rows that end without a write: invalid, duplicate, not found, cancelled."""
        ...

    def job_ended(self, job_id: str, state: JobState, reason: str) -> None: ...
