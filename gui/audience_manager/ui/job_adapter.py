"""Runs a job's event stream on the qasync loop and re-emits each event as a Qt signal.

The runner knows nothing of Qt; widgets know nothing of asyncio. This adapter is the only place
the two meet, so results travel up as values (signals carrying events), never as callbacks into
widgets. It keeps the task it starts: asyncio holds only weak references to tasks, and a task that
is garbage-collected mid-job would silently stop the job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from PySide6.QtCore import QObject, Signal

from audience_manager.jobs.events import JobFinished, JobStarted, JobState, OutcomesReady, Progress

log = logging.getLogger(__name__)


class RunnableJob(Protocol):
    """What the adapter needs from `jobs.runner.Runner`."""

    def events(self) -> AsyncIterator[object]: ...

    def cancel(self) -> None: ...


class JobAdapter(QObject):
    """One job at a time: `start(runner)` runs it; the signals report it; `cancel()` asks it to stop."""

    job_started = Signal(str, int)  # job id, outcomes expected
    outcomes_ready = Signal(list)  # list[RowOutcome], one batch
    progressed = Signal(object)  # jobs.events.Progress
    job_finished = Signal(str, str, str)  # job id, JobState value, reason in the user's words

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner: RunnableJob | None = None
        self._task: asyncio.Task[None] | None = None
        self._job_id = ""

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    @property
    def job_id(self) -> str:
        return self._job_id

    def start(self, runner: RunnableJob) -> asyncio.Task[None]:
        """Start consuming the runner's events on the running (qasync) loop."""
        if self.running:
            raise RuntimeError("A job is already running; cancel it or wait for it to finish.")
        self._runner = runner
        self._job_id = ""
        self._task = asyncio.ensure_future(self._consume(runner))
        return self._task

    def cancel(self) -> None:
        """Ask the runner to stop; it finishes the batch in flight and reports the rest as cancelled."""
        if self._runner is not None and self.running:
            self._runner.cancel()

    async def _consume(self, runner: RunnableJob) -> None:
        finished = False
        try:
            async for event in runner.events():
                if isinstance(event, OutcomesReady):
                    self.outcomes_ready.emit(list(event.outcomes))
                elif isinstance(event, Progress):
                    self.progressed.emit(event)
                elif isinstance(event, JobStarted):
                    self._job_id = event.job_id
                    self.job_started.emit(event.job_id, event.total)
                elif isinstance(event, JobFinished):
                    finished = True
                    self.job_finished.emit(event.job_id, str(event.state), event.reason)
                else:
                    log.warning("Ignored an unknown job event: %r", type(event).__name__)
        except asyncio.CancelledError:
            # The task itself was cancelled (window closing): the job did not finish on its own.
            if not finished:
                finished = True
                self.job_finished.emit(self._job_id, str(JobState.CANCELLED), self.tr("The job was stopped."))
            raise
        except Exception as exc:  # any runner bug must end the job visibly, not vanish
            log.exception("The job %s stopped with an error", self._job_id or "(not started)")
            if not finished:
                finished = True
                self.job_finished.emit(self._job_id, str(JobState.FAILED), _describe(exc))
        else:
            if not finished:
                self.job_finished.emit(
                    self._job_id,
                    str(JobState.FAILED),
                    self.tr("The job ended without reporting how it finished."),
                )
        finally:
            self._runner = None


def _describe(exc: BaseException) -> str:
    """A message the user can read, naming the error type when the text alone would be empty."""
    text = str(exc).strip()
    kind = type(exc).__name__
    if not text:
        return f"The job stopped because of an internal error ({kind})."
    return f"The job stopped because of an error: {text} ({kind})."
