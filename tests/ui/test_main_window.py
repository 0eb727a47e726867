"""The real window against the in-process demo sandbox: what a marketer sees and does."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from audience_manager.core.actions import Action, TargetKind
from audience_manager.core.outcomes import Outcome
from audience_manager.ui.main_window import DEMO_BANNER, MainWindow


def tag_ids(window: MainWindow, n: int = 1) -> set[str]:
    return {t.id for t in window.workspace.catalog[TargetKind.TAG][:n]}


def test_demo_workspace_is_clearly_labelled(window: MainWindow) -> None:
    assert window.banner.isVisible()
    assert window.banner.text_label.text() == DEMO_BANNER
    assert window.catalog_panel.account_box.count() == 4
    assert "Demo" in window.catalog_panel.account_box.currentText()
    tabs = [window.catalog_panel.tabs.tabText(i) for i in range(window.catalog_panel.tabs.count())]
    assert tabs[0].startswith("Tags (") and any(t.startswith("Forms (") for t in tabs)
    assert "Demo · Kit" in window.account_status.text()
    assert window.budget_status.text().startswith("Rate budget:")


def test_paste_ids_tag_and_unknown_ids_say_they_do_not_exist(window: MainWindow, qtbot, sandbox) -> None:
    known = [str(i) for i in sandbox.known_subscriber_ids(5)]
    unknown = [str(i) for i in sandbox.unknown_subscriber_ids(2)]
    QGuiApplication.clipboard().setText("\n".join([*known, *unknown]))
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    window.results_panel.table.setFocus()
    qtbot.keyClick(window.results_panel.table, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert window.audience_panel.paste_box.toPlainText().split() == [*known, *unknown]
    assert "<b>7</b> valid" in window.audience_panel.counts_label.text()

    window.catalog_panel.set_checked(TargetKind.TAG, tag_ids(window))
    assert window.action_bar.run_button.isEnabled()
    qtbot.keyClick(window.results_panel.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    dialog = window.confirm_dialog
    assert dialog is not None and dialog.isVisible()
    assert "Demo · Kit" in dialog.account_label.text()
    with qtbot.waitSignal(window.job_finished, timeout=5000):
        dialog.run_button.click()
    outcomes = window.results_panel.model.outcomes()
    assert len(outcomes) == 7
    by_id = {o.identifier: o for o in outcomes}
    assert {by_id[i].outcome for i in known} == {Outcome.SUCCEEDED}
    assert [by_id[i].reason for i in unknown] == ["Subscriber does not exist"] * 2
    assert all(by_id[i].outcome is Outcome.FAILED for i in unknown)


def paste(window: MainWindow, lines: list[str]) -> None:
    window.audience_panel.paste_action("\n".join(lines))


def run_confirmed(window: MainWindow, qtbot, timeout: int = 5000) -> tuple[str, str, str]:
    dialog = window.run_action()
    assert dialog is not None, window.run_blocker()
    with qtbot.waitSignal(window.job_finished, timeout=timeout) as finished:
        dialog.run_button.click()
    return tuple(finished.args)  # type: ignore[return-value]


def test_drop_a_csv_guesses_the_column_and_runs(window: MainWindow, qtbot, sandbox, tmp_path) -> None:
    from .window_helpers import drop_files

    emails = sandbox.known_emails(4)
    csv = tmp_path / "export.csv"
    csv.write_text(
        "Name,E-mail address,Plan\n"
        + "".join(f"P{i},{e},pro\n" for i, e in enumerate(emails))
        + "Q,nope,pro\n"
    )
    panel = window.audience_panel
    assert drop_files(window.centralWidget(), [csv]) == (True, True)
    qtbot.waitUntil(lambda: panel.audience is not None, timeout=5000)
    assert panel.stack.currentIndex() == 1
    assert panel.column_box.currentText() == "E-mail address"
    assert panel.preview_model.rowCount() == 5
    assert [r.identifier for r in panel.audience.rows] == [e.lower() for e in emails]
    assert len(panel.audience.invalid) == 1

    window.catalog_panel.set_checked(TargetKind.TAG, tag_ids(window))
    _job, state, _reason = run_confirmed(window, qtbot)
    assert state == "finished"
    outcomes = window.results_panel.model.outcomes()
    assert sorted(o.outcome for o in outcomes) == sorted([Outcome.SUCCEEDED] * 4 + [Outcome.SKIPPED])


def test_drop_on_the_paste_box_reads_the_file_instead_of_pasting_its_path(
    window: MainWindow, qtbot, tmp_path
) -> None:
    from .window_helpers import drop_files

    txt = tmp_path / "ids.txt"
    txt.write_text("1204801\n1204804\n")
    panel = window.audience_panel
    assert drop_files(panel.paste_box.viewport(), [txt]) == (True, True)
    qtbot.waitUntil(lambda: panel.audience is not None, timeout=5000)
    assert panel.paste_box.toPlainText() == ""
    assert len(panel.audience.rows) == 2


def test_files_of_other_kinds_are_not_taken(window: MainWindow, tmp_path) -> None:
    from .window_helpers import drop_files

    pdf = tmp_path / "list.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    assert drop_files(window.centralWidget(), [pdf]) == (False, False)


def test_cancel_mid_job_ends_every_row(window: MainWindow, qtbot, sandbox) -> None:
    window.catalog_panel.account_box.setCurrentIndex(1)  # the API key account sends one request per row
    qtbot.waitUntil(
        lambda: window.workspace.current_index == 1 and not window.workspace.catalog_busy, timeout=5000
    )
    sandbox.faults.latency = 0.02
    ids = [str(i) for i in sandbox.known_subscriber_ids(300)]
    paste(window, ids)
    window.catalog_panel.set_checked(TargetKind.TAG, tag_ids(window))
    dialog = window.run_action()
    assert dialog is not None
    with qtbot.waitSignal(window.results_panel.model.rowsInserted, timeout=5000):
        dialog.run_button.click()
    assert window.workspace.job_running
    window.activateWindow()  # the confirmation had the focus; a user clicks back into the window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    with qtbot.waitSignal(window.job_finished, timeout=8000) as finished:
        qtbot.keyClick(window.results_panel.table, Qt.Key.Key_Escape)
    assert finished.args[1] == "cancelled"
    outcomes = window.results_panel.model.outcomes()
    assert sorted(o.row for o in outcomes) == list(range(1, 301))
    assert any(o.outcome is Outcome.CANCELLED for o in outcomes)
    assert any(o.outcome is Outcome.SUCCEEDED for o in outcomes)
    assert not window.workspace.job_running and window.action_bar.run_button.isEnabled()


def test_retry_does_not_offer_rows_that_do_not_exist(window: MainWindow, qtbot, sandbox) -> None:
    known = [str(i) for i in sandbox.known_subscriber_ids(6)]
    unknown = [str(i) for i in sandbox.unknown_subscriber_ids(3)]
    paste(window, [*known, *unknown])
    window.catalog_panel.set_checked(TargetKind.TAG, tag_ids(window, 2))
    run_confirmed(window, qtbot)
    assert len(window.results_panel.model.failed()) == 6
    button = window.results_panel.retry_button
    assert not button.isEnabled()
    assert "the subscriber does not exist; a retry cannot fix it" in button.toolTip()


def test_retry_failed_runs_only_the_failed_rows(window: MainWindow, qtbot, sandbox) -> None:
    known = [str(i) for i in sandbox.known_subscriber_ids(9)]
    unknown = [str(i) for i in sandbox.unknown_subscriber_ids(2)]
    paste(window, [*known, *unknown])
    window.catalog_panel.set_checked(TargetKind.TAG, tag_ids(window, 1))
    sandbox.faults.status_rates = {400: 1.0}  # the platform refuses this job's requests
    first_job, _, _ = run_confirmed(window, qtbot)
    sandbox.faults.clear()
    assert len(window.results_panel.model.failed()) == 11
    button = window.results_panel.retry_button
    qtbot.waitUntil(button.isEnabled, timeout=2000)

    button.click()
    qtbot.waitUntil(lambda: window.confirm_dialog is not None, timeout=3000)
    dialog = window.confirm_dialog
    assert "Retry the failed rows?" in [w.text() for w in dialog.findChildren(type(dialog.account_label))]
    with qtbot.waitSignal(window.job_finished, timeout=5000) as finished:
        dialog.run_button.click()
    retry_id = finished.args[0]
    assert retry_id != first_job
    outcomes = window.results_panel.model.outcomes()
    assert sorted(o.identifier for o in outcomes) == sorted(known + unknown)
    assert window.results_panel.title_label.text().startswith(f"Retry of job {first_job}: Tag: ")
    journal = window.workspace.journal()
    assert journal.job(retry_id).parent_id == first_job

    # The unknown ids failed again, now because they do not exist: nothing left to retry.
    assert not button.isEnabled()
    assert "does not exist" in button.toolTip()


def test_confirmation_names_everything_and_warns_about_double_opt_in(window: MainWindow, sandbox) -> None:
    window.action_bar.set_action(Action.ADD_TO_FORM)
    assert window.catalog_panel.tabs.currentWidget() is window.catalog_panel.lists[TargetKind.FORM]
    form = window.workspace.catalog[TargetKind.FORM][0]
    window.catalog_panel.set_checked(TargetKind.FORM, {form.id})
    paste(window, [str(i) for i in sandbox.known_subscriber_ids(3)] + ["oops"])
    dialog = window.run_action()
    assert dialog is not None
    assert dialog.account_label.text() == "Demo · Kit"
    assert dialog.action_label.text() == "Add to form"
    assert dialog.targets_label.text() == str(form)
    assert dialog.rows_label.text().startswith("3 people will be sent")
    assert "1 rows are not sent (invalid or duplicate)" in dialog.rows_label.text()
    # Kit's API does not say whether a form uses double opt-in, so every form add warns.
    assert dialog.warning_label is not None and "incentive" in dialog.warning_label.text()
    assert dialog.run_button.text() == "Add to form 3 rows"
    dialog.reject()
    assert not window.workspace.job_running


def test_run_is_disabled_until_there_is_something_to_run(window: MainWindow) -> None:
    assert not window.action_bar.run_button.isEnabled()
    assert "Tick" in window.action_bar.run_button.toolTip()
    window.catalog_panel.set_checked(TargetKind.TAG, tag_ids(window))
    assert "Paste" in window.action_bar.run_button.toolTip()
    paste(window, ["1204801"])
    assert window.action_bar.run_button.isEnabled()
    window.action_bar.set_action(Action.SET_FIELD)
    assert not window.action_bar.run_button.isEnabled()
    assert window.action_bar.value_edit.isVisible()
    assert window.run_action() is None


def test_preview_shows_what_would_be_sent_without_writing(window: MainWindow, qtbot, sandbox) -> None:
    paste(window, [str(i) for i in sandbox.known_subscriber_ids(3)])
    window.catalog_panel.set_checked(TargetKind.TAG, tag_ids(window))
    tagged_before = {k: dict(v) for k, v in sandbox.state.kit.tags_of.items()}
    with qtbot.waitSignal(window.preview_shown, timeout=5000) as shown:
        window.action_bar.preview_button.click()
    assert "no change was made" in shown.args[0]
    assert window.preview_dialog is not None and window.preview_dialog.isVisible()
    assert sandbox.state.kit.tags_of == tagged_before  # nothing was written
    window.preview_dialog.close()


def test_actions_the_platform_lacks_are_disabled_with_the_reason(window: MainWindow) -> None:
    from audience_manager.core.platforms import Capabilities, RateLimit

    caps = Capabilities(
        actions=frozenset({Action.TAG, Action.UNTAG}),
        identifiers=frozenset(),
        items_per_request=1,
        rate=RateLimit(100, 10),
        missing={Action.ADD_TO_FORM: "HighLevel has no forms."},
    )
    bar = window.action_bar
    bar.set_capabilities(caps)
    model = bar.action_box.model()
    row = bar.action_box.findData(Action.ADD_TO_FORM)
    assert not model.item(row).isEnabled()
    assert model.item(row).toolTip() == "HighLevel has no forms."
    assert model.item(bar.action_box.findData(Action.SET_FIELD)).toolTip()


def test_new_tag_dialog_creates_and_ticks_the_tag(window: MainWindow, qtbot) -> None:
    panel = window.catalog_panel
    before = len(window.workspace.catalog[TargetKind.TAG])
    panel.new_tag_button.click()
    dialog = panel.new_tag_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.name_edit.setText(window.workspace.catalog[TargetKind.TAG][0].name)
    assert not dialog.create_button.isEnabled()  # already exists
    qtbot.keyClicks(dialog.name_edit, "x")
    dialog.name_edit.setText("Spring sale 2027")
    with qtbot.waitSignal(window.workspace.tag_created, timeout=5000):
        dialog.create_button.click()
    assert len(window.workspace.catalog[TargetKind.TAG]) == before + 1
    assert [t.name for t in panel.checked_targets(TargetKind.TAG)] == ["Spring sale 2027"]
    assert window.action_bar.targets_label.text() == "1 tag: Spring sale 2027"


def test_search_filters_the_catalog_and_updates_counts(window: MainWindow) -> None:
    panel = window.catalog_panel
    total = len(window.workspace.catalog[TargetKind.TAG])
    panel.search.setText("webinar")
    shown = panel.lists[TargetKind.TAG].proxy.rowCount()
    assert 0 < shown < total
    assert panel.tabs.tabText(0) == f"Tags ({shown}/{total})"
    panel.search.clear()
    assert panel.tabs.tabText(0) == f"Tags ({total})"


def test_invalid_rows_are_one_click_away(window: MainWindow) -> None:
    paste(window, ["1204801", "not-an-id", "1204801", "x@y"])
    panel = window.audience_panel
    text = panel.counts_label.text()
    assert "<b>1</b> valid" in text and "<b>2</b> invalid" in text and "<b>1</b> duplicate" in text
    panel.counts_label.linkActivated.emit("invalid")
    dialog = panel.problems_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.model.rowCount() == 2
    assert dialog.model.item(0, 2).text()  # a reason the user can act on
    dialog.close()


def test_typing_reparses_after_a_pause(window: MainWindow, qtbot) -> None:
    panel = window.audience_panel
    panel.paste_box.setPlainText("1204801\n1204804")
    assert panel.audience is None  # debounced, not parsed on every keystroke
    qtbot.waitUntil(lambda: panel.audience is not None, timeout=2000)
    assert len(panel.audience.rows) == 2


def test_window_layout_is_remembered(window: MainWindow, qtbot, tmp_path) -> None:
    from PySide6.QtCore import QSettings

    from audience_manager.ui.workspace import Workspace

    hint = window.minimumSizeHint()  # the offscreen screen is only 800 x 600: stay near the minimum
    height = hint.height() + 17
    window.resize(hint.width(), height)
    window.main_splitter.setSizes([360, 360])
    window.close()
    again = MainWindow(Workspace(), QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert again.height() == height
    assert again.main_splitter.sizes()[0] == window.main_splitter.sizes()[0]


def test_about_names_the_version(window: MainWindow) -> None:
    from audience_manager import __version__

    window.about_action.trigger()
    assert window.about_dialog is not None and window.about_dialog.isVisible()
    assert __version__ in window.about_dialog.versions.text()
    window.about_dialog.close()


def test_a_long_job_finishing_in_the_background_notifies(window: MainWindow, qtbot, monkeypatch) -> None:
    import audience_manager.ui.main_window as main_window

    monkeypatch.setattr(main_window, "NOTIFY_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(window, "isActiveWindow", lambda: False)
    paste(window, ["1204801"])
    window.catalog_panel.set_checked(TargetKind.TAG, tag_ids(window))
    run_confirmed(window, qtbot)
    assert len(window.notified) == 1 and "succeeded" in window.notified[0]


def test_undo_a_tag_job_from_the_results(window: MainWindow, qtbot, sandbox) -> None:
    ids = sandbox.known_subscriber_ids(3)
    tag = window.workspace.catalog[TargetKind.TAG][0]
    paste(window, [str(i) for i in ids])
    window.catalog_panel.set_checked(TargetKind.TAG, {tag.id})
    run_confirmed(window, qtbot)
    tagged = sandbox.state.kit.tags_of
    assert all(int(tag.id) in tagged.get(i, {}) for i in ids)
    qtbot.waitUntil(window.results_panel.undo_button.isEnabled, timeout=5000)
    window.results_panel.undo_button.click()
    dialog = window.history_panel.undo_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(dialog.undo_button.isEnabled, timeout=5000)
    with qtbot.waitSignal(window.job_finished, timeout=5000):
        dialog.undo_button.click()
    assert not any(int(tag.id) in tagged.get(i, {}) for i in ids)


def test_catalog_error_shows_retry_and_recovers(qtbot, qloop, sandbox, tmp_path) -> None:
    from PySide6.QtCore import QSettings

    from audience_manager.api.clients import open_platform
    from audience_manager.api.errors import ApiError
    from audience_manager.sandbox.demo import demo_workspace
    from audience_manager.ui.workspace import AccountEntry, Workspace

    demo = demo_workspace(sandbox)
    failures = [ApiError(503, ["The service is down for maintenance"])]

    class Flaky:
        def __init__(self, inner: object) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> object:
            return getattr(self._inner, name)

        async def list_targets(self, kind: TargetKind) -> list:
            if failures:
                raise failures.pop()
            return await self._inner.list_targets(kind)

    workspace = Workspace(journal_path=tmp_path / "j.sqlite3")
    window = MainWindow(workspace, QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    account, credentials = demo.accounts[0]
    workspace.set_entries(
        [AccountEntry(account, credentials)],
        lambda a, c: Flaky(open_platform(a, c, transport=demo.transport)),
        demo=True,
        sandbox=sandbox,
    )
    panel = window.catalog_panel
    qtbot.waitUntil(lambda: panel.stack.currentIndex() == 2, timeout=5000)
    assert "maintenance" in panel.error_label.text()
    assert panel.retry_button.isVisible()
    assert not window.action_bar.run_button.isEnabled()
    panel.retry_button.click()
    qtbot.waitUntil(lambda: panel.stack.currentIndex() == 0 and bool(workspace.catalog), timeout=5000)
    assert panel.tabs.tabText(0).startswith("Tags (")
    closing = asyncio.ensure_future(workspace.aclose())
    qtbot.waitUntil(closing.done, timeout=5000)


def test_highlevel_account_disables_what_it_lacks_and_asks_for_contact_ids(window: MainWindow, qtbot) -> None:
    labels = [
        window.catalog_panel.account_box.itemText(i) for i in range(window.catalog_panel.account_box.count())
    ]
    window.catalog_panel.account_box.setCurrentIndex(labels.index("Demo · HighLevel"))
    qtbot.waitUntil(
        lambda: window.workspace.platform is not None and not window.workspace.catalog_busy, timeout=5000
    )
    bar = window.action_bar
    form = bar.action_box.model().item(bar.action_box.findData(Action.ADD_TO_FORM))
    assert not form.isEnabled() and "HighLevel" in form.toolTip()
    assert window.catalog_panel.tabs.count() == 2  # tags and custom fields, no forms
    field = bar.action_box.model().item(bar.action_box.findData(Action.SET_FIELD))
    assert field.isEnabled()
    assert "contact IDs" in window.audience_panel.paste_box.placeholderText()
    # HighLevel's daily quota is shown too (a few requests of it are spent opening the account).
    import re

    left = re.search(r"([\d,]+) left today", window.budget_status.text())
    assert left is not None and 199_900 <= int(left.group(1).replace(",", "")) <= 200_000


def test_switching_to_a_dark_palette_repaints_the_icons(window: MainWindow, qapp) -> None:
    from PySide6.QtGui import QColor, QPalette

    def ink(button) -> set[str]:
        image = button.icon().pixmap(24, 24).toImage()
        return {
            image.pixelColor(x, y).name()
            for x in range(image.width())
            for y in range(image.height())
            if image.pixelColor(x, y).alpha() == 255
        }

    before = qapp.palette()
    dark = QPalette(before)
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#eeeeee"))
    dark.setColor(QPalette.ColorRole.Window, QColor("#202020"))
    try:
        qapp.setPalette(dark)
        qapp.processEvents()  # palette changes reach widgets as posted events
        assert ink(window.action_bar.preview_button) == {"#eeeeee"}
        assert ink(window.catalog_panel.refresh_button) == {"#eeeeee"}
    finally:
        qapp.setPalette(before)
        qapp.processEvents()
    assert ink(window.action_bar.preview_button) == {before.color(QPalette.ColorRole.WindowText).name()}


def test_set_a_custom_field_for_pasted_ids(window: MainWindow, qtbot, sandbox) -> None:
    ids = sandbox.known_subscriber_ids(2)
    field = window.workspace.catalog[TargetKind.FIELD][0]
    window.action_bar.set_action(Action.SET_FIELD)
    window.catalog_panel.set_checked(TargetKind.FIELD, {field.id})
    window.action_bar.value_edit.setText("Gold")
    paste(window, [str(i) for i in ids])
    dialog = window.run_action()
    assert dialog is not None
    with qtbot.waitSignal(window.job_finished, timeout=5000):
        dialog.run_button.click()
    assert window.session.state.job.spec.value == "Gold"
    assert window.results_panel.title_label.text() == f"Set custom field: {field} = 'Gold'"
    assert {o.outcome for o in window.results_panel.model.outcomes()} == {Outcome.SUCCEEDED}
    assert all(sandbox.state.kit.subscribers[i].fields[field.key] == "Gold" for i in ids)


def test_drop_an_excel_file(window: MainWindow, qtbot, sandbox, tmp_path) -> None:
    from openpyxl import Workbook

    from .window_helpers import drop_files

    book = Workbook()
    sheet = book.active
    sheet.append(["Subscriber", "Note"])
    for sid in sandbox.known_subscriber_ids(3):
        sheet.append([sid, "from the webinar"])
    path = tmp_path / "list.xlsx"
    book.save(path)
    assert drop_files(window.centralWidget(), [path]) == (True, True)
    panel = window.audience_panel
    qtbot.waitUntil(lambda: panel.audience is not None, timeout=5000)
    assert len(panel.audience.rows) == 3
    assert panel.column_box.currentText() == "Subscriber"


def test_closing_the_window_mid_job_cancels_it_cleanly(window: MainWindow, qtbot, sandbox) -> None:
    window.catalog_panel.account_box.setCurrentIndex(1)
    qtbot.waitUntil(
        lambda: window.workspace.platform is not None and not window.workspace.catalog_busy, timeout=5000
    )
    sandbox.faults.latency = 0.02
    paste(window, [str(i) for i in sandbox.known_subscriber_ids(200)])
    window.catalog_panel.set_checked(TargetKind.TAG, tag_ids(window))
    dialog = window.run_action()
    with qtbot.waitSignal(window.results_panel.model.rowsInserted, timeout=5000):
        dialog.run_button.click()
    with qtbot.waitSignal(window.job_finished, timeout=8000) as finished:
        window.close()
    assert finished.args[1] == "cancelled"
    assert window.results_panel.model.rowCount() == 200


def test_quitting_mid_job_records_every_row_before_closing(window: MainWindow, qtbot, sandbox) -> None:
    from audience_manager.jobs.history import job_outcomes
    from audience_manager.jobs.journal import Journal

    window.catalog_panel.account_box.setCurrentIndex(1)
    qtbot.waitUntil(
        lambda: window.workspace.platform is not None and not window.workspace.catalog_busy, timeout=5000
    )
    sandbox.faults.latency = 0.02
    paste(window, [str(i) for i in sandbox.known_subscriber_ids(150)])
    window.catalog_panel.set_checked(TargetKind.TAG, tag_ids(window))
    dialog = window.run_action()
    with qtbot.waitSignal(window.results_panel.model.rowsInserted, timeout=5000):
        dialog.run_button.click()
    job_id = window.workspace.job.job_id
    path = window.workspace.journal_path
    closing = asyncio.ensure_future(window.workspace.aclose())
    qtbot.waitUntil(closing.done, timeout=15000)
    with Journal(path) as journal:
        assert journal.job(job_id).state == "cancelled"
        assert len(job_outcomes(journal, job_id)) == 150
