"""Kit v4 reads a tag's members before writing it, so "already so" and `previous` are exact.

Against the sandbox over loopback HTTP (requests checked against Kit's OpenAPI description)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest

from audience_manager.api import kit_v4
from audience_manager.api.kit_v4 import KitV4
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.outcomes import Outcome
from audience_manager.core.platforms import AuthKind
from audience_manager.core.work import ItemResult, WorkItem

from .conftest import KitRig

T = TypeVar("T")


def run(kit: KitV4, work: Callable[[KitV4], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await work(kit)
        finally:
            await kit.aclose()

    return asyncio.run(main())


def items(subjects: list[int], target: Target) -> list[WorkItem]:
    return [WorkItem(n, str(s), str(s), target) for n, s in enumerate(subjects, 1)]


def fresh_tag(rig: KitRig, name: str) -> Target:
    return run(rig.kit(), lambda k: k.create_tag(name))


def member_reads(rig: KitRig, target: Target) -> int:
    return sum(1 for m, p in rig.seen if m == "GET" and p == f"/v4/tags/{target.id}/subscribers")


@pytest.mark.parametrize("auth", [AuthKind.OAUTH, AuthKind.API_KEY])
def test_untag_says_who_had_the_tag(kit_rig: KitRig, auth: AuthKind) -> None:
    sb = kit_rig.sandbox
    target = fresh_tag(kit_rig, "Members untag")
    ids = sb.known_subscriber_ids(30, state=None)
    had = set(ids[::3])
    for s in had:
        sb.state.kit.tag(s, int(target.id), "2024-01-01T00:00:00Z")
    results = run(kit_rig.kit(auth), lambda k: k.apply(Action.UNTAG, items(ids, target)))
    assert [r.outcome for r in results] == [
        Outcome.SUCCEEDED if s in had else Outcome.UNCHANGED for s in ids
    ]
    assert [r.previous for r in results] == ["yes" if s in had else "no" for s in ids]
    assert not sb.state.kit.taggings[int(target.id)]
    assert member_reads(kit_rig, target) == 1


def test_tag_judged_by_members_not_by_the_clock(kit_rig: KitRig) -> None:
    """Subscribers tagged a moment ago (so `tagged_at` looks like this request's) are still "already"."""
    sb = kit_rig.sandbox
    target = fresh_tag(kit_rig, "Members tag")
    ids = sb.known_subscriber_ids(20, state=None)
    had = set(ids[:5])
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for s in had:
        sb.state.kit.tag(s, int(target.id), now)
    kit = kit_rig.kit()

    async def twice(k: KitV4) -> tuple[list[ItemResult], list[ItemResult]]:
        first = await k.apply(Action.TAG, items(ids[:10], target))
        second = await k.apply(Action.TAG, items(ids, target))  # the first batch's rows are members now
        return list(first), list(second)

    first, second = run(kit, twice)
    assert [r.outcome for r in first] == [
        Outcome.UNCHANGED if s in had else Outcome.SUCCEEDED for s in ids[:10]
    ]
    assert [r.previous for r in second] == ["yes"] * 10 + ["no"] * 10
    assert member_reads(kit_rig, target) == 1, "the members are read once, then kept current by our writes"


def test_members_are_read_page_by_page(kit_rig: KitRig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kit_v4, "PAGE_SIZE", 10)
    sb = kit_rig.sandbox
    target = fresh_tag(kit_rig, "Paged")
    ids = sb.known_subscriber_ids(45, state=None)
    for s in ids[:35]:
        sb.state.kit.tag(s, int(target.id), "2024-01-01T00:00:00Z")
    results = run(kit_rig.kit(), lambda k: k.apply(Action.UNTAG, items(ids, target)))
    assert [r.previous for r in results] == ["yes"] * 35 + ["no"] * 10
    assert member_reads(kit_rig, target) == 4


def test_a_tag_longer_than_the_cap_falls_back(kit_rig: KitRig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kit_v4, "PAGE_SIZE", 10)
    monkeypatch.setattr(kit_v4, "MEMBERS_MAX_REQUESTS", 2)
    sb = kit_rig.sandbox
    target = fresh_tag(kit_rig, "Long")
    ids = sb.known_subscriber_ids(30, state=None)
    for s in ids[:25]:
        sb.state.kit.tag(s, int(target.id), "2024-01-01T00:00:00Z")
    kit = kit_rig.kit()

    async def both(k: KitV4) -> list[ItemResult]:
        untag = await k.apply(Action.UNTAG, items(ids, target))
        await k.apply(Action.UNTAG, items(ids[:3], target))
        return list(untag)

    results = run(kit, both)
    # No previous state claimed, every row reported done as Kit's answer says.
    assert {(r.outcome, r.previous) for r in results} == {(Outcome.SUCCEEDED, None)}
    assert member_reads(kit_rig, target) == 2, "a tag too long to read is not read again for every batch"


def test_a_tag_kit_counts_above_the_cap_is_not_read(kit_rig: KitRig) -> None:
    sb = kit_rig.sandbox
    made = fresh_tag(kit_rig, "Huge")
    target = Target(TargetKind.TAG, made.id, made.name, subscriber_count=kit_v4.MEMBERS_CAP + 1)
    ids = sb.known_subscriber_ids(5, state=None)
    results = run(kit_rig.kit(), lambda k: k.apply(Action.UNTAG, items(ids, target)))
    assert {r.previous for r in results} == {None}
    assert member_reads(kit_rig, target) == 0
