"""The adapter runs a real Runner on the qasync loop and turns its events into Qt signals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from audience_manager.api.platform import AccountInfo, RateBudget, StateKey
from audience_manager.api.resolution import lookups
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow, Problem
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.core.platforms import Capabilities, PlatformKind, RateLimit
from audience_manager.core.work import ItemResult, WorkItem
from audience_manager.jobs.events import JobStarted, OutcomesReady
from audience_manager.jobs.runner import Runner
from audience_manager.ui.job_adapter import JobAdapter

VIP = Target(TargetKind.TAG, "11", "VIP")


@dataclass
class TagPlatform:
    """Kit-like, in memory: subscribers 1..`existing` exist; tagging a tagged one is "unchanged"."""

    existing: int = 1000
    latency: float = 0.0
    kind: PlatformKind = PlatformKind.KIT_V4
    tagged: set[str] = field(default_factory=lambda: {"2"})
    gate: asyncio.Event | None = None  # when set, apply() waits for it (to cancel mid-job)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            actions=frozenset({Action.TAG, Action.ADD_TO_FORM}),
            identifiers=frozenset({IdentifierKind.SUBSCRIBER_ID}),
            items_per_request=10,
            rate=RateLimit(requests=600, per_seconds=60),
        )

    def budget(self) -> RateBudget:
        return RateBudget(remaining=600, limit=600, window_seconds=60)

    async def whoami(self) -> AccountInfo:
        return AccountInfo("memory")

    async def list_targets(self, kind: TargetKind) -> list[Target]:
        return [VIP]

    async def create_tag(self, name: str) -> Target:
        return Target(TargetKind.TAG, name, name)

    async def plan_resolution(self, emails: Sequence[str]) -> Any:
        return lookups(len(emails))

    async def resolve(self, emails: Sequence[str], **_: Any) -> dict[str, str | None]:
        return dict.fromkeys(emails)

    async def apply(
        self, action: Action, items: Sequence[WorkItem], value: str | None = None
    ) -> list[ItemResult]:
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(self.latency)
        results = []
        for item in items:
            if not (item.subject.isdigit() and int(item.subject) <= self.existing):
                results.append(ItemResult(item, Outcome.FAILED, "Subscriber not found"))
            elif item.subject in self.tagged:
                results.append(ItemResult(item, Outcome.UNCHANGED, "Already tagged", previous="yes"))
            else:
                self.tagged.add(item.subject)
                results.append(ItemResult(item, Outcome.SUCCEEDED, previous="no"))
        return results

    async def read_state(self, action: Action, items: Sequence[WorkItem]) -> dict[StateKey, str | None]:
        return {}

    async def aclose(self) -> None:
        return None


def job(
    n: int,
    *,
    invalid: Sequence[str] = (),
    action: Action = Action.TAG,
    target: Target = VIP,
    account: str = "memory",
) -> JobSpec:
    """Tag (or another action on) subscribers 1..n, plus rows the audience already rejected."""
    rows = [AudienceRow(i, str(i), IdentifierKind.SUBSCRIBER_ID) for i in range(1, n + 1)]
    bad = [Problem(n + 1 + k, text, "Not a subscriber ID or an email") for k, text in enumerate(invalid)]
    return JobSpec(
        account=account, action=action, targets=(target,), audience=Audience(rows=rows, invalid=bad)
    )


class Collected:
    def __init__(self, adapter: JobAdapter) -> None:
        self.started: list[tuple[str, int]] = []
        self.outcomes: list[RowOutcome] = []
        self.batches = 0
        self.progress: list[object] = []
        self.finished: list[tuple[str, str, str]] = []
        adapter.job_started.connect(lambda job_id, total: self.started.append((job_id, total)))
        adapter.outcomes_ready.connect(self._outcomes)
        adapter.progressed.connect(self.progress.append)
        adapter.job_finished.connect(lambda *args: self.finished.append(args))

    def _outcomes(self, batch: list[RowOutcome]) -> None:
        self.batches += 1
        self.outcomes.extend(batch)


def test_every_outcome_arrives_as_signals(qtbot, qloop) -> None:
    platform = TagPlatform(existing=40)
    runner = Runner(platform, job(50, invalid=["not-an-id"]), flush_interval=0.01)
    adapter = JobAdapter()
    got = Collected(adapter)
    with qtbot.waitSignal(adapter.job_finished, timeout=5000):
        task = adapter.start(runner)
        assert adapter.running
    qtbot.waitUntil(task.done)
    assert not adapter.running
    assert got.started == [(runner.job_id, 51)]
    assert got.finished == [(runner.job_id, "finished", "")]
    assert sorted(o.row for o in got.outcomes) == list(range(1, 52))
    by_row = {o.row: o for o in got.outcomes}
    assert by_row[1].outcome is Outcome.SUCCEEDED
    assert by_row[2].outcome is Outcome.UNCHANGED
    assert by_row[45].reason == "Subscriber not found"
    assert by_row[51].outcome is Outcome.SKIPPED
    assert got.progress and got.progress[-1].done == 51  # type: ignore[attr-defined]
    assert adapter.job_id == runner.job_id


def test_cancel_reaches_the_runner_and_ends_every_row(qtbot, qloop) -> None:
    gate = asyncio.Event()
    platform = TagPlatform(gate=gate)
    runner = Runner(platform, job(200), flush_interval=0.01, concurrency=2, cancel_grace=0.05)
    adapter = JobAdapter()
    got = Collected(adapter)
    adapter.start(runner)
    qtbot.waitUntil(lambda: bool(got.started), timeout=3000)
    with qtbot.waitSignal(adapter.job_finished, timeout=5000):
        adapter.cancel()
    assert got.finished[0][1] == "cancelled"
    assert len(got.outcomes) == 200
    assert {o.outcome for o in got.outcomes} <= {Outcome.CANCELLED, Outcome.FAILED}
    assert sum(o.outcome is Outcome.CANCELLED for o in got.outcomes) >= 180


class BrokenRunner:
    """A runner with a bug: it reports a start and one batch, then raises."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.cancelled = False

    async def events(self) -> AsyncIterator[object]:
        yield JobStarted("job-1", 3)
        yield OutcomesReady([RowOutcome(1, "1", "VIP", Outcome.SUCCEEDED, target_id="1")])
        await asyncio.sleep(0)
        raise self.error

    def cancel(self) -> None:
        self.cancelled = True


