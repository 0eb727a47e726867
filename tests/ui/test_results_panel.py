"""The results panel: live progress, filters, copy, export, retry and undo, driven like a user would."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience
from audience_manager.core.durations import format_duration as duration_text
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.jobs.events import JobState, Progress
from audience_manager.jobs.session import SessionState, ShownJob, controls
from audience_manager.ui.results_panel import ResultsPanel, outcomes_as_tsv

SPEC = JobSpec("shop", Action.TAG, (Target(TargetKind.TAG, "1", "VIP"),), Audience())


def shown(panel: ResultsPanel, job_id: str = "job-7", **changes: object) -> None:
    """What the window does: derive the panel's controls from the session state it holds."""
    job = ShownJob(job_id, SPEC, account="shop", **changes)  # type: ignore[arg-type]
    state = SessionState(account="shop", job=job, busy=job.running)
    panel.show_state(job, controls(state))

FAILED_ROWS = {3, 7, 13, 17}


def outcomes(start: int, n: int) -> list[RowOutcome]:
    out = []
    for row in range(start, start + n):
        if row in FAILED_ROWS:
            reason = "Subscriber not found" if row % 10 == 3 else "Rate limited, gave up after 5 tries"
            out.append(RowOutcome(row, f"=cmd|{row}", "VIP", Outcome.FAILED, reason, target_id="1"))
        elif row == 19:
            out.append(RowOutcome(row, "bad", "VIP", Outcome.SKIPPED, "Not an email address", target_id="1"))
        else:
            out.append(RowOutcome(row, f"{row}@example.com", "VIP", Outcome.SUCCEEDED, target_id="1"))
    return out


def progress(done: int, total: int = 20, failed: int = 0) -> Progress:
    return Progress(done, total, done - failed, 0, failed, 0, 12.4, 5.0, JobState.RUNNING, done, total)


@pytest.fixture
def panel(qtbot) -> ResultsPanel:
    widget = ResultsPanel()
    qtbot.addWidget(widget)
    widget.resize(900, 500)
    widget.show()
    return widget


def run_job(panel: ResultsPanel) -> None:
    shown(panel, running=True)
    panel.job_started_event("job-7", 20)
    panel.outcomes_event(outcomes(1, 10))
    panel.progress_event(progress(10, failed=2))
    panel.outcomes_event(outcomes(11, 10))
    panel.progress_event(progress(20, failed=4))
    panel.job_finished_event("job-7", "finished", "")
    shown(panel, state="finished", failed=4, retryable=2)


def test_a_running_job_shows_progress_and_can_be_cancelled(panel: ResultsPanel, qtbot) -> None:
    shown(panel, running=True)
    panel.job_started_event("job-7", 20)
    assert panel.cancel_button.isEnabled()
    assert not panel.retry_button.isEnabled()
    panel.outcomes_event(outcomes(1, 10))
    panel.progress_event(progress(10, failed=2))
    assert panel.table.model().rowCount() == 10
    assert panel.export_button.isEnabled()  # a partial report is allowed
    assert not panel.retry_button.isEnabled()  # but no retry while the job runs
    assert panel.progress_bar.value() == 10 and panel.progress_bar.maximum() == 20
    assert "10 of 20 people" in panel.progress_bar.text() and "2 failed" in panel.progress_bar.text()
    assert panel.rate_label.text() == "12 rows/s, 5 s left"  # the CLI's words (jobs.progress_text)
    assert "up to 5 s" in panel.cancel_button.toolTip()  # says how long cancelling may wait
    with qtbot.waitSignal(panel.cancel_requested, timeout=1000):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    shown(panel, running=True, cancelling=True)  # the window's answer to the request
    assert not panel.cancel_button.isEnabled()
    assert panel.cancel_button.text() == "Cancelling…"


def test_finished_job_shows_a_summary(panel: ResultsPanel) -> None:
    run_job(panel)
    assert panel.summary_label.text().startswith("15 succeeded · 4 failed · 1 skipped in ")
    assert panel.progress_bar.text() == "Finished"
    assert not panel.cancel_button.isEnabled()
    assert panel.retry_button.isEnabled()
    assert not panel.undo_button.isEnabled()


