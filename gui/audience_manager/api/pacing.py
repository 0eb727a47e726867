"""Pacing: never send more requests than a platform counts in its rolling window.

Why a sliding log and not `aiolimiter`: aiolimiter is a leaky bucket. A bucket of capacity C that
drains at r per second lets through C + r·W requests in a window of W seconds, so against a server
that counts N requests in any rolling window W it either exceeds N (C = N, r = N/W lets 2N-1 through
in the first window) or, configured to stay under (C + r·W <= N), gives up the first window's burst.
A log of the last N send times answers the exact question the server asks ("were there already N
requests in the last W seconds?"), allows the burst of N a rolling window permits, and is a few lines.

Slots are *reserved* synchronously, in call order, and then slept for: that makes the limiter fair
(first come, first served) without an asyncio lock, so one limiter can serve any event loop.

Within that rule, sends are spread out: no more than a tenth of the window's allowance goes out in
a burst, then one send every W/N seconds. The server allows more (all N at once), but a job that
spends its whole allowance in the first second then sits idle for a minute shows no progress, gives
a wrong time left, and makes Cancel wait on requests that are only queued for the next window.
Spreading costs nothing over a whole window: it is still N sends per W.

The window is lengthened by a small safety margin because the server counts arrival times and we
record send times: a request that travels slower than the one N places after it would otherwise land
inside the server's window. The margin (1 % of the window, at least 0.25 s) costs about 1 % of
throughput and absorbs latency jitter and event-loop lag.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from audience_manager.api.errors import GaveUpError
from audience_manager.api.platform import RateBudget
from audience_manager.core.platforms import RateLimit

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def default_margin(per_seconds: float) -> float:
    """Seconds added to the window: covers send-to-arrival jitter between two requests."""
    return max(0.25, per_seconds * 0.01)


@dataclass(frozen=True)
class ServerHint:
    """What the server said about its own count (HighLevel `X-RateLimit-*` headers)."""

    remaining: int | None = None
    daily_remaining: int | None = None


class RateLimiter:
    """At most `rate.requests` sends in any `rate.per_seconds` (+ margin) window, for one credential.

    `acquire()` returns when the caller may send one request. `pause(seconds)` holds every caller
    (after a 429); `observe(hint)` adopts the server's count when it is stricter than ours (another
    app using the same credential); `budget()` is what the status bar shows.
    """

    def __init__(
        self,
        rate: RateLimit,
        *,
        margin: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        wall_clock: Clock = time.time,
    ) -> None:
        self.rate = rate
        self.margin = default_margin(rate.per_seconds) if margin is None else margin
        self._window = rate.per_seconds + self.margin
        self._interval = self._window / rate.requests
        self.burst = max(1, rate.requests // 10)
        self._clock = clock
        self._sleep = sleep
        self._log: list[float] = []  # send times, sorted; may hold reserved times in the future
        self._paused_until = 0.0
        self._daily_used = 0
        self._daily_remaining: int | None = rate.daily
        self._wall_clock = wall_clock
        self._day = self._today()

    # -- the one thing callers need -------------------------------------------------------------

    async def acquire(self) -> None:
        """Wait for a slot. Raises `GaveUpError` when the daily allowance is used up."""
        while True:
            slot = self._reserve()
            try:
                delay = slot - self._clock()
                if delay > 0:
                    await self._sleep(delay)
            except BaseException:
                self._release(slot)
                raise
            if self._paused_until <= self._clock():
                return
            # A pause arrived while we slept: our reserved time is stale, take a new one.
            self._release(slot)

    # -- feedback from the server ---------------------------------------------------------------

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` (the server said 429): nobody sends until then."""
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))

    def observe(self, hint: ServerHint) -> None:
        """Adopt the server's count when it says fewer requests are left than we think."""
        now = self._clock()
        if hint.daily_remaining is not None:
            self._daily_remaining = hint.daily_remaining
            self._daily_used = 0
        if hint.remaining is None:
            return
        ours = self._sent_in_window(now)
        theirs = self.rate.requests - max(0, hint.remaining)
        for _ in range(max(0, theirs - ours)):
            # Requests the server counted that we did not send: account them as sent now.
            bisect.insort(self._log, now)

    # -- the status bar -------------------------------------------------------------------------

    def budget(self) -> RateBudget:
        self._new_day()
        now = self._clock()
        used = self._sent_in_window(now)
        daily = None if self._daily_remaining is None else max(0, self._daily_remaining - self._daily_used)
        return RateBudget(
            remaining=max(0, self.rate.requests - used),
            limit=self.rate.requests,
            window_seconds=self.rate.per_seconds,
            daily_remaining=daily,
        )

    # -- internals ------------------------------------------------------------------------------

    def _sent_in_window(self, now: float) -> int:
        start = bisect.bisect_right(self._log, now - self._window)
        end = bisect.bisect_right(self._log, now)
        return end - start

    def _today(self) -> int:
        return int(self._wall_clock() // 86_400)

    def _new_day(self) -> None:
        """The daily allowance refills at midnight UTC (until the server's headers say otherwise)."""
        today = self._today()
        if today != self._day:
            self._day = today
            self._daily_used = 0
            self._daily_remaining = self.rate.daily

    def _reserve(self) -> float:
        self._new_day()
        if self._daily_remaining is not None and self._daily_used >= self._daily_remaining:
            raise GaveUpError(
                "The platform's daily request allowance for this account is used up; "
                "it resets tomorrow. The remaining rows were not sent."
            )
        now = self._clock()
        # Entries older than any window we could still be asked about are dead weight.
        drop = bisect.bisect_right(self._log, now - self._window)
        if drop:
            del self._log[:drop]
        slot = max(now, self._paused_until)
        if self._log:
            slot = max(slot, self._log[-1])
        n = self.rate.requests
        if len(self._log) >= n:
            # The N-th most recent send must have left the window before we may send.
            slot = max(slot, self._log[-n] + self._window)
        if len(self._log) >= self.burst:
            # Spread out: the last `burst` sends must span at least `burst` intervals.
            slot = max(slot, self._log[-self.burst] + self.burst * self._interval)
        self._log.append(slot)
        self._daily_used += 1
        return slot

    def _release(self, slot: float) -> None:
        """Give back a slot we will not use (cancelled, or re-reserved after a pause)."""
        i = bisect.bisect_left(self._log, slot)
        if i < len(self._log) and self._log[i] == slot:
            del self._log[i]
        self._daily_used = max(0, self._daily_used - 1)


_shared: weakref.WeakValueDictionary[str, RateLimiter] = weakref.WeakValueDictionary()


def limiter_for(credential: str, rate: RateLimit, *, scope: str = "") -> RateLimiter:
    """The one limiter of a credential, shared by every client that uses it (the limit is per credential).

    Keyed by a hash, never by the secret itself; kept only while some client holds it.
    """
    digest = hashlib.sha256(f"{scope}\0{credential}".encode()).hexdigest()
    key = f"{digest}:{rate.requests}/{rate.per_seconds}"
    limiter = _shared.get(key)
    if limiter is None:
        limiter = RateLimiter(rate)
        _shared[key] = limiter
    return limiter
