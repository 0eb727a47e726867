from __future__ import annotations

import asyncio
import collections

import pytest

from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.jobs.events import JobEvent, JobFinished, JobStarted, JobState, OutcomesReady, Progress
from audience_manager.jobs.runner import CANCELLED_BEFORE_SENDING, Runner, default_concurrency

from .runner_fakes import ListRecorder, MemoryPlatform, caps, id_audience, spec, tag


async def collect(runner: Runner, *, cancel_after_outcomes: int | None = None) -> list[JobEvent]:
    events: list[JobEvent] = []
    seen = 0
    async for event in runner.events():
        events.append(event)
        if isinstance(event, OutcomesReady):
            seen += len(event.outcomes)
            if cancel_after_outcomes is not None and seen >= cancel_after_outcomes:
                runner.cancel()
    return events


def outcomes_of(events: list[JobEvent]) -> list[RowOutcome]:
    return [o for e in events if isinstance(e, OutcomesReady) for o in e.outcomes]


def finished(events: list[JobEvent]) -> JobFinished:
    assert isinstance(events[-1], JobFinished)
    return events[-1]


def assert_exactly_one_outcome(events: list[JobEvent], pairs: set[tuple[int, str]]) -> None:
    got = collections.Counter((o.row, o.target) for o in outcomes_of(events))
    assert set(got) == pairs
    assert max(got.values()) == 1


def test_tags_everyone_in_bulk_and_reports_unknown_subscribers() -> None:
    platform = MemoryPlatform(subscribers=900)
    recorder = ListRecorder()
    runner = Runner(platform, spec(id_audience(range(1, 1001))), recorder=recorder, job_id="j1")
    events = asyncio.run(collect(runner))
    assert isinstance(events[0], JobStarted) and events[0].total == 1000
    assert len(platform.apply_calls) == 10
    outcomes = outcomes_of(events)
    failed = sorted(int(o.identifier) for o in outcomes if o.outcome is Outcome.FAILED)
    assert failed == list(range(901, 1001))
    assert {o.reason for o in outcomes if o.outcome is Outcome.FAILED} == {"Subscriber does not exist"}
    assert finished(events) == JobFinished("j1", JobState.FINISHED, "")
    progress = [e for e in events if isinstance(e, Progress)][-1]
    assert (progress.done, progress.total, progress.succeeded, progress.failed) == (1000, 1000, 900, 100)
    assert progress.state is JobState.FINISHED
    # Journal order: started, (sent before received for every batch), ended.
    names = recorder.names()
    assert names[0] == "job_started" and names[-1] == "job_ended"
    assert names.count("batch_sent") == names.count("results_received") == 10
    assert sorted(recorder.recorded_pairs()) == sorted((o.row, o.target) for o in outcomes)


def test_second_run_reports_unchanged_and_run_returns_input_order() -> None:
    platform = MemoryPlatform(subscribers=10)
    job = spec(id_audience([3, 1, 2]), tag(1), tag(2))
    asyncio.run(Runner(platform, job).run())
    again = asyncio.run(Runner(platform, job).run())
    assert [(o.row, o.target, o.outcome) for o in again] == [
        (r, t, Outcome.UNCHANGED) for r in (1, 2, 3) for t in ("tag-1", "tag-2")
    ]


def test_rejected_rows_are_skipped_with_their_reason_for_every_target() -> None:
    platform = MemoryPlatform()
    recorder = ListRecorder()
    audience = id_audience([1, 2], invalid=["abc"], duplicates=["1"])
    outcomes = asyncio.run(Runner(platform, spec(audience, tag(1), tag(2)), recorder=recorder).run())
    skipped = [(o.row, o.identifier, o.target, o.reason) for o in outcomes if o.outcome is Outcome.SKIPPED]
    assert skipped == [
        (3, "abc", "tag-1", "Not a subscriber ID or an email"),
        (3, "abc", "tag-2", "Not a subscriber ID or an email"),
        (4, "1", "tag-1", "Duplicate of an earlier row"),
        (4, "1", "tag-2", "Duplicate of an earlier row"),
    ]
    assert len(outcomes) == 8
    assert sum(len(i) for name, i in recorder.calls if name == "batch_sent") == 4  # type: ignore[arg-type]


