"""Desktop integration of the real window: files from the command line open in the audience panel
(the menu's %F, a drop on the launcher), one application id, the app named once in the title, the
third-party notices in About."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from audience_manager import app
from audience_manager.ui.main_window import MainWindow

CSV = "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\nnot-an-email,Nobody\nann@example.com,Ann\n"


@pytest.fixture
def app_names(qapp: QApplication) -> Iterator[QApplication]:
    """make_application on the test's QApplication, its names put back afterwards."""
    saved = (qapp.applicationName(), qapp.applicationDisplayName(), qapp.desktopFileName())
    yield app.make_application([])
    qapp.setApplicationName(saved[0])
    qapp.setApplicationDisplayName(saved[1])
    qapp.setDesktopFileName(saved[2])


def test_a_file_on_the_command_line_opens_in_the_audience_panel(
    window: MainWindow, qtbot, tmp_path: Path
) -> None:
    csv = tmp_path / "subscribers.csv"
    csv.write_text(CSV)
    args = app.parse_args(["-style", "fusion", str(csv)])  # a Qt option's value is not a file
    assert args.files == [str(csv)]
    task = app.open_given_files(window, args.files)
    assert task is not None
    panel = window.audience_panel
    qtbot.waitUntil(lambda: task.done() and not panel.busy and panel.audience is not None, timeout=5000)
    assert panel.file_path == csv
    assert [r.identifier for r in panel.audience.rows] == ["ann@example.com", "bob@example.com"]
    assert len(panel.audience.invalid) == 1 and len(panel.audience.duplicates) == 1


def test_a_file_the_audience_does_not_read_is_not_opened(window: MainWindow, tmp_path: Path) -> None:
    pdf = tmp_path / "list.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    assert app.open_given_files(window, [str(pdf)]) is None
    assert window.audience_panel.file_path is None


def test_the_window_carries_the_desktop_files_id_and_names_the_app_once(
    app_names: QApplication, window: MainWindow
) -> None:
    assert app_names.desktopFileName() == app.APP_ID  # the .desktop file's name without .desktop
    assert app_names.applicationName() == app.APP_ID  # X11 WM_CLASS = StartupWMClass
    window._accounts_changed()  # the title is set from the workspace, demo here
    title = window.windowTitle()
    assert title.count("Audience Manager") == 1
    # Qt appends the display name to a title unless it ends with it (Linux, Windows).
    assert title.endswith(app_names.applicationDisplayName())


def test_about_shows_the_third_party_notices(window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    from audience_manager.ui import about_dialog

    notices = tmp_path / "THIRD-PARTY-NOTICES.txt"
    notices.write_text("PySide6_Essentials 6.x: LGPL-3.0-only\nGNU LESSER GENERAL PUBLIC LICENSE\n")
    monkeypatch.setattr(about_dialog, "notices_path", lambda: notices)
    window.about_action.trigger()
    dialog = window.about_dialog
    assert dialog is not None
    dialog.notices_button.click()
    assert dialog.notices_dialog is not None and dialog.notices_dialog.isVisible()
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in dialog.notices_dialog.text.toPlainText()
    dialog.notices_dialog.close()
    dialog.close()


def test_without_a_build_about_says_where_the_notices_come_from(window: MainWindow, monkeypatch) -> None:
    from audience_manager.ui import about_dialog

    monkeypatch.setattr(about_dialog, "notices_path", lambda: None)
    assert "Lesser General Public License" in about_dialog.notices_text()


def test_the_app_reports_the_file_it_was_given(tmp_path: Path) -> None:
    """The whole app in its own process, as the package's smoke test runs it."""
    csv = tmp_path / "subscribers.csv"
    csv.write_text(CSV)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "AUDIENCE_MANAGER_HOME": str(tmp_path / "home")}
    code = "import sys; from audience_manager.app import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, "--report-audience", str(csv)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"audience: 2 rows to send, 1 invalid, 1 duplicate from {csv}" in done.stdout


def test_the_window_layout_moves_from_qts_own_place_to_the_config_folder(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QSettings, QStandardPaths

    from audience_manager.store import paths

    formats = (QSettings.Format.NativeFormat, QSettings.Format.IniFormat)
    default = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    for kind in formats:  # Qt's own place (~/.config/<organization>/...), in tmp
        QSettings.setPath(kind, QSettings.Scope.UserScope, str(tmp_path / "qt-native"))
    try:
        old = QSettings(app.ORGANIZATION, app.APPLICATION)
        old.setValue("window/geometry", "saved-geometry")
        old.sync()
        config = tmp_path / "config"
        monkeypatch.delenv(paths.HOME_VARIABLE)
        here = paths.Places(config, tmp_path / "data", tmp_path / "logs")
        monkeypatch.setattr(paths, "places", lambda: here)

        moved = app.settings()
        assert moved.fileName() == str(config / "window.ini")
        assert moved.value("window/geometry") == "saved-geometry"
        moved.setValue("window/geometry", "newer")
        moved.sync()
        assert app.settings().value("window/geometry") == "newer"  # copied once, never again
    finally:
        for kind in formats:
            QSettings.setPath(kind, QSettings.Scope.UserScope, default)


def test_a_file_opened_from_finder_or_the_dock_opens_in_the_audience_panel(
    window: MainWindow, qtbot, qapp: QApplication, tmp_path: Path
) -> None:
    from PySide6.QtGui import QFileOpenEvent

    csv = tmp_path / "from-finder.csv"
    csv.write_text(CSV)
    handler = app.file_open_filter(window)
    qapp.installEventFilter(handler)
    try:
        QApplication.sendEvent(qapp, QFileOpenEvent(str(csv)))
        panel = window.audience_panel
        qtbot.waitUntil(lambda: panel.file_path == csv and not panel.busy and panel.audience is not None)
        assert len(panel.audience.rows) == 2
    finally:
        qapp.removeEventFilter(handler)
