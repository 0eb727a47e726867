"""The limiter never lets more than N requests into any rolling window, and listens to the server."""

from __future__ import annotations

import asyncio

import pytest

from audience_manager.api.errors import GaveUpError
from audience_manager.api.pacing import RateLimiter, ServerHint, limiter_for
from audience_manager.core.platforms import RateLimit

from .timing_fakes import FakeTime, VirtualTime


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_never_more_than_n_in_any_window_under_concurrency(virtual_time: VirtualTime) -> None:
    limiter = RateLimiter(RateLimit(10, 1.0), margin=0.05, clock=virtual_time.clock, sleep=virtual_time.sleep)
    sent: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        sent.append(virtual_time.clock())

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(95)))

    virtual_time.run(main)
    assert len(sent) == 95
    assert max_in_window(sent, 1.0) <= 10  # never more than the rolling window allows
    assert max_in_window(sent, 1.05) <= 10  # the safety margin holds too
    # Spread out, not bunched: `burst` sends at a time, one group every `burst` intervals, so the
    # 95 sends take exactly as long as the window allows (10 per 1.05 s) and no longer.
    interval = 1.05 / 10
    assert max_in_window(sent, limiter.burst * interval - 1e-9) <= limiter.burst
    assert sent[-1] - sent[0] == pytest.approx((94 // limiter.burst) * limiter.burst * interval)


def test_fair_first_come_first_served(virtual_time: VirtualTime) -> None:
    limiter = RateLimiter(RateLimit(2, 1.0), margin=0.0, clock=virtual_time.clock, sleep=virtual_time.sleep)
    order: list[int] = []

    async def one(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(9)))

    virtual_time.run(main)
    assert order == list(range(9))


def test_pause_holds_everyone_and_no_window_is_exceeded(virtual_time: VirtualTime) -> None:
    limiter = RateLimiter(RateLimit(5, 1.0), margin=0.0, clock=virtual_time.clock, sleep=virtual_time.sleep)
    sent: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        sent.append(virtual_time.clock())

    async def main() -> None:
        for _ in range(5):
            await one()
        limiter.pause(7.0)
        await asyncio.gather(*(one() for _ in range(10)))

    virtual_time.run(main)
    start = 1000.0
    assert sent[:5] == pytest.approx([start + i * 0.2 for i in range(5)])  # spread over the window
    paused_at = sent[4]
    assert all(t >= paused_at + 7.0 for t in sent[5:])
    assert max_in_window(sent, 1.0) == 5


def test_cancelled_waiter_gives_its_slot_back(virtual_time: VirtualTime) -> None:
    limiter = RateLimiter(RateLimit(1, 10.0), margin=0.0, clock=virtual_time.clock, sleep=virtual_time.sleep)

    async def main() -> float:
        await limiter.acquire()
        waiter = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await limiter.acquire()
        return virtual_time.clock()

    assert virtual_time.run(main) == pytest.approx(1010.0)


def test_server_count_stricter_than_ours_is_adopted(fake_time: FakeTime) -> None:
    limiter = RateLimiter(RateLimit(100, 10.0), margin=0.0, clock=fake_time.clock, sleep=fake_time.sleep)

    async def main() -> None:
        await limiter.acquire()
        # Another app used the same location: the server says only 3 are left.
        limiter.observe(ServerHint(remaining=3))
        assert limiter.budget().remaining == 3
        for _ in range(3):
            await limiter.acquire()
        assert fake_time.now < 1002.0  # the 3 left go within the window (spread, not held back)
        await limiter.acquire()  # the 101st in the server's eyes waits for the window
        assert fake_time.now == pytest.approx(1010.0)

    asyncio.run(main())


def test_budget_and_daily_allowance(fake_time: FakeTime) -> None:
    wall = [86_400.0 * 20_000 + 3600]
    limiter = RateLimiter(
        RateLimit(100, 10.0, daily=3),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        wall_clock=lambda: wall[0],
    )

    async def main() -> None:
        for _ in range(2):
            await limiter.acquire()
        budget = limiter.budget()
        assert (budget.remaining, budget.limit, budget.window_seconds, budget.daily_remaining) == (
            98,
            100,
            10.0,
            1,
        )
        limiter.observe(ServerHint(daily_remaining=0))
        with pytest.raises(GaveUpError, match="daily"):
            await limiter.acquire()
        wall[0] += 86_400  # next day: the allowance is back
        assert limiter.budget().daily_remaining == 3
        await limiter.acquire()

    asyncio.run(main())


def test_one_limiter_per_credential_kept_by_hash() -> None:
    rate = RateLimit(600, 60.0)
    a = limiter_for("secret-token", rate)
    b = limiter_for("secret-token", rate)
    c = limiter_for("other-token", rate)
    assert a is b and a is not c
