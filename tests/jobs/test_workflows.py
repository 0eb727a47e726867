"""The one home of start, resume, retry, undo and preview-into-run, driven without Qt."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from audience_manager.core.outcomes import Outcome
from audience_manager.jobs import history, workflows
from audience_manager.jobs.events import JobFinished, JobStarted, JobState, OutcomesReady
from audience_manager.jobs.journal import KIND_RETRY, KIND_UNDO, Journal
from audience_manager.jobs.preview import preview
from audience_manager.jobs.retry import NothingToRetryError

from .journal_fakes import ACCOUNT, CountingPlatform
from .runner_fakes import id_audience, spec, tag


async def _drain(run: workflows.JobRun) -> list[object]:
    return [event async for event in run.events()]


def test_start_job_records_before_running_and_reports_its_end(tmp_path: Path) -> None:
    platform = CountingPlatform(subscribers=50)
    job = spec(id_audience(range(1, 61)), tag(1))
    with Journal(tmp_path / "j.sqlite3") as journal:
        run = workflows.start_job(journal, platform, ACCOUNT, job)
        assert journal.job(run.job_id).total == 60  # recorded before any request
        events = asyncio.run(_drain(run))
        assert isinstance(events[0], JobStarted) and isinstance(events[-1], JobFinished)
        assert run.state is JobState.FINISHED
        outcomes = run.outcomes()
        assert len(outcomes) == 60 and all(o.target_id == "1" for o in outcomes)
        assert [o.outcome for o in history.job_outcomes(journal, run.job_id)] == [o.outcome for o in outcomes]


def test_retry_leaves_out_rows_that_do_not_exist_and_says_so(tmp_path: Path) -> None:
    platform = CountingPlatform(subscribers=100, fail_item_rate=0.3, seed=5)
    job = spec(id_audience(range(1, 121)), tag(1))
    with Journal(tmp_path / "j.sqlite3") as journal:
        run = workflows.start_job(journal, platform, ACCOUNT, job)
        asyncio.run(_drain(run))
        failed = {o.row for o in run.outcomes() if o.outcome is Outcome.FAILED}
        # The unknown ids 101-120 that reached the platform (not refused first by the fault).
        missing = {o.row for o in run.outcomes() if o.reason == "Subscriber does not exist"}
        assert missing and missing <= set(range(101, 121)) and failed - missing

        plan = workflows.retry_plan(journal, run.job_id)
        assert {r.row for r in plan.spec.audience.rows} == failed - missing
        assert plan.left_out == len(missing)
        n = len(missing)
        assert f"{n} failed rows left out: the platform said the subscriber does not exist" in plan.summary()

        with pytest.raises(NothingToRetryError, match=f"{n} failed because the subscriber does not exist"):
            workflows.retry_plan(journal, run.job_id, rows=missing)

        platform.fail_item_rate = 0.0
        retry = workflows.start_job(
            journal, platform, ACCOUNT, plan.spec, parent_id=run.job_id, kind=plan.kind
        )
        asyncio.run(_drain(retry))
        assert journal.job(retry.job_id).kind == KIND_RETRY
        # Unknown ids first refused for another reason are tried once more and now say so.
        again = {o.row for o in retry.outcomes() if o.outcome is Outcome.FAILED}
        assert again == (failed - missing) & set(range(101, 121))
        assert {o.outcome for o in retry.outcomes() if o.row <= 100} == {Outcome.SUCCEEDED}


def test_resume_yields_the_earlier_outcomes_after_the_start(tmp_path: Path) -> None:
    platform = CountingPlatform(subscribers=400, die_at_call=2)
    job = spec(id_audience(range(1, 401)), tag(1))
    with Journal(tmp_path / "j.sqlite3") as journal:
        run = workflows.start_job(journal, platform, ACCOUNT, job, concurrency=1)

        async def until_dead() -> None:
            async for _ in run.events():
                if platform.dead:
                    return

        asyncio.run(asyncio.wait_for(until_dead(), 10))
    # A new process: the journal says the job was cut off.
    platform.dead, platform.die_at_call = False, None
    with Journal(tmp_path / "j.sqlite3") as journal:
        journal._mark_interrupted(run.job_id)
        plan, earlier = workflows.prepare_resume(journal, run.job_id)
        assert earlier and plan.remaining == 400 - len(earlier)
        resumed = workflows.resume_job(journal, platform, plan, earlier)
        events = asyncio.run(_drain(resumed))
        assert isinstance(events[0], JobStarted)
        assert isinstance(events[1], OutcomesReady) and events[1].outcomes == earlier
        rows = sorted(o.row for o in resumed.outcomes())
        assert rows == list(range(1, 401))  # the whole job, exactly once each


def test_undo_runs_one_job_after_another_and_each_is_recorded(tmp_path: Path) -> None:
    platform = CountingPlatform(subscribers=100, can_read=True)
    platform.tags["1"] = {str(i) for i in range(1, 11)}  # rows 1-10 already tagged
    job = spec(id_audience(range(1, 51)), tag(1), tag(2))
    with Journal(tmp_path / "j.sqlite3") as journal:
        run = workflows.start_job(journal, platform, ACCOUNT, job)
        asyncio.run(_drain(run))
        plan = workflows.undo_plan(journal, run.job_id)
        assert plan.possible

        async def undo_all() -> list[workflows.JobRun]:
            done = []
            async for undo in workflows.undo_runs(journal, platform, ACCOUNT, plan):
                await _drain(undo)
                done.append(undo)
            return done

        undos = asyncio.run(undo_all())
        assert len(undos) == len(plan.specs) >= 1
        assert all(journal.job(u.job_id).kind == KIND_UNDO for u in undos)
        assert all(journal.job(u.job_id).parent_id == run.job_id for u in undos)
        assert platform.tags["1"] == {str(i) for i in range(1, 11)}  # as before the job
        assert not platform.tags.get("2")


def test_a_previewed_run_does_not_send_rows_found_not_to_exist(tmp_path: Path) -> None:
    platform = CountingPlatform(subscribers=40, can_read=True)
    job = spec(id_audience(range(1, 49)), tag(1))
    report = asyncio.run(preview(platform, job))
    assert report.not_found_rows == frozenset(range(41, 49)) and report.sendable == 40

    previewed = workflows.with_preview(job, report)
    assert len(previewed.audience.rows) == 40
    with Journal(tmp_path / "j.sqlite3") as journal:
        run = workflows.start_job(journal, platform, ACCOUNT, previewed)
        asyncio.run(_drain(run))
    by_row = {o.row: o for o in run.outcomes()}
    assert len(by_row) == 48  # every row still ends with one outcome
    assert {r for r, o in by_row.items() if o.outcome is Outcome.SKIPPED} == set(range(41, 49))
    assert "found by the preview; not sent" in by_row[41].reason
    assert not any(s in {str(i) for i in range(41, 49)} for s, _ in platform.applied)
    assert workflows.with_preview(job, None) is job


def test_never_succeeds_reads_every_platforms_not_found_words() -> None:
    assert workflows.never_succeeds("Subscriber does not exist")
    assert workflows.never_succeeds("Not found on HighLevel: no contact with this email in this location")
    assert workflows.never_succeeds("Not found on Kit: no subscriber with this ID")
    assert not workflows.never_succeeds("HTTP 502 from the server; retried 3 times")


def test_history_counts_people_once_over_several_targets(tmp_path: Path) -> None:
    from audience_manager.core.outcomes import person_outcome

    assert person_outcome([Outcome.SUCCEEDED, Outcome.FAILED]) is Outcome.FAILED
    assert person_outcome([Outcome.UNCHANGED, Outcome.SUCCEEDED]) is Outcome.SUCCEEDED
    assert person_outcome([Outcome.UNCHANGED, Outcome.UNCHANGED]) is Outcome.UNCHANGED
    assert person_outcome([Outcome.SKIPPED, Outcome.SKIPPED]) is Outcome.SKIPPED

    platform = CountingPlatform(subscribers=30)
    platform.tags["2"] = {str(i) for i in range(1, 11)}  # 1-10 already have the second tag
    job = spec(id_audience(range(1, 41), invalid=["x"]), tag(1), tag(2))
    with Journal(tmp_path / "j.sqlite3") as journal:
        run = workflows.start_job(journal, platform, ACCOUNT, job)
        asyncio.run(_drain(run))
        record = journal.job(run.job_id)
        counts = history.people_counts(journal, record)
    # 41 people: 30 known ones changed (a new tag each), 10 unknown failed, 1 invalid skipped.
    assert counts[Outcome.SUCCEEDED] == 30 and counts[Outcome.FAILED] == 10 and counts[Outcome.SKIPPED] == 1
    assert sum(counts.values()) == 41
    assert record.succeeded + record.unchanged == 60  # the pairs: 2 targets x 30 known people


def test_progress_counts_people_and_stops_estimating_once_cancelled() -> None:
    from audience_manager.jobs.events import Progress

    platform = CountingPlatform(subscribers=2000, latency=0.01)
    job = spec(id_audience(range(1, 2001)), tag(1), tag(2))
    run = workflows.start_job(None, platform, ACCOUNT, job, concurrency=1, flush_interval=0.01)

    async def watch() -> list[Progress]:
        seen: list[Progress] = []
        async for event in run.events():
            if isinstance(event, Progress):
                seen.append(event)
                if event.people_done >= 100 and not run.runner._cancel_requested:
                    run.cancel()
        return seen

    seen = asyncio.run(watch())
    assert all(p.people_total == 2000 and p.total == 4000 for p in seen)
    assert all(p.people_done <= p.done // 2 + 1 for p in seen)  # a person is done with both targets
    cancelled_at = next(i for i, p in enumerate(seen) if p.people_done >= 100)
    assert all(p.seconds_left is None for p in seen[cancelled_at + 1 :])
    assert run.state is JobState.CANCELLED