def test_big_counts_are_grouped(panel: ResultsPanel) -> None:
    panel.job_started_event("job-8", 10_000)
    panel.outcomes_event(
        [RowOutcome(r, str(r), "VIP", Outcome.SUCCEEDED, target_id="1") for r in range(1, 9901)]
    )
    panel.outcomes_event(
        [RowOutcome(r, str(r), "VIP", Outcome.FAILED, "x", target_id="1") for r in range(9901, 10001)]
    )
    panel.job_finished_event("job-8", "finished", "")
    assert panel.summary_label.text().startswith("9,900 succeeded · 100 failed · 0 skipped in ")
    assert duration_text(12.2) == "12 s" and duration_text(184) == "3 min 04 s"


def test_filter_by_outcome_and_by_reason(panel: ResultsPanel) -> None:
    run_job(panel)
    panel.outcome_combo.setCurrentIndex(panel.outcome_combo.findData("failed"))
    assert panel.table.model().rowCount() == 4
    labels = [panel.reason_combo.itemText(i) for i in range(panel.reason_combo.count())]
    assert labels == [
        "Any reason",
        "Rate limited, gave up after 5 tries (2)",
        "Subscriber not found (2)",
        "Not an email address (1)",
    ]
    panel.reason_combo.setCurrentIndex(panel.reason_combo.findData("Subscriber not found"))
    view = panel.table.model()
    assert [view.data(view.index(r, 0)) for r in range(view.rowCount())] == ["3", "13"]
    panel.outcome_combo.setCurrentIndex(panel.outcome_combo.findData("all"))
    assert view.rowCount() == 2  # the reason still applies
    panel.reason_combo.setCurrentIndex(0)
    assert view.rowCount() == 20


def test_reasons_list_keeps_the_choice_while_batches_arrive(panel: ResultsPanel) -> None:
    panel.job_started_event("job-7", 20)
    panel.outcomes_event(outcomes(1, 10))
    panel._refresh_reasons()  # what the timer does while the job runs
    panel.reason_combo.setCurrentIndex(panel.reason_combo.findData("Subscriber not found"))
    assert panel.table.model().rowCount() == 1
    panel.outcomes_event(outcomes(11, 10))
    panel._refresh_reasons()
    assert panel.reason_combo.currentData() == "Subscriber not found"
    assert panel.reason_combo.currentText() == "Subscriber not found (2)"
    assert panel.table.model().rowCount() == 2


