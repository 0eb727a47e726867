"""SIGTERM to a real `python -m audience_manager` while a job runs: the window closes as its close
button does, the job is cancelled and journaled (never left "running"), and the process exits by
itself with 128 + 15."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROWS = 30_000  # long enough to be mid-job when the signal comes


def _count(journal: Path, sql: str) -> int:
    if not journal.exists():
        return 0
    db = sqlite3.connect(journal, timeout=5)
    try:
        row = db.execute(sql).fetchone()
        return int(row[0]) if row else 0
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


@pytest.mark.slow
def test_sigterm_mid_job_closes_cleanly_and_journals_the_job(tmp_path: Path) -> None:
    env = {**os.environ, "AUDIENCE_MANAGER_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    app = subprocess.Popen(
        [sys.executable, "-m", "audience_manager", "--smoke-rows", str(ROWS)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    journal = tmp_path / "journal.sqlite3"
    try:
        deadline = time.monotonic() + 60
        while _count(journal, "SELECT count(*) FROM batches") < 3:
            assert app.poll() is None, app.communicate()
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.05)
        app.send_signal(signal.SIGTERM)
        _out, err = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()
    assert app.returncode == 128 + signal.SIGTERM, err.decode()
    db = sqlite3.connect(journal)
    try:
        states = db.execute("SELECT state, total, cancelled FROM jobs").fetchall()
    finally:
        db.close()
    assert len(states) == 1
    state, total, cancelled = states[0]
    assert total == ROWS
    assert state == "cancelled", states  # not "running": the job was ended and recorded
    assert cancelled > 0
    log = (tmp_path / "logs" / "audience-manager.log").read_text(encoding="utf-8")
    assert "SIGTERM received: closing the window" in log
