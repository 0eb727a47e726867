"""`Memberships`: a write's capped listing gives up on a long tag for a while; a Preview's reading of
any length still happens, and the writes that follow use what it read."""

from __future__ import annotations

import asyncio

from audience_manager.api.membership import Memberships
from audience_manager.sandbox import ManualClock


class Lister:
    def __init__(self, answer: set[str] | None) -> None:
        self.answer = answer
        self.calls = 0

    async def __call__(self, target_id: str) -> set[str] | None:
        self.calls += 1
        await asyncio.sleep(0)
        return None if self.answer is None else set(self.answer)


def test_a_capped_listing_that_gives_up_is_not_tried_again_until_the_ttl() -> None:
    clock = ManualClock()
    capped = Lister(None)
    m = Memberships(capped, clock=clock, ttl=600.0)
    assert asyncio.run(m.members("7")) is None
    assert asyncio.run(m.members("7")) is None and capped.calls == 1
    clock.advance(600.0)
    assert asyncio.run(m.members("7")) is None and capped.calls == 2


def test_read_lists_what_members_gave_up_on_and_the_writes_then_use_it() -> None:
    clock = ManualClock()
    capped, whole = Lister(None), Lister({"1", "2"})
    m = Memberships(capped, clock=clock)
    assert asyncio.run(m.members("7")) is None
    assert asyncio.run(m.read("7", whole)) == {"1", "2"}
    m.note("7", "3", has=True)
    assert asyncio.run(m.members("7")) == {"1", "2", "3"} and capped.calls == 1 and whole.calls == 1


def test_read_that_cannot_list_leaves_the_next_write_free_to_try() -> None:
    capped, gone = Lister({"1"}), Lister(None)
    m = Memberships(capped, clock=ManualClock())
    assert asyncio.run(m.read("7", gone)) is None
    assert asyncio.run(m.members("7")) == {"1"} and capped.calls == 1


def test_one_listing_for_batches_in_flight_together() -> None:
    lister = Lister({"1"})
    m = Memberships(lister, clock=ManualClock())

    async def together() -> list[set[str] | None]:
        return list(await asyncio.gather(*(m.members("7") for _ in range(5))))

    assert asyncio.run(together()) == [{"1"}] * 5 and lister.calls == 1