def test_emails_are_resolved_first_and_not_found_rows_skipped_before_any_write() -> None:
    platform = MemoryPlatform(subscribers=50)
    rows = [AudienceRow(n, f"s{n * 10}@example.com", IdentifierKind.EMAIL) for n in range(1, 11)]
    rows.append(AudienceRow(11, "7", IdentifierKind.SUBSCRIBER_ID))
    runner = Runner(platform, spec(Audience(rows=rows)))
    events = asyncio.run(collect(runner))
    states = [e.state for e in events if isinstance(e, Progress)]
    assert states[-1] is JobState.FINISHED
    assert sum(len(c) for c in platform.resolve_calls) == 10
    sent = sorted(i.subject for call in platform.apply_calls for i in call)
    assert sent == sorted(["7", "10", "20", "30", "40", "50"])
    outcomes = {o.row: o for o in outcomes_of(events)}
    assert outcomes[6].outcome is Outcome.SKIPPED
    assert outcomes[6].reason == "Not found on Kit: no subscriber with this email"
    assert outcomes[1].outcome is Outcome.SUCCEEDED and outcomes[1].identifier == "s10@example.com"


def test_platform_that_writes_by_email_gets_no_lookups() -> None:
    platform = MemoryPlatform(caps=caps(1, emails=True))
    rows = [AudienceRow(1, "s1@example.com", IdentifierKind.EMAIL)]
    asyncio.run(Runner(platform, spec(Audience(rows=rows))).run())
    assert platform.resolve_calls == []
    assert platform.apply_calls[0][0].subject == "s1@example.com"


def test_set_field_sends_the_value() -> None:
    platform = MemoryPlatform()
    field = Target(TargetKind.FIELD, "9", "Plan", key="plan")
    outcomes = asyncio.run(
        Runner(platform, spec(id_audience([1, 2]), field, action=Action.SET_FIELD, value="gold")).run()
    )
    assert [o.outcome for o in outcomes] == [Outcome.SUCCEEDED] * 2
    assert platform.values == {("1", "9"): "gold", ("2", "9"): "gold"}


def test_auth_failure_stops_the_job_and_says_what_to_do() -> None:
    platform = MemoryPlatform(caps=caps(1), auth_fails_after=5)
    runner = Runner(platform, spec(id_audience(range(1, 41))), concurrency=2)
    events = asyncio.run(collect(runner))
    end = finished(events)
    assert end.state is JobState.FAILED
    assert "Kit refused the token (The access token is invalid)" in end.reason
    outcomes = outcomes_of(events)
    assert_exactly_one_outcome(events, {(r, "tag-1") for r in range(1, 41)})
    assert sum(o.outcome is Outcome.SUCCEEDED for o in outcomes) == 5
    unsent = [o for o in outcomes if o.reason.startswith("Not sent:")]
    assert unsent and all(o.outcome is Outcome.FAILED for o in unsent)
    assert unsent[0].reason == (
        "Not sent: Kit refused the token (The access token is invalid). "
        "Reconnect the account, then Retry failed."
    )
    # It stopped: only the requests already in flight went out after the first refusal.
    assert len(platform.apply_calls) <= 5 + 2


def test_connection_lost_stops_the_job() -> None:
    platform = MemoryPlatform(caps=caps(10), connection_fails_after=2)
    outcomes = asyncio.run(Runner(platform, spec(id_audience(range(1, 101))), concurrency=1).run())
    assert len(outcomes) == 100
    assert sum(o.outcome is Outcome.SUCCEEDED for o in outcomes) == 20
    assert sum(o.reason == "Could not connect to Kit: connection refused" for o in outcomes) == 10
    assert sum(o.reason.startswith("Not sent: Could not connect") for o in outcomes) == 70


def test_a_platform_that_stays_down_stops_the_job_after_three_batches() -> None:
    """Each batch spends its retries; after three in a row the rest fail at once as "Not sent"."""
    platform = MemoryPlatform(caps=caps(10), down_after=2)
    runner = Runner(platform, spec(id_audience(range(1, 201))), concurrency=1)
    events = asyncio.run(collect(runner))
    outcomes = outcomes_of(events)
    assert finished(events).state is JobState.FAILED
    assert len(outcomes) == 200
    reasons = collections.Counter(o.reason for o in outcomes)
    assert reasons["Kit answered 503 Service Unavailable 6 times"] == 30  # the three batches that tried
    assert sum(n for r, n in reasons.items() if r.startswith("Not sent: Kit answered 503")) == 150
    assert len(platform.apply_calls) == 5


