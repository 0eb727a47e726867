"""Answers lost after the platform applied the write, then retry, then undo: the platform ends exactly
as it was before the job.

The sandbox applies a share of the writes and then loses their answer (a proxy's 502, or the
connection reset before the answer): the transport retries them (the second send finds them "already
so"), or gives up (the rows fail with the answer lost). Undoing the job and its retry as one must
still revert every row the job changed, from the state journaled before each write, and leave alone
the rows that were already so. Each case records its row in tests/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from audience_manager.api.clients import open_platform
from audience_manager.api.pacing import RateLimiter
from audience_manager.api.platform import Platform
from audience_manager.core.accounts import Account
from audience_manager.core.actions import Action, Target
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.paste import parse_text
from audience_manager.core.platforms import PlatformKind
from audience_manager.jobs.journal import Journal
from audience_manager.jobs.retry import NothingToRetryError, retry_spec
from audience_manager.jobs.runner import Runner
from audience_manager.jobs.undo import undo_spec
from audience_manager.sandbox import Faults, ManualClock, Sandbox
from tests import reliability

from .fault_rig import Served, VirtualSleep
from .test_fault_matrix import FAST_RETRY, PLATFORMS, PlatformCase, credentials_for, make_audience

LOSSES = (("502", "a 502 from a proxy"), ("reset", "the connection reset before the answer"))
LOST_RATE = 0.5
VALUE = "Spring 2026"

LOST_CASES = [
    pytest.param(p, a, loss, id=f"{p.kind.value}-{p.auth.value}-{a.value}-lost-{loss[0]}")
    for p in PLATFORMS
    for a in p.actions
    for loss in LOSSES
]


def snapshot(sb: Sandbox, p: PlatformCase, action: Action, target: Target) -> object:
    """What the job may change on the platform, compared before the job and after its undo."""
    if p.kind is PlatformKind.HIGHLEVEL:
        return {cid: sorted(c.tags) for cid, c in sb.state.highlevel.contacts.items()}
    kit = sb.state.kit
    if action is Action.ADD_TO_FORM:
        return set(kit.form_members.get(int(target.id), {}))
    if action is Action.SET_FIELD:
        return {sid: s.fields.get(target.key or "") or "" for sid, s in kit.subscribers.items()}
    if action is Action.UNTAG:  # tagged again by the undo: the members, with a new tagged_at
        return set(kit.taggings.get(int(target.id), {}))
    return dict(kit.taggings.get(int(target.id), {}))  # members, with their original tagged_at


def give_tag_to_some(sb: Sandbox, p: PlatformCase, target: Target, known: set[str]) -> None:
    """A third of the audience already has the tag: a tag leaves them so, an untag takes it."""
    for k, who in enumerate(sorted(known)):
        if k % 3:
            continue
        if p.kind is PlatformKind.HIGHLEVEL:
            contact = sb.state.highlevel.contacts[who]
            if target.id.lower() not in contact.tags:
                contact.tags.append(target.id.lower())
        elif who.isdigit():
            sb.state.kit.tag(int(who), int(target.id), "2025-01-01T00:00:00Z")


async def run_job(journal: Journal, platform: Platform, account: Account, spec: JobSpec, **kw: str) -> str:
    job_id = journal.create_job(spec, account, **kw)  # type: ignore[arg-type]
    await Runner(platform, spec, recorder=journal, job_id=job_id, flush_interval=0.05, concurrency=4).run()
    return job_id


async def scenario(
    served: Served, tmp_path: Path, p: PlatformCase, action: Action, loss: str
) -> tuple[str, Counter[str]]:
    clock = ManualClock()
    sb = Sandbox(subscribers=400, contacts=300, clock=clock, faults=Faults(seed=23))
    served.switch.use(sb)
    sleep = VirtualSleep(clock)
    account = Account(
        f"{p.name} losing answers",
        p.kind,
        p.auth,
        base_url=served.base_url,
        location_id=sb.credentials.highlevel_location if p.kind is PlatformKind.HIGHLEVEL else "",
    )
    platform = open_platform(
        account,
        credentials_for(sb, p),
        retry=FAST_RETRY,
        sleep=sleep,
        timeout=5.0,
        limiter=RateLimiter(p.rate, clock=clock, sleep=sleep),
    )
    try:
        with Journal(tmp_path / "journal.sqlite3") as journal:
            target = (await platform.list_targets(action.target_kind))[0]
            text, known = make_audience(sb, p)
            accepted = frozenset(platform.capabilities.identifiers | {IdentifierKind.EMAIL})
            audience = parse_text(text, accepted, source="lost answers")
            if action in (Action.TAG, Action.UNTAG):
                give_tag_to_some(sb, p, target, known)
            value = VALUE if action is Action.SET_FIELD else None
            spec = JobSpec(account.name, action, (target,), audience, value=value)
            before = snapshot(sb, p, action, target)

            sb.faults.lost_answer_rate, sb.faults.lost_answer = LOST_RATE, loss  # type: ignore[assignment]
            job_id = await run_job(journal, platform, account, spec)
            records = journal.outcome_records(job_id)
            rows = {r.row for r in audience.rows} | {x.row for x in (*audience.invalid, *audience.duplicates)}
            assert set(records) == {(r, target.id) for r in rows}, "every row ends in exactly one outcome"
            assert snapshot(sb, p, action, target) != before or action is Action.ADD_TO_FORM
            last = job_id
            try:
                plan = retry_spec(journal, job_id)
                last = await run_job(journal, platform, account, plan.spec, parent_id=job_id, kind=plan.kind)
            except NothingToRetryError:
                pass
            outcomes = Counter(r.outcome.value for r in records.values())
            sb.faults.clear()

            # Undo the retry (the family: the job and its retry, as one), with the platform healthy.
            undo = undo_spec(journal, last)
            if action is Action.ADD_TO_FORM:
                assert undo.impossible_reason and "cannot be undone" in undo.impossible_reason
                return "cannot be undone: the platform cannot remove from a form", outcomes
            assert undo.possible, undo.summary()
            for s in undo.specs:
                await run_job(journal, platform, account, s, parent_id=last, kind=undo.kind)
            assert snapshot(sb, p, action, target) == before, undo.summary()
            again = undo_spec(journal, job_id)
            assert again.impossible_reason and "already undone" in again.impossible_reason
            return "platform exactly as before the job; a second undo refused", outcomes
    finally:
        sb.faults.clear()
        await platform.aclose()


@pytest.mark.parametrize(("p", "action", "loss"), LOST_CASES)
def test_undo_after_lost_answers_and_a_retry_leaves_the_platform_as_before_the_job(
    served: Served, tmp_path: Path, p: PlatformCase, action: Action, loss: tuple[str, str]
) -> None:
    undone, outcomes = asyncio.run(scenario(served, tmp_path, p, action, loss[0]))
    assert outcomes, "the job recorded no outcome"
    reliability.record(
        "faults",
        f"{PLATFORMS.index(p)}-{p.actions.index(action)}-lost-{LOSSES.index(loss)}",
        [
            p.name,
            action.label,
            f"answer lost after the platform applied the write: {loss[1]} on {LOST_RATE:.0%} of writes",
            str(sum(outcomes.values())),
            "finished; failed rows retried; job and retry undone as one",
            f"undo: {undone}",
        ],
    )
