from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from audience_manager.core.outcomes import Outcome
from audience_manager.jobs import history
from audience_manager.jobs import journal as journal_module
from audience_manager.jobs.events import JobState
from audience_manager.jobs.journal import Journal
from audience_manager.jobs.resume import CannotResumeError, resume_plan
from audience_manager.jobs.runner import Runner
from audience_manager.jobs.undo import undo_spec

from .journal_fakes import ACCOUNT, CountingPlatform, DyingRecorder
from .runner_fakes import id_audience, spec, tag


async def run_until_dead(runner: Runner, platform: CountingPlatform) -> None:
    task = asyncio.create_task(runner.run())
    while not platform.dead:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)  # let the requests already in flight land, as they would on the server
    task.cancel()  # the "process" is gone; the recorder already stopped writing
    await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("die_at_call", [0, 1, 7, 23, 39])
def test_a_job_killed_mid_run_resumes_with_nothing_lost_and_only_in_flight_rows_sent_again(
    tmp_path: Path, die_at_call: int
) -> None:
    path = tmp_path / "journal.sqlite3"
    concurrency = 3
    platform = CountingPlatform(subscribers=4000, latency=0.001, die_at_call=die_at_call, seed=die_at_call)
    platform.tags["1"] = {str(i) for i in range(1, 4001, 5)}  # some already had the tag
    audience = id_audience(range(1, 4001), invalid=["x"])
    job = spec(audience, tag(1))
    journal = Journal(path)
    job_id = journal.create_job(job, ACCOUNT)
    runner = Runner(
        platform, job, recorder=DyingRecorder(journal, platform), job_id=job_id, concurrency=concurrency
    )
    asyncio.run(run_until_dead(runner, platform))
    # The dead process never closes its journal: what it held in memory is gone, and so is the
    # process's knowledge that it was running the job.
    journal_module._RUNNING_HERE.clear()

    journal = Journal(path)
    offered = journal.interrupted_jobs()
    assert [j.id for j in offered] == [job_id]
    plan = resume_plan(journal, job_id)
    assert plan.in_flight <= concurrency * 100
    assert plan.spec == job
    platform.dead, platform.die_at_call = False, None
    before = Counter(platform.applied)
    resumed = Runner(
        platform, plan.spec, recorder=journal, job_id=job_id, done=plan.done, concurrency=concurrency
    )
    asyncio.run(resumed.run())

    outcomes = history.job_outcomes(journal, job_id)
    pairs = Counter((o.row, o.target) for o in outcomes)
    assert set(pairs) == {(r, "tag-1") for r in range(1, 4002)} and max(pairs.values()) == 1
    record = journal.job(job_id)
    assert record.state is JobState.FINISHED and record.starts == 2 and record.done == 4001
    # On the platform: everyone tagged, and only rows in flight at the "kill" went out twice.
    assert platform.tags["1"] == {str(i) for i in range(1, 4001)}
    twice = [pair for pair, n in platform.applied.items() if n > 1]
    assert len(twice) <= concurrency * 100
    assert all(before[pair] == 1 for pair in twice)
    assert len(twice) == plan.in_flight or len(twice) <= plan.in_flight
    # Whoever already had the tag is still reported unchanged, not succeeded.
    by_row = {o.row: o.outcome for o in outcomes}
    assert all(
        by_row[r] is Outcome.UNCHANGED for r in range(1, 4001, 5) if platform.applied[(str(r), "1")] == 1
    )
    # This platform cannot read the state before a write: undo cannot tell whether a re-sent
    # row's first send landed, and says so.
    notes = " ".join(undo_spec(journal, job_id).notes)
    if twice:  # their first send landed, so the resume found them tagged
        assert "state before the job is unknown" in notes
    journal.close()


def test_a_finished_job_cannot_be_resumed_and_says_to_retry(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        job = spec(id_audience([1, 2]))
        job_id = journal.create_job(job, ACCOUNT)
        asyncio.run(Runner(CountingPlatform(), job, recorder=journal, job_id=job_id).run())
        with pytest.raises(CannotResumeError, match="retry"):
            resume_plan(journal, job_id)


def test_a_cancelled_job_resumes_its_cancelled_rows(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        job = spec(id_audience(range(1, 1001)), tag(1), tag(2))
        job_id = journal.create_job(job, ACCOUNT)
        platform = CountingPlatform(subscribers=1000, latency=0.05)

        async def cancel_soon() -> None:
            runner = Runner(platform, job, recorder=journal, job_id=job_id, concurrency=2)
            async for _ in runner.events():
                if platform.apply_calls:
                    runner.cancel()

        asyncio.run(cancel_soon())
        assert journal.job(job_id).state is JobState.CANCELLED
        plan = resume_plan(journal, job_id)
        assert 0 < plan.remaining < 2000
        asyncio.run(Runner(platform, plan.spec, recorder=journal, job_id=job_id, done=plan.done).run())
        outcomes = history.job_outcomes(journal, job_id)
        assert len(outcomes) == 2000
        assert {o.outcome for o in outcomes} <= {Outcome.SUCCEEDED, Outcome.UNCHANGED, Outcome.FAILED}
        record = journal.job(job_id)
        assert record.state is JobState.FINISHED and record.starts == 2
        assert (record.done, record.cancelled) == (2000, 0)


def test_rows_in_flight_at_cancel_are_cancelled_not_failed_and_a_resume_settles_them(tmp_path: Path) -> None:
    """Ctrl+C while requests are on their way: those rows may have been applied, so they are not
    failed; they stay sent-without-answer for the journal and the resume sends them again."""
    from audience_manager.jobs.runner import CANCELLED_IN_FLIGHT

    platform = CountingPlatform(subscribers=100, latency=30)
    job = spec(id_audience(range(1, 101)))
    with Journal(tmp_path / "j.sqlite3") as journal:
        job_id = journal.create_job(job, ACCOUNT)
        runner = Runner(platform, job, recorder=journal, job_id=job_id, concurrency=2, cancel_grace=0.05)

        async def cancel_soon() -> None:
            task = asyncio.ensure_future(runner.run())
            await asyncio.sleep(0.05)
            runner.cancel()
            await task

        asyncio.run(cancel_soon())
        records = journal.outcome_records(job_id).values()
        assert {r.outcome for r in records} == {Outcome.CANCELLED}
        in_flight = [r for r in records if r.reason == CANCELLED_IN_FLIGHT]
        assert in_flight and all(not r.answered for r in in_flight)
        plan = resume_plan(journal, job_id)
        # Cancelled rows are not done: all go again, those that were on their way counted as in flight.
        assert plan.remaining == 100 and plan.in_flight == len(in_flight)
        platform.latency = 0
        asyncio.run(Runner(platform, plan.spec, recorder=journal, job_id=job_id, done=plan.done).run())
        assert {r.outcome for r in journal.outcome_records(job_id).values()} == {Outcome.SUCCEEDED}
