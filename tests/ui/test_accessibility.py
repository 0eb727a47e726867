"""The window as a screen reader and a keyboard user meet it (issue 17, part 2).

The accessibility tree is walked as an assistive technology walks it (`QAccessible` interfaces,
child by child, from the window): every control a user can focus has a name. And a whole job is
done with the keyboard alone: paste, tick, run, filter, export, undo.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QAccessibleActionInterface, QAccessibleInterface
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from audience_manager.core.actions import TargetKind
from audience_manager.core.outcomes import Outcome
from audience_manager.ui.main_window import MainWindow
from audience_manager.ui.results_model import ResultsFilter

from .conftest import QT_NOISE
from .test_main_window import paste, run_confirmed


def walk(iface: QAccessibleInterface | None, depth: int = 0) -> Iterator[QAccessibleInterface]:
    """Every interface under `iface`, depth first, as a screen reader reads the tree."""
    if iface is None or not iface.isValid() or depth > 60:
        return
    yield iface
    for i in range(iface.childCount()):
        yield from walk(iface.child(i), depth + 1)


def focusable_controls(window: QWidget) -> list[QAccessibleInterface]:
    """The widgets a user can reach now: focusable and not invisible (items of lists and tables
    are named by their model's text and checked separately)."""
    found = []
    for iface in walk(QAccessible.queryAccessibleInterface(window)):
        state = iface.state()
        if state.focusable and not state.invisible and isinstance(iface.object(), QWidget):
            found.append(iface)
    return found


def spoken_name(iface: QAccessibleInterface) -> str:
    """What a screen reader says a control is. A combo box's name is its current value on Linux,
    so there it is the label that names it (the "labelled by" relation, as Orca reads it)."""
    if iface.role() == QAccessible.Role.ComboBox:
        relations = iface.relations(QAccessible.RelationFlag.Label)
        labels = [label.text(QAccessible.Text.Name) for label, _ in relations]
        return next((text.strip() for text in labels if text.strip()), "")
    return iface.text(QAccessible.Text.Name).strip()


def unnamed(window: QWidget) -> tuple[int, list[str]]:
    controls = focusable_controls(window)
    missing = [
        f"{type(iface.object()).__name__} {iface.object().objectName()!r} ({iface.role().name})"
        for iface in controls
        if not spoken_name(iface)
    ]
    return len(controls), missing


def test_every_focusable_control_has_a_name(window: MainWindow, qtbot, sandbox) -> None:
    count, missing = unnamed(window)
    assert count >= 20
    assert missing == []
    # After a job: the outcome bar, the rows and the buttons that act on them.
    paste(window, [str(i) for i in sandbox.known_subscriber_ids(3)] + ["12ab"])
    window.catalog_panel.set_checked(TargetKind.TAG, {window.workspace.catalog[TargetKind.TAG][0].id})
    run_confirmed(window, qtbot)
    qtbot.waitUntil(window.results_panel.outcome_bar.isVisible, timeout=2000)
    count, missing = unnamed(window)
    assert count >= 20
    assert missing == []
    # The History tab's controls too, and the file page of the audience.
    window.bottom_tabs.setCurrentWidget(window.history_panel)
    qtbot.waitUntil(lambda: window.history_panel.isVisible(), timeout=2000)
    # The journal is read in a worker: let it answer before the tree is read and the window closed.
    qtbot.waitUntil(lambda: len(window.history_panel.background) == 0, timeout=5000)
    history_count, missing = unnamed(window)
    assert history_count >= 20
    assert missing == []
    print(f"focusable controls named: {count} (Results shown), {history_count} (History shown)")


def test_the_progress_bar_says_what_it_shows(window: MainWindow, qtbot, sandbox) -> None:
    from audience_manager.jobs.events import JobState, Progress

    panel = window.results_panel
    panel.job_started_event("j1", 5000)
    panel.progress_event(
        Progress(
            1200, 5000, 1200, 0, 0, 0, 20.0, 125.0, JobState.RUNNING, people_done=1200, people_total=5000
        )
    )
    iface = QAccessible.queryAccessibleInterface(panel.progress_bar)
    assert iface.text(QAccessible.Text.Name) == "Job progress"
    # The words the bar and the CLI's progress line show (jobs.progress_text), spoken.
    assert iface.text(QAccessible.Text.Description) == (
        "1,200 of 5,000 people (0 failed, 0 skipped), 20 rows/s, 2 min 05 s left"
    )


def test_catalog_items_are_ticked_through_their_accessible_action(window: MainWindow) -> None:
    view = window.catalog_panel.lists[TargetKind.TAG]
    items = QAccessible.queryAccessibleInterface(view)
    first = items.child(0)
    assert first.state().checkable and not first.state().checked
    actions = first.actionInterface()
    assert actions is not None
    toggle = QAccessibleActionInterface.toggleAction()
    assert toggle in actions.actionNames()
    actions.doAction(toggle)
    tag = window.workspace.catalog[TargetKind.TAG][0]
    assert items.child(0).state().checked
    assert [t.id for t in window.session.state.targets] == [tag.id]
    actions.doAction(toggle)
    assert not items.child(0).state().checked
    assert window.session.state.targets == ()
    # An item the mouse selected is ticked by Toggle too (Qt deselects it: it then ticks it).
    second = view.model().index(1, 0)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(second).center())
    assert items.child(1).state().selected and window.session.state.targets == ()
    items.child(1).actionInterface().doAction(toggle)
    assert items.child(1).state().checked
    assert [t.id for t in window.session.state.targets] == [window.workspace.catalog[TargetKind.TAG][1].id]


