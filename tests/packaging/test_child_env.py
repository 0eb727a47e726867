"""Programs the frozen app starts get the user's environment, not the bundle's library paths."""

from __future__ import annotations

import os
import stat
import sys
import time
import webbrowser
from pathlib import Path

import pytest

from audience_manager import child_env
from audience_manager.child_env import child_environment, restore_for_children

BUNDLE = "/opt/audience-manager/_internal"


def frozen_env(**extra: str) -> dict[str, str]:
    """What PyInstaller's bootloader and PySide6 hook leave in a Linux onedir app's environment."""
    return {
        "HOME": "/home/ann",
        "PATH": "/usr/local/bin:/usr/bin",
        "LD_LIBRARY_PATH": f"{BUNDLE}:/home/ann/lib",
        "LD_LIBRARY_PATH_ORIG": "/home/ann/lib",
        "QT_PLUGIN_PATH": f"{BUNDLE}/PySide6/Qt/plugins",
        "QML2_IMPORT_PATH": f"{BUNDLE}/PySide6/Qt/qml",
        "_PYI_APPLICATION_HOME_DIR": BUNDLE,
        "_PYI_PARENT_PROCESS_LEVEL": "0",
        **extra,
    }


def test_the_users_library_path_comes_back_and_the_bundles_paths_go() -> None:
    env = child_environment(frozen_env(), BUNDLE)
    assert env == {"HOME": "/home/ann", "PATH": "/usr/local/bin:/usr/bin", "LD_LIBRARY_PATH": "/home/ann/lib"}


def test_a_library_path_the_user_did_not_have_is_removed() -> None:
    env = frozen_env()
    del env["LD_LIBRARY_PATH_ORIG"]
    env["LD_LIBRARY_PATH"] = BUNDLE
    assert "LD_LIBRARY_PATH" not in child_environment(env, BUNDLE)


def test_the_users_own_plugin_and_path_entries_stay() -> None:
    env = frozen_env(
        QT_PLUGIN_PATH=f"{BUNDLE}/PySide6/Qt/plugins{os.pathsep}/home/ann/qtplugins",
        PATH=f"{BUNDLE}{os.pathsep}/usr/bin",
    )
    result = child_environment(env, BUNDLE)
    assert result["QT_PLUGIN_PATH"] == "/home/ann/qtplugins"
    assert result["PATH"] == "/usr/bin"


def test_not_frozen_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    env = frozen_env()
    assert child_environment(env, None) == env
    assert restore_for_children(env) is False
    assert env == frozen_env()


def test_the_browser_opened_for_sign_in_gets_the_users_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real path: webbrowser (what the CLI's sign-in uses, through $BROWSER) starts a program
    with os.environ; after `restore_for_children` in a frozen app that program sees the user's values."""
    seen = tmp_path / "browser-env.txt"
    browser = tmp_path / "browser"
    browser.write_text(
        "#!/bin/sh\n"
        '{ echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH-unset}"; echo "QT_PLUGIN_PATH=${QT_PLUGIN_PATH-unset}";'
        f' echo "URL=$1"; }} > "{seen}"\n'
    )
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    for name, value in frozen_env().items():
        if name not in ("HOME", "PATH"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("BROWSER", str(browser))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", BUNDLE, raising=False)
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # re-read $BROWSER
    monkeypatch.setattr(webbrowser, "_browsers", {})

    assert child_env.bundle_dir() == BUNDLE
    assert restore_for_children() is True
    assert os.environ["LD_LIBRARY_PATH"] == "/home/ann/lib"
    assert webbrowser.open("https://app.kit.com/oauth/authorize?x=1")
    for _ in range(250):  # webbrowser starts the program and does not wait for it
        if seen.exists() and "URL=" in seen.read_text():
            break
        time.sleep(0.02)
    assert seen.read_text().splitlines() == [
        "LD_LIBRARY_PATH=/home/ann/lib",
        "QT_PLUGIN_PATH=unset",
        "URL=https://app.kit.com/oauth/authorize?x=1",
    ]
