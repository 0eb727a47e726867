"""Background work for the window: coroutines on the qasync loop and blocking calls in a worker.

asyncio keeps only weak references to tasks: a task nobody holds can be collected mid-way and its
work silently stops. Every part of the window that starts one goes through `Background`, which
holds each task until it ends, logs a failure with its traceback and hands its message to the
window (`on_error`) instead of losing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Background:
    """The tasks one owner (window, panel, dialog) started, until each ends."""

    def __init__(self, on_error: Callable[[str], None] | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.on_error = on_error

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task: asyncio.Task[T] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        log.error("background task failed", exc_info=exc)
        if self.on_error is not None:
            self.on_error(f"Something went wrong: {exc or type(exc).__name__}. The details are in the log.")

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def wait_all(self) -> None:
        """Cancel what still runs and wait for it to end (on close)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    def __len__(self) -> int:
        return len(self._tasks)


async def in_worker(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a worker thread: disk and journal work never runs on the GUI thread."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))
