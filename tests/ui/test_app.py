"""`audience-manager --smoke`: the whole app, in its own process, runs a demo job and checks it."""

from __future__ import annotations

import os
import subprocess
import sys


def run_app(*args: str, tmp_path: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "AUDIENCE_MANAGER_HOME": str(tmp_path)}
    code = "import sys; from audience_manager.app import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_smoke_runs_a_demo_job_through_the_window_and_exits_0(tmp_path) -> None:
    done = run_app("--smoke", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "17 outcomes for 17 row x target pairs" in done.stdout
    assert (tmp_path / "journal.sqlite3").exists()
    assert (tmp_path / "window.ini").exists()  # the layout is remembered, in the app's own place


def test_quit_after_show_exits_cleanly(tmp_path) -> None:
    done = run_app("--quit-after-show", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
