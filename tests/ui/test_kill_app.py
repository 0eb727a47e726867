"""Kill the desktop app with SIGKILL at random moments of a 30,000-row demo job, start it again and
take the resume offer each time; the journal must end with exactly one outcome for every row.

The app runs as `python -m audience_manager --smoke-rows 30000` (the `--smoke` path: paste, tick a
tag, Run, confirm, as a user would), then `--resume-interrupted`, which takes the start-up resume
offer through the same code as the banner's Resume button.

Limit: the demo sandbox lives inside the app's process and is rebuilt at every start, so each run
talks to a fresh sandbox; what the platform received across runs cannot be checked here (the CLI
kill test, tests/jobs/test_kill.py, does that against one sandbox). What is checked is what the
user relies on after a crash: the journal's completeness, and that only the batches in flight at a
kill were sent again.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audience_manager.core.platforms import RateLimit
from audience_manager.jobs.journal import Journal
from audience_manager.jobs.runner import default_concurrency

ROWS = 30_000  # three runs send at most ~7,000 rows each (a burst, then 1,000 rows/s): never all
KILLS = 3
BATCH = 100  # Kit v4 bulk (the demo's first account is Kit with OAuth)
SEED = 20261123


def _app(home: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AUDIENCE_MANAGER_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen(
        [sys.executable, "-m", "audience_manager", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _query(journal_file: Path, sql: str) -> tuple[object, ...] | None:
    if not journal_file.exists():
        return None
    db = sqlite3.connect(journal_file, timeout=5)
    try:
        row: tuple[object, ...] | None = db.execute(sql).fetchone()
        return row
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()


def _batches(journal_file: Path) -> int:
    row = _query(journal_file, "SELECT count(*) FROM batches")
    return int(row[0]) if row else 0  # type: ignore[call-overload]


def _job_id(journal_file: Path) -> str | None:
    row = _query(journal_file, "SELECT id FROM jobs")
    return None if row is None else str(row[0])


def _kit_oauth_concurrency() -> int:
    from audience_manager.core.platforms import Capabilities

    caps = Capabilities(
        actions=frozenset(), identifiers=frozenset(), items_per_request=BATCH, rate=RateLimit(600, 60)
    )
    return default_concurrency(caps)


@pytest.mark.slow
def test_the_app_killed_three_times_resumes_every_row_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    journal_file = home / "journal.sqlite3"
    rng = random.Random(SEED)
    bound = _kit_oauth_concurrency() * BATCH
    in_flight: set[tuple[int, str]] = set()
    in_flight_per_kill: list[int] = []
    started = time.monotonic()
    kills = 0
    while kills < KILLS:
        args = ["--resume-interrupted"] if kills else ["--smoke-rows", str(ROWS)]
        before = _batches(journal_file)
        process = _app(home, *args)
        deadline = time.monotonic() + 30
        while _batches(journal_file) <= before and process.poll() is None:  # until it sends again
            assert time.monotonic() < deadline, "the job never started sending"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 1.0))
        assert process.poll() is None, process.communicate()[1].decode()[-2000:]
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        job_id = _job_id(journal_file)
        assert job_id is not None
        with Journal(journal_file) as journal:
            unanswered = journal.sent_without_outcome(job_id)
        in_flight |= unanswered
        in_flight_per_kill.append(len(unanswered))

    final = _app(home, "--resume-interrupted")
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, (out + err).decode()[-2000:]
    assert b"0 missing" in out
    elapsed = time.monotonic() - started

    assert job_id is not None
    with Journal(journal_file) as journal:
        record = journal.job(job_id)
        assert record.state.value == "finished" and record.starts == KILLS + 1
        assert record.total == ROWS and record.done == ROWS
        target = record.targets[0].id
        records = journal.outcome_records(job_id)
        assert set(records) == {(row, target) for row in range(1, ROWS + 1)}, "no row lost"
        sends = journal.sends(job_id)
        lines = [json.loads(text) for (text,) in journal.read().execute(
            "SELECT lines FROM results WHERE job_id=?", (job_id,)
        )]
    per_pair: dict[tuple[int, str], int] = {}
    for batch in lines:
        for row, target_id, *_ in batch:
            per_pair[(row, target_id)] = per_pair.get((row, target_id), 0) + 1
    assert set(per_pair.values()) == {1}, "every row has exactly one outcome recorded"
    resent = {pair for pair, n in sends.items() if n > 1}
    assert resent <= in_flight, "only rows in flight at a kill were sent again"
    assert max(in_flight_per_kill) <= bound, (in_flight_per_kill, bound)
    print(f"\n{kills} kills, in flight at each {in_flight_per_kill}, re-sent {len(resent)}, {elapsed:.1f} s")
