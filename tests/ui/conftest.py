"""One qasync loop for the whole UI test session, "already running", so async slots and tasks run
whenever qtbot spins Qt's event loop (waitSignal/waitUntil/wait).

Never stop the loop between tests: `qasync.QEventLoop.stop()` calls `QApplication.exit()`, which
makes every later `QEventLoop.exec()` return at once, so every later wait would time out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import qasync
from PySide6.QtWidgets import QApplication


@pytest.fixture(scope="session")
def _qasync_loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    loop.stop()  # only at session end
    asyncio.events._set_running_loop(None)
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def qloop(_qasync_loop: asyncio.AbstractEventLoop, qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """The session loop; tasks a test leaves behind are cancelled and allowed to finish."""
    yield _qasync_loop
    pending = [t for t in asyncio.all_tasks(_qasync_loop) if not t.done()]
    for task in pending:
        task.cancel()
    for _ in range(100):
        if all(t.done() for t in pending):
            break
        qapp.processEvents()
