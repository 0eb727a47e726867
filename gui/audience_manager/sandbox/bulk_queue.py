"""Kit's queued bulk work: >100-item requests are accepted with 202 and applied later, and all bulk
request data in flight shares one budget (300 MB per app and account in Kit; small in tests) past
which Kit answers 413.

The sandbox applies a queued job `hold_seconds` (clock time) after it arrived, checked on each
request, or at once on `drain(force=True)`. It never POSTs to `callback_url`: a desktop client has
no public URL, and the sandbox makes no outbound calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from audience_manager.sandbox.clock import Clock


@dataclass
class QueuedJob:
    due: float
    size: int
    apply: Callable[[], object]


@dataclass
class BulkQueue:
    clock: Clock
    budget_bytes: int = 300 * 1024 * 1024
    hold_seconds: float = 2.0
    jobs: list[QueuedJob] = field(default_factory=list)

    @property
    def queued_bytes(self) -> int:
        return sum(job.size for job in self.jobs)

    def drain(self, *, force: bool = False) -> int:
        """Applies due jobs (all of them with `force`); returns how many ran."""
        if not self.jobs:
            return 0
        now = self.clock()
        due = [job for job in self.jobs if force or job.due <= now]
        self.jobs = [job for job in self.jobs if job not in due]
        for job in due:
            job.apply()
        return len(due)

    def admits(self, size: int) -> bool:
        self.drain()
        return self.queued_bytes + size <= self.budget_bytes

    def enqueue(self, size: int, apply: Callable[[], object]) -> None:
        self.jobs.append(QueuedJob(self.clock() + self.hold_seconds, size, apply))
