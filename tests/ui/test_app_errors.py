"""An unhandled exception in a slot, an asyncio callback or a worker thread: logged with its
traceback (secrets masked) and shown in a dialog that does not block and says where the log is."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QPushButton, QWidget

from audience_manager.api.redaction import register_secret
from audience_manager.app import CrashReporter
from audience_manager.logs import log_file, setup_logging

SECRET = "sbx_secret_for_the_crash_test_0001"


@pytest.fixture
def log_path() -> Iterator[Path]:
    path = setup_logging(False)
    assert path is not None
    yield path
    setup_logging(False, to_file=False)  # closes and removes the file handler


@pytest.mark.qt_no_exception_capture
def test_errors_anywhere_are_logged_masked_and_shown_without_blocking(
    qtbot, qloop: asyncio.AbstractEventLoop, log_path: Path
) -> None:
    register_secret(SECRET)
    parent = QWidget()
    qtbot.addWidget(parent)
    reporter = CrashReporter(parent, qloop)
    saved = sys.excepthook, threading.excepthook, qloop.get_exception_handler()
    reporter.install()
    try:
        button = QPushButton(parent)

        def broken_slot() -> None:
            raise RuntimeError(f"the slot broke with token {SECRET}")

        button.clicked.connect(broken_slot)
        button.click()
        qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible(), timeout=3000)
        text = reporter.dialog.informativeText()
        assert "RuntimeError" in text and "the slot broke" in text
        assert SECRET not in text and str(log_path) in text
        # Being here at all shows the dialog did not block: `click()` returned with it open.

        def broken_callback() -> None:
            raise ZeroDivisionError("a task broke")

        qloop.call_soon(broken_callback)
        qtbot.waitUntil(lambda: reporter.count == 2, timeout=3000)

        def broken_thread() -> None:
            raise ValueError("a worker thread broke")

        worker = threading.Thread(target=broken_thread, name="worker-1")
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: reporter.count == 3, timeout=3000)
        assert "3 errors so far" in reporter.dialog.informativeText()
    finally:
        sys.excepthook, threading.excepthook = saved[0], saved[1]
        qloop.set_exception_handler(saved[2])
        if reporter.dialog is not None:
            reporter.dialog.done(0)
    assert log_file() == log_path
    logged = log_path.read_text(encoding="utf-8")
    assert "Unhandled error in the window" in logged and "RuntimeError: the slot broke" in logged
    assert "Traceback" in logged and "broken_slot" in logged
    assert "ZeroDivisionError: a task broke" in logged
    assert "worker-1" in logged and "ValueError: a worker thread broke" in logged
    assert SECRET not in logged and "[redacted]" in logged