def test_gave_up_and_client_bugs_fail_only_their_batch() -> None:
    platform = MemoryPlatform(caps=caps(10), raise_rate=1.0, seed=3)
    runner = Runner(platform, spec(id_audience(range(1, 31))))
    events = asyncio.run(collect(runner))
    assert finished(events).state is JobState.FINISHED
    reasons = collections.Counter(o.reason for o in outcomes_of(events))
    assert sum(reasons.values()) == 30
    assert set(reasons) <= {
        "Kit kept answering 429 Retry later; gave up after 5 tries",
        "Unexpected error (KeyError). Retry failed; see the log.",
    }
    assert len(platform.apply_calls) == 3


def test_cancel_mid_job_ends_unsent_rows_as_cancelled() -> None:
    platform = MemoryPlatform(caps=caps(1), latency=0.005)
    recorder = ListRecorder()
    runner = Runner(
        platform, spec(id_audience(range(1, 501))), recorder=recorder, concurrency=2, flush_interval=0.01
    )
    events = asyncio.run(collect(runner, cancel_after_outcomes=20))
    assert finished(events).state is JobState.CANCELLED
    assert_exactly_one_outcome(events, {(r, "tag-1") for r in range(1, 501)})
    outcomes = outcomes_of(events)
    cancelled = [o for o in outcomes if o.outcome is Outcome.CANCELLED]
    assert 300 < len(cancelled) < 490
    assert {o.reason for o in cancelled} == {CANCELLED_BEFORE_SENDING}
    sent = {i.row for call in platform.apply_calls for i in call}
    assert sent.isdisjoint({o.row for o in cancelled})
    assert recorder.calls[-1] == ("job_ended", (JobState.CANCELLED, "Cancelled"))


def test_cancel_cuts_a_hung_request_after_the_grace_period() -> None:
    platform = MemoryPlatform(caps=caps(5), latency=30)
    runner = Runner(platform, spec(id_audience(range(1, 21))), concurrency=2, cancel_grace=0.05)

    async def scenario() -> list[RowOutcome]:
        task = asyncio.ensure_future(runner.run())
        await asyncio.sleep(0.05)
        runner.cancel()
        return await asyncio.wait_for(task, 2)

    outcomes = asyncio.run(scenario())
    assert runner.state is JobState.CANCELLED
    by = collections.Counter(o.outcome for o in outcomes)
    # Two batches were in flight: not failed (the platform may have applied them) but cancelled with
    # a reason that says so; a resume sends them again and settles them.
    assert by == {Outcome.CANCELLED: 20}
    in_flight = [o for o in outcomes if "on its way" in o.reason]
    assert len(in_flight) == 10
    assert all("may have made the change" in o.reason and "Resume" in o.reason for o in in_flight)


def test_cancel_during_email_lookup() -> None:
    platform = MemoryPlatform(latency=0.01)
    rows = [AudienceRow(n, f"s{n}@example.com", IdentifierKind.EMAIL) for n in range(1, 201)]
    runner = Runner(platform, spec(Audience(rows=rows)), concurrency=1, flush_interval=0.01)
    events = asyncio.run(_cancel_soon(runner))
    assert platform.apply_calls == []
    assert {o.outcome for o in outcomes_of(events)} == {Outcome.CANCELLED}
    assert len(outcomes_of(events)) == 200


async def _cancel_soon(runner: Runner) -> list[JobEvent]:
    loop = asyncio.get_running_loop()
    loop.call_later(0.03, runner.cancel)
    return await collect(runner)


def test_resume_sends_only_pairs_not_done() -> None:
    platform = MemoryPlatform()
    done = {(r, "1") for r in range(1, 151)}
    runner = Runner(platform, spec(id_audience(range(1, 201)), tag(1), tag(2)), done=done)
    events = asyncio.run(collect(runner))
    assert isinstance(events[0], JobStarted) and events[0].total == 250
    assert [len(c) for c in platform.apply_calls] == [50, 100, 100]
    assert len(outcomes_of(events)) == 250