def test_copy_puts_selected_rows_on_the_clipboard_as_tsv(panel: ResultsPanel, qtbot) -> None:
    run_job(panel)
    assert not panel.copy_button.isEnabled()
    panel.select_rows([2, 4])
    assert panel.copy_button.isEnabled()
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(panel.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == (
        "row\tidentifier\ttarget\toutcome\treason\n"
        "3\t'=cmd|3\tVIP\tfailed\tSubscriber not found\n"  # pasted into a sheet: text, not a formula
        "5\t5@example.com\tVIP\tsucceeded\t\n"
    )


def test_ctrl_c_copies_from_the_table(panel: ResultsPanel, qtbot) -> None:
    run_job(panel)
    panel.outcome_combo.setCurrentIndex(panel.outcome_combo.findData("failed"))
    panel.table.setFocus()
    panel.table.selectAll()
    QGuiApplication.clipboard().clear()
    qtbot.keyClick(panel.table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    lines = QGuiApplication.clipboard().text().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["row", "3", "7", "13", "17"]


def test_tsv_flattens_tabs_and_newlines() -> None:
    text = outcomes_as_tsv([RowOutcome(1, "a\tb", "VIP", Outcome.FAILED, "two\nlines", target_id="1")])
    assert text.splitlines()[1] == "1\ta b\tVIP\tfailed\ttwo lines"


def test_retry_emits_exactly_the_failed_rows(panel: ResultsPanel, qtbot) -> None:
    run_job(panel)
    with qtbot.waitSignal(panel.retry_failed_requested, timeout=1000) as blocker:
        qtbot.mouseClick(panel.retry_button, Qt.MouseButton.LeftButton)
    assert [o.row for o in blocker.args[0]] == sorted(FAILED_ROWS)
    assert all(o.outcome is Outcome.FAILED for o in blocker.args[0])


def test_retry_with_a_reason_filter_sends_only_those(panel: ResultsPanel, qtbot) -> None:
    run_job(panel)
    panel.reason_combo.setCurrentIndex(panel.reason_combo.findData("Subscriber not found"))
    with qtbot.waitSignal(panel.retry_failed_requested, timeout=1000) as blocker:
        panel.retry_failed_action()
    assert [o.row for o in blocker.args[0]] == [3, 13]
    # A filter that shows no failed rows retries all of them.
    panel.reason_combo.setCurrentIndex(0)
    panel.outcome_combo.setCurrentIndex(panel.outcome_combo.findData("succeeded"))
    with qtbot.waitSignal(panel.retry_failed_requested, timeout=1000) as blocker:
        panel.retry_failed_action()
    assert [o.row for o in blocker.args[0]] == sorted(FAILED_ROWS)


def test_undo_is_offered_only_when_the_journal_says_so(panel: ResultsPanel, qtbot) -> None:
    run_job(panel)
    assert not panel.undo_button.isEnabled()  # not known yet
    assert panel.undo_button.toolTip().startswith("Checking")
    shown(panel, state="finished", undo_blocker="Adding to a form cannot be undone")
    assert not panel.undo_button.isEnabled()
    assert panel.undo_button.toolTip() == "Adding to a form cannot be undone"
    shown(panel, state="finished", undo_blocker=None)
    assert panel.undo_button.isEnabled()
    with qtbot.waitSignal(panel.undo_requested, timeout=1000) as blocker:
        qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["job-7"]
    shown(panel, "job-8", running=True, undo_blocker=None)
    assert not panel.undo_button.isEnabled()


def test_export_opens_a_save_dialog_without_blocking(panel: ResultsPanel, qtbot) -> None:
    run_job(panel)
    qtbot.mouseClick(panel.export_button, Qt.MouseButton.LeftButton)
    dialog = panel.findChild(QFileDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave
    assert dialog.isModal()
    dialog.reject()


def test_export_writes_the_rows_shown_with_formulas_neutralised(
    panel: ResultsPanel, qtbot, qloop, tmp_path: Path
) -> None:
    run_job(panel)
    path = tmp_path / "all.csv"
    with qtbot.waitSignal(panel.report_exported, timeout=5000) as blocker:
        panel.export_to(path)
    assert blocker.args == [str(path), 20]
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["row", "identifier", "target", "outcome", "reason"]
    assert len(rows) == 21
    assert rows[3][1] != "=cmd|3" and rows[3][1].endswith("=cmd|3")  # formula neutralised
    assert rows[3][3:] == ["failed", "Subscriber not found"]

    panel.outcome_combo.setCurrentIndex(panel.outcome_combo.findData("failed"))
    failed_path = tmp_path / "failed.csv"
    with qtbot.waitSignal(panel.report_exported, timeout=5000) as blocker:
        panel.export_to(failed_path)
    assert blocker.args == [str(failed_path), 4]
    with failed_path.open(newline="", encoding="utf-8-sig") as f:
        assert [r[0] for r in csv.reader(f)] == ["row", "3", "7", "13", "17"]


def test_export_to_an_unwritable_place_says_so(panel: ResultsPanel, qtbot, qloop, tmp_path: Path) -> None:
    run_job(panel)
    with qtbot.waitSignal(panel.export_failed, timeout=5000) as blocker:
        panel.export_to(tmp_path / "no-such-dir" / "x.csv")
    assert "Could not save the report" in blocker.args[0]
    assert panel.export_label.text() == blocker.args[0]
    assert panel.summary_label.text().startswith("15 succeeded")  # the summary stays
    assert panel.export_button.isEnabled()


def test_show_job_reopens_finished_results(panel: ResultsPanel) -> None:
    shown(panel, "old-job", state="cancelled", failed=4, retryable=2)
    panel.show_job("old-job", outcomes(1, 20), "cancelled", "Cancelled")
    assert panel.table.model().rowCount() == 20
    assert panel.summary_label.text() == "15 succeeded · 4 failed · 1 skipped. Cancelled"
    assert panel.progress_bar.text() == "Cancelled"
    assert panel.retry_button.isEnabled()


def test_a_big_selection_is_copied_from_a_worker_thread(
    panel: ResultsPanel, qtbot, qloop, monkeypatch
) -> None:
    monkeypatch.setattr("audience_manager.ui.results_panel.COPY_IN_PLACE_ROWS", 5)
    run_job(panel)
    panel.select_all_rows()
    QGuiApplication.clipboard().clear()
    with qtbot.waitSignal(panel.rows_copied, timeout=5000) as blocker:
        task = panel.copy_action()
        assert task is not None  # not formatted on the GUI thread
    assert blocker.args == [20]
    lines = QGuiApplication.clipboard().text().splitlines()
    assert len(lines) == 21 and lines[20].startswith("20\t")


def test_selection_in_pieces_is_copied_in_table_order(panel: ResultsPanel, qtbot) -> None:
    run_job(panel)
    panel.outcome_combo.setCurrentIndex(panel.outcome_combo.findData("failed"))
    panel.select_rows([3, 0, 1])
    assert list(panel.selected_source_rows()) == [2, 6, 16]


def test_copy_is_in_the_tables_context_menu(panel: ResultsPanel) -> None:
    assert panel.table.contextMenuPolicy() == Qt.ContextMenuPolicy.ActionsContextMenu
    assert panel.copy_shortcut in panel.table.actions()


def test_outcome_colours_follow_a_palette_switch(panel: ResultsPanel) -> None:
    from PySide6.QtGui import QColor, QPalette

    run_job(panel)
    index = panel.model.index(2, 3)  # a failed row's Outcome cell
    dark = QPalette(panel.table.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    panel.setPalette(dark)
    on_dark = panel.model.data(index, Qt.ItemDataRole.ForegroundRole).color()
    light = QPalette(panel.table.palette())
    light.setColor(QPalette.ColorRole.Base, QColor("#ffffff"))
    panel.setPalette(light)
    on_light = panel.model.data(index, Qt.ItemDataRole.ForegroundRole).color()
    assert on_dark.lightness() > 128 > on_light.lightness()


def test_copying_too_many_rows_points_to_export(panel: ResultsPanel, qtbot, monkeypatch) -> None:
    monkeypatch.setattr("audience_manager.ui.results_panel.COPY_MAX_ROWS", 10)
    run_job(panel)
    panel.select_all_rows()
    QGuiApplication.clipboard().setText("before")
    with qtbot.assertNotEmitted(panel.rows_copied):
        assert panel.copy_action() is None
    assert QGuiApplication.clipboard().text() == "before"
    assert "use Export CSV" in panel.export_label.text()


def test_a_big_reopened_job_is_shown_in_steps(panel: ResultsPanel, qtbot, qloop) -> None:
    inserts: list[tuple[int, int]] = []
    panel.model.rowsInserted.connect(lambda _parent, first, last: inserts.append((first, last)))
    task = asyncio.ensure_future(
        panel.show_job_in_steps("old", outcomes(1, 20), "finished", elapsed=12.0, step=7)
    )
    qtbot.waitUntil(task.done, timeout=3000)
    assert inserts == [(0, 6), (7, 13), (14, 19)]
    assert panel.model.outcomes() == outcomes(1, 20)
    assert panel.summary_label.text() == "15 succeeded · 4 failed · 1 skipped in 12 s"
    assert panel.progress_bar.text() == "Finished"
