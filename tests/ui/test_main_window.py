"""The real window against the in-process demo sandbox: what a marketer sees and does."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

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
