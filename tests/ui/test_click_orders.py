"""The window in the orders a person clicks: every control follows what happened, whatever came first."""

from __future__ import annotations

from audience_manager.core.actions import TargetKind
from audience_manager.ui.main_window import MainWindow

from .test_main_window import tag_ids
from .window_helpers import drop_files


def _csv(tmp_path, emails: list[str], name: str = "list.csv"):
    path = tmp_path / name
    path.write_text("email,first\n" + "".join(f"{e},P\n" for e in emails))
    return path


def test_tick_then_import_enables_run_and_preview(window: MainWindow, qtbot, sandbox, tmp_path) -> None:
    window.catalog_panel.set_checked(TargetKind.TAG, set(sorted(tag_ids(window))[:1]))
    assert not window.action_bar.run_button.isEnabled()
    csv = _csv(tmp_path, sandbox.known_emails(50))
    assert drop_files(window.centralWidget(), [csv]) == (True, True)
    panel = window.audience_panel
    qtbot.waitUntil(lambda: panel.audience is not None and not panel.busy, timeout=5000)
    assert len(panel.audience.rows) == 50
    qtbot.waitUntil(window.action_bar.run_button.isEnabled, timeout=2000)
    assert window.run_job_action.isEnabled() and window.preview_job_action.isEnabled()
