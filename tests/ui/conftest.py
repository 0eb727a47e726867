"""One qasync loop for the whole UI test session, "already running", so async slots and tasks run
whenever qtbot spins Qt's event loop (waitSignal/waitUntil/wait).

Never stop the loop between tests: `qasync.QEventLoop.stop()` calls `QApplication.exit()`, which
makes every later `QEventLoop.exec()` return at once, so every later wait would time out.

The loop is the process's "running loop" only while a UI test runs: left running, it would make
every later `asyncio.run()` (the CLI, the API tests) refuse to start in the same pytest session.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

os.environ.setdefault(
    "QT_QPA_PLATFORM", "offscreen"
)  # before any QApplication; QT_QPA_PLATFORM=xcb still wins

import pytest
import qasync
from PySide6.QtWidgets import QApplication

# Qt platform chatter that says nothing about our code (the offscreen plugin cannot resize a
# dialog's native window to its size hints). Every other Qt warning still fails the test.
QT_NOISE = (r"This plugin does not support propagateSizeHints\(\)",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.qt_log_ignore(*QT_NOISE))


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Journal, settings and window state of every test in a temporary place, never the user's."""
    monkeypatch.setenv("AUDIENCE_MANAGER_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(autouse=True)
def _demo_accounts() -> Iterator[None]:
    """The demo accounts beside saved ones, composed as `app.main` composes them."""
    from audience_manager.app import demo_accounts
    from audience_manager.ui.accounts_dialog import provide_demo_accounts

    provide_demo_accounts(demo_accounts)
    yield
    provide_demo_accounts(None)


@pytest.fixture(scope="session")
def _qasync_loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    asyncio.events._set_running_loop(None)  # set per test by `qloop`
    yield loop
    asyncio.events._set_running_loop(loop)
    loop.stop()  # only at session end
    asyncio.events._set_running_loop(None)
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def qloop(_qasync_loop: asyncio.AbstractEventLoop, qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """The session loop; tasks a test leaves behind are cancelled and allowed to finish."""
    asyncio.events._set_running_loop(_qasync_loop)
    yield _qasync_loop
    pending = [t for t in asyncio.all_tasks(_qasync_loop) if not t.done()]
    for task in pending:
        task.cancel()
    for _ in range(100):
        if all(t.done() for t in pending):
            break
        qapp.processEvents()
    asyncio.events._set_running_loop(None)


@pytest.fixture
def sandbox() -> object:
    """A small seeded sandbox (fast to build) behind the demo accounts."""
    from audience_manager.sandbox.sandbox import Sandbox

    return Sandbox(subscribers=1000, contacts=300)


@pytest.fixture
def window(
    qtbot: object, qloop: asyncio.AbstractEventLoop, sandbox: object, tmp_path: object
) -> Iterator[object]:
    """The real main window on the demo workspace, catalog loaded, settings and journal in tmp."""
    from pathlib import Path

    from PySide6.QtCore import QSettings

    from audience_manager.app import open_demo
    from audience_manager.ui.main_window import MainWindow
    from audience_manager.ui.workspace import Workspace

    home = Path(str(tmp_path))
    workspace = Workspace(journal_path=home / "journal.sqlite3")
    settings = QSettings(str(home / "window.ini"), QSettings.Format.IniFormat)
    main = MainWindow(workspace, settings)
    qtbot.addWidget(main)  # type: ignore[attr-defined]
    main.show()
    open_demo(workspace, sandbox=sandbox)
    qtbot.waitUntil(lambda: bool(workspace.catalog) and not workspace.catalog_busy, timeout=5000)  # type: ignore[attr-defined]
    yield main
    if workspace.job_running:
        workspace.cancel_job()
        qtbot.waitUntil(lambda: not workspace.job_running, timeout=5000)  # type: ignore[attr-defined]
    closing = asyncio.ensure_future(workspace.aclose())
    qtbot.waitUntil(closing.done, timeout=5000)  # type: ignore[attr-defined]