def test_tab_leaves_the_paste_box_and_pasted_tabs_stay(window: MainWindow, qtbot) -> None:
    box = window.audience_panel.paste_box
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=2000)
    paste(window, ["1\t2"])
    QTest.keyClick(box, Qt.Key.Key_Tab)
    assert not box.hasFocus()
    assert box.toPlainText() == "1\t2"
    assert QApplication.focusWidget() is window.audience_panel.import_button


# -- the whole job by keyboard --------------------------------------------------------------------


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None, "nothing has the keyboard focus"
    return widget


def press(key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(focused(), key, modifier)


def tab_to(target: QWidget, backwards: bool = False, limit: int = 80) -> list[str]:
    """Press Tab (Shift+Tab) until `target` has the focus; returns the widgets passed on the way."""
    passed = []
    for _ in range(limit):
        widget = focused()
        if widget is target or (target.focusProxy() is not None and widget is target.focusProxy()):
            return passed
        passed.append(widget.accessibleName() or type(widget).__name__)
        if backwards:
            press(Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
        else:
            press(Qt.Key.Key_Tab)
    raise AssertionError(f"Tab never reached {target!r}; passed {passed}")


def test_tab_order_starts_at_the_account_and_reads_like_the_window(window: MainWindow, qtbot) -> None:
    catalog, bar, audience, results = (
        window.catalog_panel,
        window.action_bar,
        window.audience_panel,
        window.results_panel,
    )
    window.activateWindow()
    catalog.account_box.setFocus()
    qtbot.waitUntil(catalog.account_box.hasFocus, timeout=2000)
    order = [catalog.accounts_button, catalog.search, catalog.tabs.tabBar(), catalog.lists[TargetKind.TAG]]
    for widget in order:
        press(Qt.Key.Key_Tab)
        assert focused() is widget
    tab_to(bar.action_box)
    tab_to(audience.paste_box)
    tab_to(window.bottom_tabs.tabBar())
    tab_to(results.outcome_combo)
    tab_to(results.table)


# The save dialog's file name completer pops up while the name is typed; the offscreen plugin
# cannot raise it or grab the keyboard for it, and says so.
@pytest.mark.qt_log_ignore(
    *QT_NOISE,
    r"This plugin does not support raise\(\)",
    r"This plugin does not support grabbing the keyboard",
)
def test_a_whole_job_by_keyboard_alone(window: MainWindow, qtbot, sandbox, tmp_path: Path) -> None:
    catalog, audience, results = window.catalog_panel, window.audience_panel, window.results_panel
    tagged = sandbox.state.kit.tags_of
    ids = [str(i) for i in sandbox.known_subscriber_ids(3, state=None)]
    tag = window.workspace.catalog[TargetKind.TAG][0]
    window.activateWindow()
    catalog.account_box.setFocus()
    qtbot.waitUntil(catalog.account_box.hasFocus, timeout=2000)

    # Paste: Tab to the paste box and type the IDs, one a line.
    tab_to(audience.paste_box)
    for sid in ids:
        QTest.keyClicks(audience.paste_box, sid)
        press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: audience.audience is not None and len(audience.audience.rows) == 3, timeout=3000)

    # Tick: back to the catalog's tag list, Space ticks the current (first) tag.
    tab_to(catalog.lists[TargetKind.TAG], backwards=True)
    press(Qt.Key.Key_Space)
    assert [t.id for t in window.session.state.targets] == [tag.id]

    # Run: Ctrl+Return asks; Return confirms (Run is the dialog's default button).
    with qtbot.waitSignal(window.job_finished, timeout=10000) as finished:
        press(Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: window.confirm_dialog is not None and window.confirm_dialog.isVisible())
        qtbot.waitUntil(lambda: window.confirm_dialog.isActiveWindow(), timeout=2000)
        press(Qt.Key.Key_Return)
    job_id = finished.args[0]
    assert all(int(tag.id) in tagged.get(int(i), {}) for i in ids)

    # Filter: Tab to the outcome filter, arrow down to "Succeeded".
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    tab_to(results.outcome_combo)
    while results.outcome_combo.currentData() != ResultsFilter.SUCCEEDED.value:
        press(Qt.Key.Key_Down)
    assert results.filter_model.rowCount() == 3

    # Export: Tab to Export CSV…, Space opens the save dialog; type the name, Return saves.
    tab_to(results.export_button)
    report = tmp_path / "succeeded.csv"
    with qtbot.waitSignal(results.report_exported, timeout=5000):
        press(Qt.Key.Key_Space)
        dialog = results.findChild(QFileDialog)
        assert dialog is not None
        qtbot.waitUntil(dialog.isActiveWindow, timeout=2000)
        edit = focused()
        edit.selectAll()  # type: ignore[attr-defined]
        QTest.keyClicks(edit, str(report))
        press(Qt.Key.Key_Return)
    assert report.read_text(encoding="utf-8-sig").count("succeeded") == 3

    # Undo: Tab to Undo job, Space shows the plan; Return (its default button) runs it.
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    qtbot.waitUntil(results.undo_button.isEnabled, timeout=5000)
    tab_to(results.undo_button)
    press(Qt.Key.Key_Space)
    undo = window.history_panel.undo_dialog
    assert undo is not None
    qtbot.waitUntil(undo.undo_button.isEnabled, timeout=5000)
    qtbot.waitUntil(undo.isActiveWindow, timeout=2000)
    with qtbot.waitSignal(window.job_finished, timeout=10000):
        press(Qt.Key.Key_Return)
    assert all(int(tag.id) not in tagged.get(int(i), {}) for i in ids)
    assert window.workspace.journal().job(window.results_panel.job_id).parent_id == job_id
    assert {o.outcome for o in results.model.outcomes()} == {Outcome.SUCCEEDED}

