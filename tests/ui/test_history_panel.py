"""The History tab over a real journal filled by real runs: list, filter, reopen, export, retry,
undo (and the undo that cannot be done), delete."""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from audience_manager.core.accounts import Account
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import RowOutcome
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.jobs.journal import Journal
from audience_manager.jobs.runner import Runner
from audience_manager.jobs.undo import NO_FORM_REMOVAL
from audience_manager.ui.history_panel import HistoryModel, HistoryPanel, Period

from .test_job_adapter import TagPlatform, job

WELCOME = Target(TargetKind.FORM, "21", "Welcome form")
ACCOUNTS = {
    name: Account(name=name, platform=PlatformKind.KIT_V4, auth=AuthKind.API_KEY) for name in ("shop", "blog")
}


def run(qtbot, journal: Journal, spec: JobSpec, platform: TagPlatform | None = None) -> list[RowOutcome]:
    job_id = journal.create_job(spec, ACCOUNTS[spec.account])
    runner = Runner(platform or TagPlatform(existing=25), spec, recorder=journal, job_id=job_id)
    task = asyncio.ensure_future(runner.run())
    qtbot.waitUntil(task.done, timeout=5000)
    return task.result()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.sqlite3") as journal:
        yield journal


@pytest.fixture
def jobs(qtbot, qloop, journal: Journal) -> dict[str, list[RowOutcome]]:
    """Three ended jobs: a tag job with failures (shop), a form job (blog), an old tag job (shop)."""
    old = run(qtbot, journal, job(5, account="shop"))
    old_id = journal.read().execute("SELECT id FROM jobs").fetchone()[0]
    # The only way to have a job from 100 days ago in a test is to date it back.
    journal.read().execute("UPDATE jobs SET created_at=? WHERE id=?", (time.time() - 100 * 86400, old_id))
    tagged = run(qtbot, journal, job(30, invalid=["nope"], account="shop"))
    form = run(qtbot, journal, job(10, action=Action.ADD_TO_FORM, target=WELCOME, account="blog"))
    return {"old": old, "tag": tagged, "form": form}


@pytest.fixture
def panel(qtbot, qloop, journal: Journal) -> HistoryPanel:
    widget = HistoryPanel(journal)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    return widget


def refresh(qtbot, panel: HistoryPanel) -> int:
    with qtbot.waitSignal(panel.history_loaded, timeout=5000) as blocker:
        panel.refresh_action()
    return int(blocker.args[0])


def job_id_of(panel: HistoryPanel, action: Action) -> str:
    return next(j.id for j in panel.model.jobs() if j.action is action)


def test_lists_jobs_newest_first_and_passes_the_model_tester(qtbot, qtmodeltester, panel, jobs) -> None:
    assert refresh(qtbot, panel) == 3
    qtmodeltester.check(panel.model, force_py=True)
    listed = panel.model.jobs()
    assert [j.action for j in listed] == [Action.ADD_TO_FORM, Action.TAG, Action.TAG]
    assert listed[1].total == 31 and listed[1].failed == 5 and listed[1].skipped == 1
    model = panel.model
    assert model.data(model.index(1, 2)) == "Tag"
    assert model.data(model.index(1, 3)) == "VIP"
    assert model.data(model.index(1, 4)) == "Finished"
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[5:11] == ["People", "Changed", "Unchanged", "Failed", "Skipped", "Cancelled"]
    # One target: people and outcomes count the same thing; "changed" leaves out "already so".
    assert [model.data(model.index(1, c)) for c in range(5, 11)] == ["31", "24", "1", "5", "1", "0"]
    assert [panel.account_combo.itemText(i) for i in range(panel.account_combo.count())] == [
        "All accounts",
        "blog",
        "shop",
    ]


def test_filters_by_account_action_state_and_date(qtbot, panel, jobs) -> None:
    refresh(qtbot, panel)
    with qtbot.waitSignal(panel.history_loaded, timeout=5000) as blocker:
        panel.account_combo.setCurrentIndex(panel.account_combo.findData("shop"))
    assert blocker.args == [2]
    with qtbot.waitSignal(panel.history_loaded, timeout=5000) as blocker:
        panel.period_combo.setCurrentIndex(panel.period_combo.findData(Period.WEEK.value))
    assert blocker.args == [1]
    with qtbot.waitSignal(panel.history_loaded, timeout=5000) as blocker:
        panel.account_combo.setCurrentIndex(0)
        panel.action_combo.setCurrentIndex(panel.action_combo.findData(Action.ADD_TO_FORM.value))
    assert [j.account for j in panel.model.jobs()] == ["blog"]
    with qtbot.waitSignal(panel.history_loaded, timeout=5000) as blocker:
        panel.state_combo.setCurrentIndex(panel.state_combo.findData("cancelled"))
    assert blocker.args == [0]


def test_show_rows_and_retry_ask_for_exactly_the_selected_job(qtbot, panel, jobs) -> None:
    refresh(qtbot, panel)
    job_id = job_id_of(panel, Action.TAG)
    assert panel.select_job(job_id)
    with qtbot.waitSignal(panel.open_requested, timeout=1000) as opened:
        panel.open_button.click()
    assert opened.args == [job_id]
    with qtbot.waitSignal(panel.retry_requested, timeout=1000) as retried:
        panel.retry_button.click()
    assert retried.args == [job_id]
    # The form job failed nowhere: nothing to retry.
    panel.select_job(job_id_of(panel, Action.ADD_TO_FORM))
    assert not panel.retry_button.isEnabled()


