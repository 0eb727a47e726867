"""The window in the orders a person clicks: every control follows what happened, whatever came first.

Each test here is one defect a new user met (issue: "a window whose every word you can trust"),
driven through the real window on the demo workspace.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from audience_manager.core.actions import Action, TargetKind
from audience_manager.core.outcomes import Outcome
from audience_manager.ui.main_window import MainWindow

from .test_main_window import paste, run_confirmed
from .window_helpers import drop_files


def _first_tag(window: MainWindow, n: int = 0):
    return window.workspace.catalog[TargetKind.TAG][n]


def _csv(tmp_path: Path, emails: list[str], name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_text("email,first\n" + "".join(f"{e},P\n" for e in emails))
    return path


def _xlsx(tmp_path: Path, ids: list[int]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Subscriber ID"])
    for i in ids:
        sheet.append([i])
    path = tmp_path / "list.xlsx"
    book.save(path)
    return path


def _drop_and_wait(window: MainWindow, qtbot, path: Path, rows: int, timeout: int = 15000) -> None:
    assert drop_files(window.centralWidget(), [path]) == (True, True)
    panel = window.audience_panel
    qtbot.waitUntil(
        lambda: panel.audience is not None and not panel.busy and len(panel.audience.rows) == rows,
        timeout=timeout,
    )


def _run_ready(window: MainWindow) -> bool:
    return (
        window.action_bar.run_button.isEnabled()
        and window.run_job_action.isEnabled()
        and window.preview_job_action.isEnabled()
    )


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_tick_then_import_enables_run_and_preview(window: MainWindow, qtbot, sandbox, tmp_path, kind) -> None:
    window.catalog_panel.set_checked(TargetKind.TAG, {_first_tag(window).id})
    assert not window.action_bar.run_button.isEnabled()
    if kind == "csv":
        path = _csv(tmp_path, sandbox.known_emails(50))
    else:
        path = _xlsx(tmp_path, sandbox.known_subscriber_ids(50))
    _drop_and_wait(window, qtbot, path, 50)
    assert "<b>50</b> valid" in window.audience_panel.counts_label.text()
    qtbot.waitUntil(lambda: _run_ready(window), timeout=2000)


@pytest.mark.slow
def test_tick_then_import_a_30000_row_file(window: MainWindow, qtbot, tmp_path) -> None:
    window.catalog_panel.set_checked(TargetKind.TAG, {_first_tag(window).id})
    path = tmp_path / "big.csv"
    path.write_text("id\n" + "".join(f"{1_000_000 + i}\n" for i in range(30_000)))
    _drop_and_wait(window, qtbot, path, 30_000, timeout=60000)
    qtbot.waitUntil(lambda: _run_ready(window), timeout=2000)


def test_import_then_tick_enables_run(window: MainWindow, qtbot, sandbox, tmp_path) -> None:
    _drop_and_wait(window, qtbot, _csv(tmp_path, sandbox.known_emails(5)), 5)
    assert not _run_ready(window)
    assert "Tick" in window.action_bar.run_button.toolTip()
    window.catalog_panel.set_checked(TargetKind.TAG, {_first_tag(window).id})
    assert _run_ready(window)


def test_undo_from_history_after_more_jobs_ran_undoes_the_job_selected(
    window: MainWindow, qtbot, sandbox
) -> None:
    ids = sandbox.known_subscriber_ids(4, state=None)
    first_tag, second_tag = _first_tag(window, 0), _first_tag(window, 1)
    tagged = sandbox.state.kit.tags_of
    before = {i: set(tagged.get(i, {})) for i in ids}

    paste(window, [str(i) for i in ids])
    window.catalog_panel.set_checked(TargetKind.TAG, {first_tag.id})
    job_a, _, _ = run_confirmed(window, qtbot)
    window.catalog_panel.set_checked(TargetKind.TAG, {second_tag.id})
    job_b, _, _ = run_confirmed(window, qtbot)
    assert all(int(second_tag.id) in tagged.get(i, {}) for i in ids)

    history = window.history_panel
    window.bottom_tabs.setCurrentWidget(history)
    qtbot.waitUntil(lambda: history.model.rowCount() == 2, timeout=5000)
    assert history.model.job_at(0).id == job_b  # newest first: job A moved down a row
    assert history.select_job(job_a)
    assert window.session.state.history_job == job_a
    dialog = history.undo_action()
    assert dialog is not None
    qtbot.waitUntil(dialog.undo_button.isEnabled, timeout=5000)
    assert f"Remove tag {first_tag}" in dialog.details.toPlainText()
    with qtbot.waitSignal(window.job_finished, timeout=5000) as finished:
        dialog.undo_button.click()
    undo_id = finished.args[0]
    # Job A's tag is gone again, job B's stays: the undo acted on the job the user selected.
    assert all(int(first_tag.id) not in tagged.get(i, {}) or int(first_tag.id) in before[i] for i in ids)
    assert all(int(second_tag.id) in tagged.get(i, {}) for i in ids)
    # The results say what they are, and the action bar still shows the user's own next job.
    assert window.results_panel.title_label.text() == f"Undo of job {job_a}: Remove tag: {first_tag}"
    assert window.workspace.journal().job(undo_id).parent_id == job_a
    assert window.action_bar.action() is Action.TAG
    assert {o.outcome for o in window.results_panel.model.outcomes()} == {Outcome.SUCCEEDED}


def test_preview_and_confirmation_agree_and_rows_found_missing_are_not_sent(
    window: MainWindow, qtbot, sandbox
) -> None:
    known = [str(i) for i in sandbox.known_subscriber_ids(6, state=None)]
    unknown = [str(i) for i in sandbox.unknown_subscriber_ids(3)]
    tag = _first_tag(window)
    already = known[:2]
    for sid in already:
        sandbox.state.kit.tag(int(sid), int(tag.id), "2026-01-01T00:00:00Z")
    paste(window, [*known, *unknown])
    window.catalog_panel.set_checked(TargetKind.TAG, {tag.id})
    with qtbot.waitSignal(window.preview_shown, timeout=5000) as shown:
        window.preview_action()
    text = shown.args[0]
    assert "4 would change, 2 already so, 3 not found" in text
    dialog = window.run_action()
    assert dialog is not None
    rows = dialog.rows_label.text()
    assert "4 people will be changed, 2 already so" in rows
    assert "3 people not found by the preview: not sent" in rows
    assert dialog.run_button.text() == "Tag 6 rows"
    with qtbot.waitSignal(window.job_finished, timeout=5000):
        dialog.run_button.click()
    counts = window.results_panel.model.counts()
    assert counts[Outcome.SUCCEEDED] == 4 and counts[Outcome.UNCHANGED] == 2
    assert counts[Outcome.SKIPPED] == 3 and counts[Outcome.FAILED] == 0
    # A changed audience makes the preview stale: the next confirmation does not use it.
    paste(window, known)
    again = window.run_action()
    assert again is not None and "not found by the preview" not in again.rows_label.text()
    again.reject()


def test_switch_account_mid_way(window: MainWindow, qtbot, sandbox) -> None:
    ids = [str(i) for i in sandbox.known_subscriber_ids(3)]
    paste(window, ids)
    kit_tag = _first_tag(window)
    window.catalog_panel.set_checked(TargetKind.TAG, {kit_tag.id})
    job_id, _, _ = run_confirmed(window, qtbot)
    results = window.results_panel
    qtbot.waitUntil(results.undo_button.isEnabled, timeout=5000)
    kit_label = window.workspace.current.label
    kit_name = window.workspace.current.account.name

    box = window.catalog_panel.account_box
    index = next(i for i in range(box.count()) if "HighLevel" in box.itemText(i))
    box.setCurrentIndex(index)
    ws = window.workspace
    qtbot.waitUntil(lambda: ws.platform is not None and not ws.catalog_busy, timeout=5000)
    assert "HighLevel" in ws.current.label
    # The Kit job's results stay readable, say where they ran, and cannot be undone from here.
    assert results.title_label.text() == f"Tag: {kit_tag} (on {kit_name})"
    assert not results.undo_button.isEnabled()
    assert "Switch to the account" in results.undo_button.toolTip()
    # Nothing is ticked on the new account yet: Run says so instead of reusing Kit's tag.
    assert not window.action_bar.run_button.isEnabled()
    assert "Tick" in window.action_bar.run_button.toolTip()
    assert kit_label != ws.current.label and job_id


def test_cancel_says_how_long_it_waits(window: MainWindow, qtbot, sandbox) -> None:
    sandbox.faults.latency = 0.05
    paste(window, [str(i) for i in sandbox.known_subscriber_ids(400, state=None)])
    window.catalog_panel.set_checked(TargetKind.TAG, {_first_tag(window).id})
    dialog = window.run_action()
    dialog.run_button.click()
    qtbot.waitUntil(lambda: window.results_panel.cancel_button.isEnabled(), timeout=5000)
    assert "up to 5 s" in window.results_panel.cancel_button.toolTip()
    with qtbot.waitSignal(window.job_finished, timeout=15000):
        window.cancel_action()
        assert window.results_panel.cancel_button.text() == "Cancelling…"
        assert "up to 5 s" in window.statusBar().currentMessage()
        assert not window.results_panel.cancel_button.isEnabled()
    assert window.results_panel.cancel_button.text() == "Cancel"
    sandbox.faults.latency = 0.0


def test_set_custom_field_takes_one_field_and_says_so(window: MainWindow) -> None:
    fields = window.workspace.catalog[TargetKind.FIELD]
    window.action_bar.set_action(Action.SET_FIELD)
    panel = window.catalog_panel
    panel.set_checked(TargetKind.FIELD, {fields[0].id})
    view = panel.lists[TargetKind.FIELD]
    item = next(
        view.source.item(r)
        for r in range(view.source.rowCount())
        if view.source.item(r).text() == fields[1].name
    )
    from PySide6.QtCore import Qt

    item.setCheckState(Qt.CheckState.Checked)  # ticking a second field moves the tick
    assert [t.id for t in panel.checked_targets(TargetKind.FIELD)] == [fields[1].id]
    assert "one field at a time" in view.toolTip()


def test_the_title_names_the_app_once(window: MainWindow) -> None:
    # Qt adds the display name to a title that does not end with it: the title ends with it.
    name = QApplication.applicationDisplayName()
    assert window.windowTitle() == f"Demo workspace — {name}"
    assert window.windowTitle().count(name) == 1


def test_history_is_readable_at_the_default_size(window: MainWindow, qtbot, sandbox) -> None:
    journal = window.workspace.journal()
    account = window.workspace.current.account
    from audience_manager.core.audience import Audience, AudienceRow
    from audience_manager.core.identifiers import IdentifierKind
    from audience_manager.core.job_spec import JobSpec

    tag = _first_tag(window)
    for n in range(8):
        rows = [AudienceRow(1, str(1000 + n), IdentifierKind.SUBSCRIBER_ID)]
        journal.create_job(JobSpec(account.name, Action.TAG, (tag,), Audience(rows=rows)), account)
    window.resize(1280, 820)  # the default size
    history = window.history_panel
    window.bottom_tabs.setCurrentWidget(history)
    qtbot.waitUntil(lambda: history.model.rowCount() == 8, timeout=5000)
    qtbot.wait(50)
    table = history.table
    visible = table.viewport().height() // table.verticalHeader().defaultSectionSize()
    assert visible >= 6, f"only {visible} jobs visible"
    header = table.horizontalHeader()
    metrics = header.fontMetrics()
    for column in range(history.model.columnCount()):
        text = history.model.headerData(column, header.orientation())
        assert header.sectionSize(column) >= metrics.horizontalAdvance(text), f"header {text!r} is cut"


def test_the_confirmation_says_how_emails_are_looked_up_and_what_it_costs(
    window: MainWindow, qtbot, sandbox, tmp_path
) -> None:
    emails = [*sandbox.known_emails(30), "nobody-here@example.com"]
    _drop_and_wait(window, qtbot, _csv(tmp_path, emails), 31)
    window.catalog_panel.set_checked(TargetKind.TAG, {_first_tag(window).id})
    dialog = window.run_action()
    assert dialog is not None
    qtbot.waitUntil(lambda: "Resolving 31 emails:" in dialog.rows_label.text(), timeout=5000)
    assert "request" in dialog.rows_label.text()
    assert "Working out" not in dialog.rows_label.text()
    with qtbot.waitSignal(window.job_finished, timeout=10000):
        dialog.run_button.click()
    counts = window.results_panel.model.counts()
    assert counts[Outcome.SKIPPED] == 1 and counts[Outcome.SUCCEEDED] + counts[Outcome.UNCHANGED] == 30
    skipped = [o for o in window.results_panel.model.outcomes() if o.outcome is Outcome.SKIPPED]
    assert "not found" in skipped[0].reason.lower()
