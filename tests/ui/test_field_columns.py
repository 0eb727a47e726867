"""In the window: a CSV's columns mapped to custom fields (guessed by name), each row's own value
written, blank cells left as they were, and the people not there yet created and tagged."""

from __future__ import annotations

from pathlib import Path

from audience_manager.core.actions import Action, TargetKind
from audience_manager.ui.main_window import MainWindow

from .test_main_window import run_confirmed
from .window_helpers import drop_files


def _drop(window: MainWindow, qtbot, path: Path, rows: int) -> None:
    assert drop_files(window.centralWidget(), [path]) == (True, True)
    panel = window.audience_panel
    qtbot.waitUntil(
        lambda: panel.audience is not None and not panel.busy and len(panel.audience.rows) == rows,
        timeout=15000,
    )


def test_columns_guessed_to_fields_each_row_written_blanks_left(
    window: MainWindow, qtbot, sandbox, tmp_path
) -> None:
    emails = sandbox.known_emails(6, state=None)
    before = {e: dict(sandbox.state.kit.find_email(e).fields) for e in emails}
    path = tmp_path / "people.csv"
    cells = ["Acme", "", "Globex", "Initech", "", "Umbrella"]
    path.write_text(
        "email,first_name,Company,plan,notes\n"
        + "".join(f"{e},P{n},{c},pro,x\n" for n, (e, c) in enumerate(zip(emails, cells, strict=True)))
    )
    window.action_bar.set_action(Action.SET_FIELD)
    _drop(window, qtbot, path, 6)
    panel = window.audience_panel
    assert panel.mapping_box.isVisibleTo(window)
    combos = panel.mapping_combos
    assert set(combos) == {"first_name", "Company", "plan", "notes"}  # the identifier column is not offered
    assert combos["Company"].currentText() == "Company" and combos["plan"].currentText() == "Plan"
    assert combos["notes"].currentText() == "not used" and combos["first_name"].currentText() == "not used"
    combos["plan"].setCurrentIndex(0)  # changed by the user: not used
    qtbot.waitUntil(lambda: window.run_blocker() is None, timeout=3000)
    spec = window.current_spec()
    assert spec is not None and [t.name for t in spec.targets] == ["Company"] and spec.value is None
    run_confirmed(window, qtbot)
    for e, c in zip(emails, cells, strict=True):
        now = sandbox.state.kit.find_email(e).fields
        assert now["company"] == (c or before[e]["company"])
        assert now["plan"] == before[e]["plan"]
    reasons = [o.reason for o in window.results_panel.model.outcomes()]
    assert len(reasons) == 6 and reasons.count("blank cell: left as it was") == 2


def test_create_missing_creates_and_tags_in_the_window(window: MainWindow, qtbot, sandbox, tmp_path) -> None:
    known = sandbox.known_emails(3, state=None)
    firsts = [sandbox.state.kit.find_email(e).first_name for e in known]
    new = ["fresh.lead1@webinar.example", "fresh.lead2@webinar.example"]
    path = tmp_path / "webinar.csv"
    path.write_text("email,first_name\n" + "".join(f"{e},New{n}\n" for n, e in enumerate(known + new)))
    tag = window.workspace.catalog[TargetKind.TAG][0]
    window.action_bar.set_action(Action.TAG)
    window.catalog_panel.set_checked(TargetKind.TAG, {tag.id})
    _drop(window, qtbot, path, 5)
    box = window.audience_panel.create_missing_box
    assert box.isEnabled()
    box.setChecked(True)
    qtbot.waitUntil(lambda: window.run_blocker() is None, timeout=3000)
    spec = window.current_spec()
    assert spec is not None and spec.create_missing and spec.first_name_column == "first_name"
    with qtbot.waitSignal(window.preview_shown, timeout=5000):
        window.preview_action()
    dialog = window.run_action()
    assert dialog is not None
    lines = " ".join(dialog.summary.rows_lines())
    assert "not on" in lines and "will be created first" in lines, lines
    with qtbot.waitSignal(window.job_finished, timeout=5000):
        dialog.run_button.click()
    for n, e in enumerate(new, start=3):
        sub = sandbox.state.kit.find_email(e)
        assert sub is not None and sub.first_name == f"New{n}"
        assert int(tag.id) in sandbox.state.kit.tags_of.get(sub.id, {})
    assert [sandbox.state.kit.find_email(e).first_name for e in known] == firsts
    reasons = [o.reason for o in window.results_panel.model.outcomes()]
    assert reasons.count("created and tagged") == 2
