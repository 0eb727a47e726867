"""The audience panel on its own: big inputs go off the GUI thread, can be stopped, and say why."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from audience_manager.core.identifiers import IdentifierKind
from audience_manager.ui.audience_panel import INLINE_PARSE_LIMIT, AudiencePanel


@pytest.fixture
def panel(qtbot, qloop) -> AudiencePanel:
    widget = AudiencePanel()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def big_csv(folder: Path, rows: int) -> Path:
    path = folder / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("email,id\n")
        out.writelines(f"person{n}@example.com,{1000 + n}\n" for n in range(rows))
    return path


def test_a_big_file_reads_with_progress_and_can_be_stopped(panel: AudiencePanel, qtbot, tmp_path) -> None:
    path = big_csv(tmp_path, 400_000)
    task = panel.load_file(path)
    assert task is not None
    qtbot.waitUntil(lambda: panel._progress_row.isVisible(), timeout=5000)
    beat = time.monotonic()
    qtbot.wait(150)  # the GUI keeps answering while the worker reads
    assert time.monotonic() - beat < 1.0
    panel.cancel_button.click()
    qtbot.waitUntil(task.done, timeout=10000)
    assert panel.audience is None
    assert "stopped" in panel.notes_label.text()
    assert not panel._progress_row.isVisible()


def test_a_big_file_is_read_whole(panel: AudiencePanel, qtbot, tmp_path) -> None:
    path = big_csv(tmp_path, 50_000)
    task = panel.load_file(path)
    qtbot.waitUntil(task.done, timeout=15000)
    assert panel.audience is not None and len(panel.audience.rows) == 50_000
    assert panel.column_box.currentText() == "id"  # an id names one subscriber exactly; preferred
    assert "<b>50,000</b> valid" in panel.counts_label.text()


def test_choosing_another_column_reads_it(panel: AudiencePanel, qtbot, tmp_path) -> None:
    path = big_csv(tmp_path, 10)
    qtbot.waitUntil(panel.load_file(path).done, timeout=5000)
    assert panel.audience is not None and panel.audience.rows[0].identifier == "1000"
    panel.column_box.setCurrentIndex(0)
    panel.column_box.activated.emit(0)
    qtbot.waitUntil(lambda: panel.audience.rows[0].identifier == "person0@example.com", timeout=5000)
    assert {r.kind for r in panel.audience.rows} == {IdentifierKind.EMAIL}


def test_an_unreadable_file_says_what_to_do(panel: AudiencePanel, qtbot, tmp_path) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(bytes(range(256)) * 64)
    with qtbot.waitSignal(panel.parse_failed, timeout=5000) as failed:
        panel.load_file(path)
    assert failed.args[0]
    assert "photo.csv" in panel.notes_label.text()
    assert panel.audience is None


def test_a_big_paste_parses_off_the_gui_thread(panel: AudiencePanel, qtbot) -> None:
    text = "\n".join(str(1_000_000 + n) for n in range(INLINE_PARSE_LIMIT // 4))
    assert len(text) > INLINE_PARSE_LIMIT
    panel.paste_box.setPlainText(text)
    task = panel.reparse()
    assert task is not None  # went to a worker
    qtbot.waitUntil(task.done, timeout=5000)
    assert panel.audience is not None and len(panel.audience.rows) == INLINE_PARSE_LIMIT // 4


def test_accepted_identifiers_follow_the_account(panel: AudiencePanel) -> None:
    panel.paste_action("someone@example.com\n1204801")
    assert panel.audience is not None and len(panel.audience.rows) == 2
    panel.set_accepted(frozenset({IdentifierKind.CONTACT_ID}))
    assert panel.audience is not None and len(panel.audience.rows) == 0
    assert len(panel.audience.invalid) == 2


def test_clear_goes_back_to_an_empty_paste_box(panel: AudiencePanel, qtbot, tmp_path) -> None:
    qtbot.waitUntil(panel.load_file(big_csv(tmp_path, 3)).done, timeout=5000)
    assert panel.stack.currentIndex() == 1
    panel.clear_button.click()
    assert panel.stack.currentIndex() == 0 and panel.audience is None and panel.file_path is None
    assert panel.counts_label.text() == "No subscribers yet."


def test_a_huge_paste_is_kept_aside_not_laid_out(panel: AudiencePanel, qtbot) -> None:
    from PySide6.QtCore import QMimeData

    from audience_manager.ui.audience_panel import BIG_PASTE_CHARS, BIG_PASTE_SHOWN_LINES

    lines = [str(1_000_000 + n) for n in range(BIG_PASTE_CHARS // 7)]
    mime = QMimeData()
    mime.setText("\n".join(lines))
    panel.paste_box.insertFromMimeData(mime)  # what Ctrl+V in the box does
    shown = panel.paste_box.toPlainText().splitlines()
    assert len(shown) == BIG_PASTE_SHOWN_LINES + 1 and "more lines (not shown)" in shown[-1]
    assert panel.paste_box.isReadOnly()
    qtbot.waitUntil(lambda: panel.audience is not None and not panel.busy, timeout=10000)
    assert len(panel.audience.rows) == len(lines)
    panel.clear_action()
    assert not panel.paste_box.isReadOnly() and panel.paste_box.toPlainText() == ""
