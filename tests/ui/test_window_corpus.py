"""Every file of the bad-input corpus dropped on the real window (synthetic drag and drop events).

The window must show what the file reader finds, in the same numbers (valid, invalid, duplicate), or
the reader's own message; pytest-qt fails the test on any exception raised inside the Qt loop. One
window serves the whole module (building one per file would cost most of the time); each test drops
its file on it afresh. Each file records its row in tests/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from audience_manager.core.audience_file import AudienceFileError, read_audience
from tests import reliability

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
FILES = sorted(p.name for p in CORPUS.iterdir())


def _wait(app: QApplication, condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo window did not load its catalog")
        app.processEvents()
        time.sleep(0.005)


@pytest.fixture(scope="module")
def corpus_window(
    qapp: QApplication, _qasync_loop: asyncio.AbstractEventLoop, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    from PySide6.QtCore import QSettings

    from audience_manager.app import open_demo
    from audience_manager.sandbox.sandbox import Sandbox
    from audience_manager.ui.main_window import MainWindow
    from audience_manager.ui.workspace import Workspace

    home = tmp_path_factory.mktemp("corpus-window")
    workspace = Workspace(journal_path=home / "journal.sqlite3")
    main = MainWindow(workspace, QSettings(str(home / "window.ini"), QSettings.Format.IniFormat))
    main.show()
    asyncio.events._set_running_loop(_qasync_loop)  # as `qloop` does for one test
    open_demo(workspace, sandbox=Sandbox(subscribers=300, contacts=50))
    _wait(qapp, lambda: bool(workspace.catalog) and not workspace.catalog_busy)
    asyncio.events._set_running_loop(None)
    yield main
    asyncio.events._set_running_loop(_qasync_loop)
    closing = asyncio.ensure_future(workspace.aclose())
    _wait(qapp, closing.done)
    asyncio.events._set_running_loop(None)
    main.audience_panel.clear_action()
    main.close()
    main.deleteLater()
    # Deleted now, not at some later test's event processing: a timer of this window firing there
    # would find no running loop.
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qapp.processEvents()


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


@pytest.mark.parametrize("name", FILES)
def test_corpus_file_dropped_on_the_window(corpus_window: Any, qtbot: Any, qloop: Any, name: str) -> None:
    from .window_helpers import drop_files

    window = corpus_window
    panel = window.audience_panel
    panel.clear_action()
    path = CORPUS / name
    try:
        expected: Any = read_audience(path, accepted=panel.accepted)
    except AudienceFileError as exc:
        expected = exc

    # Every corpus file is taken, even one the reader cannot use: refusing the drop says nothing.
    assert drop_files(window.centralWidget(), [path]) == (True, True)
    qtbot.waitUntil(lambda: not panel.busy and panel.file_path == path, timeout=10_000)
    qtbot.waitUntil(lambda: panel.audience is not None or panel.notes_label.text() != "", timeout=10_000)
    counts = visible_text(panel.counts_label.text())
    notes = panel.notes_label.text()

    if isinstance(expected, AudienceFileError) and str(expected).startswith("Could not tell which column"):
        # The reader gives up on guessing; the window shows the file and asks for the column instead.
        assert panel.audience is None
        assert "Pick the column" in notes, notes
        offered = [panel.column_box.itemText(i) for i in range(panel.column_box.count())]
        assert all(heading in " ".join(offered) for heading in ("name", "city")), offered
        shown = notes
    elif isinstance(expected, AudienceFileError):
        assert panel.audience is None
        assert counts == "No subscribers yet."
        assert str(expected) in notes, notes
        assert "Traceback" not in notes
        shown = notes
    else:
        got = panel.audience
        assert [(r.row, r.identifier) for r in got.rows] == [(r.row, r.identifier) for r in expected.rows]
        assert len(got.invalid) == len(expected.invalid)
        assert len(got.duplicates) == len(expected.duplicates)
        assert f"{len(expected.rows):,} valid" in counts
        assert f"{len(expected.invalid):,} invalid" in counts
        assert f"{len(expected.duplicates):,} duplicate" in counts
        shown = re.sub(r"\s*\(show\)", "", counts)
    reliability.record("window-corpus", name, [name, shown])


def test_a_formula_in_a_dropped_file_stays_text_in_every_export(
    corpus_window: Any, qtbot: Any, qloop: Any, tmp_path: Path
) -> None:
    """garbage_lines.csv holds `=SUM(A1:A3)`: its row is skipped and reported as given, so the
    results export, the History export and Copy must all show it as text, not a formula."""
    import csv

    from PySide6.QtGui import QGuiApplication

    from audience_manager.core.actions import TargetKind

    from .window_helpers import drop_files

    window = corpus_window
    panel = window.audience_panel
    panel.clear_action()
    assert drop_files(window.centralWidget(), [CORPUS / "garbage_lines.csv"]) == (True, True)
    qtbot.waitUntil(lambda: panel.audience is not None and not panel.busy, timeout=10_000)
    tags = window.workspace.catalog[TargetKind.TAG][:1]
    window.catalog_panel.set_checked(TargetKind.TAG, {t.id for t in tags})
    dialog = window.run_action()
    assert dialog is not None, window.run_blocker()
    with qtbot.waitSignal(window.job_finished, timeout=10_000) as finished:
        dialog.run_button.click()
    job_id = finished.args[0]

    dangerous = ("=", "+", "-", "@")
    results = window.results_panel
    exported = tmp_path / "results.csv"
    with qtbot.waitSignal(results.report_exported, timeout=5000):
        results.export_to(exported)
    from_history = tmp_path / "history.csv"
    task = window.history_panel.export_job_to(job_id, from_history)
    assert task is not None
    qtbot.waitUntil(task.done, timeout=5000)
    for path in (exported, from_history):
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        assert "'=SUM(A1:A3)" in {r["identifier"] for r in rows}
        assert not any(r[c].startswith(dangerous) for r in rows for c in ("identifier", "target", "reason"))

    results.table.selectAll()
    QGuiApplication.clipboard().clear()
    results.copy_action()
    qtbot.waitUntil(lambda: "SUM" in QGuiApplication.clipboard().text(), timeout=5000)
    cells = [c for line in QGuiApplication.clipboard().text().splitlines() for c in line.split("\t")]
    assert "'=SUM(A1:A3)" in cells and not any(c.startswith(dangerous) for c in cells)
