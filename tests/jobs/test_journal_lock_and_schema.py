"""The journal's version 3: the state before each write, a job's lock, old and damaged files."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from audience_manager.core.actions import Action
from audience_manager.core.outcomes import Outcome
from audience_manager.core.work import ItemResult, WorkItem
from audience_manager.jobs.events import JobState
from audience_manager.jobs.journal import SCHEMA_VERSION, JobLockedError, Journal, JournalError
from audience_manager.jobs.resume import resume_plan
from audience_manager.jobs.retry import retry_spec
from audience_manager.jobs.runner import Runner
from audience_manager.jobs.undo import undo_spec

from .journal_fakes import ACCOUNT, CountingPlatform
from .runner_fakes import id_audience, spec, tag

# A journal as version 2 wrote it: batches without their state before the write.
V2_BATCHES = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES('schema', '2');
CREATE TABLE batches(job_id TEXT NOT NULL, seq INTEGER NOT NULL, sent_at REAL NOT NULL,
    items TEXT NOT NULL, PRIMARY KEY(job_id, seq)) WITHOUT ROWID;
INSERT INTO batches VALUES('old', 1, 0, '1\t1\t1');
"""


def test_a_version_2_journal_gains_the_before_column_and_keeps_its_batches(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(V2_BATCHES)
    db.close()
    with Journal(path) as journal:
        db = journal.read()
        assert "before" in {r[1] for r in db.execute("PRAGMA table_info(batches)")}
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == str(SCHEMA_VERSION)
        assert journal.sends("old") == {(1, "1"): 1}
        assert journal.states_before(["old"]) == {}
    with Journal(path) as journal:  # opening again changes nothing
        assert journal.sends("old") == {(1, "1"): 1}


def test_a_damaged_journal_names_its_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError) as caught:
        Journal(path)
    assert str(path) in str(caught.value) and "move it" in str(caught.value)


def test_the_first_state_before_wins_over_resends_and_retries(tmp_path: Path) -> None:
    t = tag(1)
    item = WorkItem(1, "1", "1", t)
    with Journal(tmp_path / "j.sqlite3") as journal:
        job = journal.create_job(spec(id_audience([1]), t), ACCOUNT)
        journal.job_started(job)
        journal.batch_sent(job, [item], {(1, t.id): "no"})  # its answer is lost
        journal.job_ended(job, JobState.INTERRUPTED, "")
        journal.job_started(job)
        journal.batch_sent(job, [item], {(1, t.id): "yes"})  # the resume finds it done
        journal.results_received(job, [ItemResult(item, Outcome.UNCHANGED, "Already had this tag", "yes")])
        journal.job_ended(job, JobState.FINISHED, "")
        assert journal.states_before([job]) == {(1, t.id): "no"}
        plan = undo_spec(journal, job)
        assert plan.possible and plan.rows_to_revert == 1 and plan.specs[0].action is Action.UNTAG


def test_a_job_running_in_a_live_process_is_refused_and_a_dead_ones_is_taken(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        job = journal.create_job(spec(id_audience(range(1, 11))), ACCOUNT)
        journal.job_started(job)
        # Another live process on this machine owns it (our parent stands for it).
        journal.read().execute("UPDATE jobs SET owner_pid=? WHERE id=?", (os.getppid(), job))
        journal.close()
    with Journal(tmp_path / "j.sqlite3") as journal:
        with pytest.raises(JobLockedError, match="running in another process"):
            journal.job_started(job)
        with pytest.raises(Exception, match="still running"):
            resume_plan(journal, job)
        # The owner dies (a pid that is not running): the lock is free.
        journal.read().execute("UPDATE jobs SET owner_pid=? WHERE id=?", (2**22 + 12345, job))
        plan = resume_plan(journal, job)
        asyncio.run(Runner(CountingPlatform(), plan.spec, recorder=journal, job_id=job, done=plan.done).run())
        assert journal.job(job).state.value == "finished"


def test_the_same_job_twice_in_one_process_is_refused(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        job = journal.create_job(spec(id_audience(range(1, 11))), ACCOUNT)
        journal.job_started(job)
        with Journal(tmp_path / "j.sqlite3") as other, pytest.raises(JobLockedError, match="already running"):
            other.job_started(job)


def test_a_retry_and_its_job_undo_as_one_and_twice_is_refused(tmp_path: Path) -> None:
    platform = CountingPlatform(subscribers=50, raise_rate=0.5)
    platform.tags = {"1": {"5"}}
    with Journal(tmp_path / "j.sqlite3") as journal:
        first = spec(id_audience(range(1, 301)))
        job = journal.create_job(first, ACCOUNT)
        asyncio.run(Runner(platform, first, recorder=journal, job_id=job).run())
        platform.raise_rate = 0.0
        retry = retry_spec(journal, job) if journal.job(job).failed else None
        family = [job]
        if retry is not None:
            child = journal.create_job(retry.spec, ACCOUNT, parent_id=job, kind=retry.kind)
            asyncio.run(Runner(platform, retry.spec, recorder=journal, job_id=child).run())
            family.append(child)
        assert len(family) == 2, "no batch failed: change the seed"
        assert journal.family(family[-1]) == family == journal.family(job)
        plan = undo_spec(journal, family[-1])
        assert plan.possible
        for s in plan.specs:
            u = journal.create_job(s, ACCOUNT, parent_id=family[-1], kind=plan.kind)
            asyncio.run(Runner(platform, s, recorder=journal, job_id=u).run())
        assert platform.tags["1"] == {"5"}
        for member in family:
            again = undo_spec(journal, member)
            assert again.impossible_reason and "already undone" in again.impossible_reason
