from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from audience_manager.core.actions import Action
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome
from audience_manager.core.work import ItemResult, WorkItem
from audience_manager.jobs import history
from audience_manager.jobs.events import JobState
from audience_manager.jobs.journal import Journal, UnknownJobError
from audience_manager.jobs.runner import Runner

from .journal_fakes import ACCOUNT, CountingPlatform
from .runner_fakes import MemoryPlatform, id_audience, spec, tag


def test_a_job_and_every_outcome_are_recorded_and_read_back(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    audience = id_audience(range(1, 251), invalid=["abc"], duplicates=["7"])
    job = spec(audience, tag(1), tag(2))
    job_id = journal.create_job(job, ACCOUNT)
    platform = MemoryPlatform(subscribers=200)
    runner = Runner(platform, job, recorder=journal, job_id=job_id, concurrency=3)
    outcomes = asyncio.run(runner.run())

    record = journal.job(job_id)
    assert record.state is JobState.FINISHED and record.starts == 1 and record.kind == "run"
    assert record.total == 252 * 2 == record.done
    counts = Counter(o.outcome for o in outcomes)
    assert (
        (record.succeeded, record.failed, record.skipped)
        == (400, 100, 4)
        == (
            counts[Outcome.SUCCEEDED],
            counts[Outcome.FAILED],
            counts[Outcome.SKIPPED],
        )
    )
    assert history.job_outcomes(journal, job_id) == outcomes
    assert journal.spec(job_id) == job
    assert journal.account(job_id) == ACCOUNT
    assert journal.sent_without_outcome(job_id) == set()
    assert set(journal.sends(job_id).values()) == {1}
    journal.close()


def test_batch_mark_is_committed_before_the_request_and_outcomes_before_the_next(tmp_path: Path) -> None:
    """What another process would see at any moment (the state a kill leaves) is bounded by the
    requests in flight: every batch going out is marked, and nothing already answered is pending."""
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    concurrency = 4
    seen: list[int] = []

    class Watched(MemoryPlatform):
        async def apply(
            self, action: Action, items: Sequence[WorkItem], value: str | None = None
        ) -> list[ItemResult]:
            sent = set(spy.sends(job_id))
            done = set(spy.outcome_records(job_id))
            assert {(i.row, i.target.id) for i in items} <= sent, "request sent before its batch was marked"
            seen.append(len(sent - done))
            return await super().apply(action, items, value)

    job = spec(id_audience(range(1, 3001)))
    job_id = journal.create_job(job, ACCOUNT)
    spy = Journal(path)  # another connection: sees only what is committed
    platform = Watched(subscribers=3000, latency=0.002)
    asyncio.run(Runner(platform, job, recorder=journal, job_id=job_id, concurrency=concurrency).run())
    assert len(seen) == 30
    assert max(seen) <= concurrency * 100
    assert max(seen) > 100  # several really were in flight at once
    journal.close()


def test_job_ids_can_be_given_by_a_unique_prefix(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        a = journal.create_job(spec(id_audience([1])), ACCOUNT, job_id="abc123")
        journal.create_job(spec(id_audience([1])), ACCOUNT, job_id="abd456")
        assert journal.find_job("abc") == a
        for bad in ("ab", "zzz", ""):
            try:
                journal.find_job(bad)
            except UnknownJobError as exc:
                assert str(exc)
            else:
                raise AssertionError(f"{bad!r} found a job")


def test_a_dead_process_job_is_offered_for_resume_and_a_live_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path) as journal:
        dead = journal.create_job(spec(id_audience([1, 2])), ACCOUNT, job_id="dead")
        live = journal.create_job(spec(id_audience([1, 2])), ACCOUNT, job_id="live")
        never = journal.create_job(spec(id_audience([1, 2])), ACCOUNT, job_id="never")
        journal.job_started(dead)
        journal.job_started(live)
        # Running in this process: not interrupted, whichever Journal object looks.
        assert journal.interrupted_jobs() == []
        with Journal(path) as another:
            assert another.interrupted_jobs() == []
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    other = sqlite3.connect(path)
    other.execute("UPDATE jobs SET owner_pid=? WHERE id=?", (exited.pid, dead))
    other.execute("UPDATE jobs SET owner_pid=? WHERE id=?", (os.getppid(), live))
    other.commit()
    other.close()
    with Journal(path) as journal:
        found = journal.interrupted_jobs()
        assert [j.id for j in found] == [dead]
        assert found[0].state is JobState.INTERRUPTED and "Resume" in found[0].reason
        assert journal.job(live).state is JobState.RUNNING
        assert journal.job(never).state is JobState.PENDING


def test_history_filters_and_deletes_old_jobs(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        a = journal.create_job(spec(id_audience([1, 2])), ACCOUNT, job_id="a")
        b = journal.create_job(spec(id_audience([1]), action=Action.UNTAG), ACCOUNT, job_id="b")
        other = ACCOUNT.with_changes(name="other")
        c = journal.create_job(
            JobSpec(account="other", action=Action.TAG, targets=(tag(1),), audience=id_audience([1])),
            other,
            job_id="c",
        )
        asyncio.run(Runner(CountingPlatform(), journal.spec(a), recorder=journal, job_id=a).run())
        db = sqlite3.connect(journal.path)
        db.execute("UPDATE jobs SET created_at = created_at - 40 * 86400 WHERE id = 'a'")
        db.commit()
        db.close()
        every = history.list_jobs(journal)
        assert [j.id for j in every] == [c, b, a]
        assert [j.id for j in history.list_jobs(journal, history.JobFilter(account="other"))] == [c]
        assert [j.id for j in history.list_jobs(journal, history.JobFilter(action=Action.UNTAG))] == [b]
        finished = history.list_jobs(journal, history.JobFilter(state=JobState.FINISHED))
        assert [j.id for j in finished] == [a]
        assert history.describe(finished[0]).startswith("a  ")
        recent = history.list_jobs(journal, history.JobFilter(since=every[0].created_at - 86400))
        assert [j.id for j in recent] == [c, b]
        assert history.delete_jobs_older_than(journal, days=30) == 1
        assert [j.id for j in history.list_jobs(journal)] == [c, b]
        with pytest.raises(UnknownJobError):
            history.job_outcomes(journal, a)
        for table in ("audience", "batches", "results"):
            assert journal.read().execute(f"SELECT count(*) FROM {table} WHERE job_id='a'").fetchone() == (0,)


def test_a_running_jobs_counts_are_visible_to_other_readers(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    spy = Journal(path)
    seen: list[int] = []

    class Slow(MemoryPlatform):
        async def apply(
            self, action: Action, items: Sequence[WorkItem], value: str | None = None
        ) -> list[ItemResult]:
            seen.append(spy.job(job_id).done)
            return await super().apply(action, items, value)

    job = spec(id_audience(range(1, 2001)))
    job_id = journal.create_job(job, ACCOUNT)
    asyncio.run(
        Runner(
            Slow(subscribers=2000, latency=0.06), job, recorder=journal, job_id=job_id, concurrency=1
        ).run()
    )
    assert seen[0] == 0 and 0 < seen[-1] < 2000  # counted while running, about once a second
    assert journal.job(job_id).done == 2000
    journal.close()
    spy.close()