def test_a_runner_exception_becomes_a_failed_job_with_a_message(qtbot, qloop, caplog) -> None:
    adapter = JobAdapter()
    got = Collected(adapter)
    with qtbot.waitSignal(adapter.job_finished, timeout=3000) as blocker:
        adapter.start(BrokenRunner(KeyError("target 11")))
    assert blocker.args[0] == "job-1"
    assert blocker.args[1] == "failed"
    assert "KeyError" in blocker.args[2] and "target 11" in blocker.args[2]
    assert len(got.outcomes) == 1
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)
    assert not adapter.running


def test_an_empty_message_still_says_what_happened(qtbot, qloop) -> None:
    adapter = JobAdapter()
    with qtbot.waitSignal(adapter.job_finished, timeout=3000) as blocker:
        adapter.start(BrokenRunner(RuntimeError()))
    assert blocker.args[1] == "failed"
    assert "RuntimeError" in blocker.args[2]


def test_one_job_at_a_time(qtbot, qloop) -> None:
    gate = asyncio.Event()
    runner = Runner(TagPlatform(gate=gate), job(5), flush_interval=0.01)
    adapter = JobAdapter()
    task = adapter.start(runner)
    with pytest.raises(RuntimeError):
        adapter.start(Runner(TagPlatform(), job(5)))
    gate.set()
    qtbot.waitUntil(task.done, timeout=3000)


def test_cancelling_the_task_reports_a_stopped_job(qtbot, qloop) -> None:
    gate = asyncio.Event()
    runner = Runner(TagPlatform(gate=gate), job(20), flush_interval=0.01)
    adapter = JobAdapter()
    got = Collected(adapter)
    task = adapter.start(runner)
    qtbot.waitUntil(lambda: bool(got.started), timeout=3000)
    task.cancel()
    qtbot.waitUntil(task.done, timeout=3000)
    assert got.finished and got.finished[0][1] == "cancelled"


def test_a_job_on_the_demo_sandbox_reports_every_row(qtbot, qloop) -> None:
    """The real Kit client over the demo workspace's in-process sandbox, through the adapter."""
    from audience_manager.api.clients import open_platform
    from audience_manager.sandbox.demo import demo_workspace
    from audience_manager.sandbox.sandbox import Sandbox

    demo = demo_workspace(Sandbox(subscribers=300, contacts=10))
    account, credentials = demo.accounts[0]  # Kit, OAuth: bulk requests of up to 100
    platform = open_platform(account, credentials, transport=demo.transport)
    tags = asyncio.ensure_future(platform.list_targets(TargetKind.TAG))
    qtbot.waitUntil(tags.done, timeout=5000)
    target = tags.result()[0]
    known = demo.sandbox.known_subscriber_ids(150)
    unknown = demo.sandbox.unknown_subscriber_ids(3)
    rows = [AudienceRow(n, str(i), IdentifierKind.SUBSCRIBER_ID) for n, i in enumerate(known + unknown, 1)]
    spec = JobSpec(account=account.name, action=Action.TAG, targets=(target,), audience=Audience(rows=rows))
    adapter = JobAdapter()
    got = Collected(adapter)
    with qtbot.waitSignal(adapter.job_finished, timeout=10000) as blocker:
        adapter.start(Runner(platform, spec, flush_interval=0.02))
    closing = asyncio.ensure_future(platform.aclose())
    qtbot.waitUntil(closing.done, timeout=5000)
    assert blocker.args[1] == "finished"
    assert sorted(o.row for o in got.outcomes) == list(range(1, 154))
    ends = {o.row: o.outcome for o in got.outcomes}
    assert all(ends[n] in (Outcome.SUCCEEDED, Outcome.UNCHANGED) for n in range(1, 151))
    assert all(ends[n] in (Outcome.FAILED, Outcome.SKIPPED) for n in range(151, 154))