@pytest.mark.parametrize("seed", range(12))
def test_every_pair_ends_in_exactly_one_outcome_under_random_failures(seed: int) -> None:
    import random

    rng = random.Random(seed)
    size = rng.choice([1, 7, 100])
    platform = MemoryPlatform(
        subscribers=rng.randint(0, 300),
        caps=caps(size),
        seed=seed,
        fail_item_rate=rng.random() * 0.3,
        raise_rate=rng.random() * 0.5,
        auth_fails_after=rng.choice([None, None, rng.randint(0, 30)]),
        latency=0.001,
    )
    n = rng.randint(0, 300)
    targets = [tag(t) for t in range(1, rng.randint(1, 3) + 1)]
    emails = [
        AudienceRow(1000 + k, f"s{k}@example.com", IdentifierKind.EMAIL) for k in range(rng.randint(0, 20))
    ]
    audience = id_audience(
        range(1, n + 1), invalid=["x"] * rng.randint(0, 3), duplicates=["1"] * rng.randint(0, 3)
    )
    audience.rows.extend(emails)
    recorder = ListRecorder()
    runner = Runner(
        platform,
        spec(audience, *targets),
        recorder=recorder,
        concurrency=rng.randint(1, 6),
        flush_interval=0.005,
        cancel_grace=rng.choice([0.0, 1.0]),
    )
    cancel_at = rng.choice([None, rng.randint(0, n + 10)])
    events = asyncio.run(collect(runner, cancel_after_outcomes=cancel_at))
    all_rows = [r.row for r in audience.rows] + [p.row for p in audience.invalid + audience.duplicates]
    expected = {(r, t.name) for r in all_rows for t in targets}
    if expected:
        assert_exactly_one_outcome(events, expected)
    assert collections.Counter(recorder.recorded_pairs()) == collections.Counter(expected)
    assert finished(events).state in (JobState.FINISHED, JobState.FAILED, JobState.CANCELLED)


def test_outcomes_are_coalesced_into_a_few_events_a_second() -> None:
    platform = MemoryPlatform(subscribers=20_000, caps=caps(100))
    runner = Runner(platform, spec(id_audience(range(1, 20_001))), flush_interval=0.25)

    async def timed() -> tuple[list[JobEvent], float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        events = await collect(runner)
        return events, loop.time() - start

    events, seconds = asyncio.run(timed())
    ready = [e for e in events if isinstance(e, OutcomesReady)]
    assert sum(len(e.outcomes) for e in ready) == 20_000
    assert len(ready) <= seconds / 0.25 + 2
    assert len(ready) < 200


def test_default_concurrency_keeps_about_a_second_of_requests_in_flight() -> None:
    assert default_concurrency(caps(100, per_second=10)) == 10
    assert default_concurrency(caps(1, per_second=2)) == 2
    assert default_concurrency(caps(1, per_second=100)) == 16
    platform = MemoryPlatform(caps=caps(1, per_second=4), latency=0.01)
    asyncio.run(Runner(platform, spec(id_audience(range(1, 41)))).run())
    assert platform.max_in_flight == 4


def test_a_runner_runs_once() -> None:
    runner = Runner(MemoryPlatform(), spec(id_audience([1])))
    asyncio.run(runner.run())
    with pytest.raises(RuntimeError, match="once"):
        asyncio.run(runner.run())


def test_many_rows_without_a_request_are_settled_in_slices_that_let_the_loop_run() -> None:
    audience = id_audience([1], invalid=["x"] * 20_000)
    runner = Runner(MemoryPlatform(), spec(audience, tag(1), tag(2)))
    ticks = 0

    async def scenario() -> list[RowOutcome]:
        nonlocal ticks
        task = asyncio.ensure_future(runner.run())
        while not task.done():
            ticks += 1
            await asyncio.sleep(0)
        return task.result()

    outcomes = asyncio.run(scenario())
    assert len(outcomes) == 40_002
    assert ticks >= 40_000 // 2_000  # at least one turn of the loop per slice


def test_iterating_can_stop_early_and_the_job_is_interrupted() -> None:
    platform = MemoryPlatform(caps=caps(1), latency=0.01)
    recorder = ListRecorder()
    runner = Runner(platform, spec(id_audience(range(1, 101))), recorder=recorder, flush_interval=0.01)

    async def scenario() -> None:
        events = runner.events()
        async for event in events:
            if isinstance(event, OutcomesReady):
                break
        await events.aclose()  # type: ignore[attr-defined]

    asyncio.run(scenario())
    assert runner.state is JobState.INTERRUPTED
    assert recorder.calls[-1] == ("job_ended", (JobState.INTERRUPTED, "Interrupted"))
    assert len(platform.apply_calls) < 100


def test_a_slow_consumer_still_receives_every_outcome() -> None:
    platform = MemoryPlatform(caps=caps(10), latency=0.004)
    runner = Runner(platform, spec(id_audience(range(1, 301))), concurrency=2, flush_interval=0.001)

    async def slow() -> list[JobEvent]:
        events: list[JobEvent] = []
        async for event in runner.events():
            events.append(event)
            await asyncio.sleep(0.01)  # the job runs on while the GUI is busy with this event
        return events

    events = asyncio.run(slow())
    assert len(outcomes_of(events)) == 300
    last = [e for e in events if isinstance(e, Progress)][-1]
    assert (last.done, last.state) == (300, JobState.FINISHED)