def test_one_job_is_selected_and_stays_selected_as_jobs_are_added(qtbot, panel, jobs, journal) -> None:
    refresh(qtbot, panel)
    job_id = job_id_of(panel, Action.TAG)
    with qtbot.waitSignal(panel.job_selected, timeout=1000) as selected:
        panel.select_job(job_id)
    assert selected.args == [job_id]
    panel.table.selectAll()  # a single selection: there is no "several jobs"
    assert [j.id for j in panel.selected_jobs()] == [job_id]
    run(qtbot, journal, job(4, account="blog"))
    refresh(qtbot, panel)  # the new job is listed first: the rows move, the selection follows the job
    assert panel.model.job_at(0).id != job_id
    assert panel.selected_job().id == job_id


def test_export_writes_the_jobs_report_from_the_journal(qtbot, panel, jobs, tmp_path: Path) -> None:
    refresh(qtbot, panel)
    job_id = job_id_of(panel, Action.TAG)
    path = tmp_path / "report.csv"
    with qtbot.waitSignal(panel.report_exported, timeout=5000) as blocker:
        panel.export_job_to(job_id, path)
    assert blocker.args == [str(path), 31]
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["row", "identifier", "target", "outcome", "reason"]
    assert rows[1:] == [[str(o.row), o.identifier, o.target, o.outcome.value, o.reason] for o in jobs["tag"]]


def test_export_button_opens_a_save_dialog(qtbot, panel, jobs) -> None:
    refresh(qtbot, panel)
    panel.select_job(job_id_of(panel, Action.TAG))
    dialog = panel.export_action()
    assert dialog is not None and dialog.isVisible() and dialog.isModal()
    dialog.reject()


def test_undo_shows_the_plan_and_emits_it_when_confirmed(qtbot, panel, jobs) -> None:
    refresh(qtbot, panel)
    panel.select_job(job_id_of(panel, Action.TAG))
    dialog = panel.undo_action()
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=5000)
    assert dialog.undo_button.isEnabled()
    assert dialog.undo_button.text() == "Undo 24 changes"
    assert "Remove tag VIP: 24 rows" in dialog.details.toPlainText()
    with qtbot.waitSignal(panel.undo_accepted, timeout=1000) as blocker:
        dialog.undo_button.click()
    plan = blocker.args[0]
    assert plan.possible and plan.specs[0].action is Action.UNTAG
    assert [r.row for r in plan.specs[0].audience.rows] == [1, *range(3, 26)]  # row 2 already had the tag


def test_undo_of_a_form_job_says_it_cannot_be_done(qtbot, panel, jobs) -> None:
    refresh(qtbot, panel)
    panel.select_job(job_id_of(panel, Action.ADD_TO_FORM))
    dialog = panel.undo_action()
    assert dialog is not None
    with qtbot.waitSignal(dialog.plan_loaded, timeout=5000):
        pass
    assert "cannot be undone" in dialog.message_label.text()
    assert NO_FORM_REMOVAL in dialog.message_label.text()
    assert not dialog.undo_button.isEnabled()
    assert dialog.close_button.text() == "Close"
    with qtbot.assertNotEmitted(panel.undo_accepted):
        dialog.accept()
    dialog.reject()


def test_delete_selected_after_confirmation(qtbot, panel, jobs, journal: Journal) -> None:
    refresh(qtbot, panel)
    panel.select_job(job_id_of(panel, Action.ADD_TO_FORM))
    box = panel.delete_selected_action()
    assert box is not None and box.isVisible()
    with qtbot.assertNotEmitted(panel.jobs_deleted, wait=100):
        box.button(QMessageBox.StandardButton.Cancel).click()
    assert panel.model.rowCount() == 3
    box = panel.delete_selected_action()
    assert box is not None
    form_id = job_id_of(panel, Action.ADD_TO_FORM)
    with qtbot.waitSignal(panel.jobs_deleted, timeout=5000) as blocker:
        next(b for b in box.buttons() if b.text() == "Delete").click()
    assert blocker.args == [1, [form_id]]
    assert [j.action for j in panel.model.jobs()] == [Action.TAG, Action.TAG]


def test_delete_older_than_keeps_recent_jobs(qtbot, panel, jobs) -> None:
    refresh(qtbot, panel)
    panel.older_spin.setValue(90)
    box = panel.delete_old_action()
    assert box is not None
    with qtbot.waitSignal(panel.jobs_deleted, timeout=5000) as blocker:
        next(b for b in box.buttons() if b.text() == "Delete").click()
    assert blocker.args == [1, []]
    assert panel.model.rowCount() == 2


def test_no_journal_yet_says_so(qtbot, qloop) -> None:
    panel = HistoryPanel(lambda: None)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.history_loaded, timeout=5000) as blocker:
        panel.refresh_action()
    assert blocker.args == [0]
    assert "No journal yet" in panel.status_label.text()
    assert panel.undo_action() is None


def test_history_model_is_empty_and_valid_without_jobs(qtmodeltester) -> None:
    model = HistoryModel()
    qtmodeltester.check(model, force_py=True)
    assert model.rowCount() == 0


def test_a_job_not_ended_cannot_be_undone_or_deleted(qtbot, panel, journal: Journal) -> None:
    pending = journal.create_job(job(3, account="shop"), ACCOUNTS["shop"])  # recorded, never run
    refresh(qtbot, panel)
    assert panel.select_job(pending)
    assert panel.model.data(panel.model.index(0, 4)) == "Pending"
    assert panel.open_button.isEnabled()
    assert not panel.undo_button.isEnabled()
    assert not panel.delete_button.isEnabled()
    assert panel.delete_selected_action() is None
