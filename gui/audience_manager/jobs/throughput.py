"""Rows per second and time left, measured over a recent window so a pause or a burst shows quickly."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class Throughput:
    """A sliding-window rate. `window` seconds is long enough to smooth one paced batch of 100 rows
    and short enough that the estimate follows a slowdown (a 429 back-off) within seconds."""

    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._started = clock()
        self._samples: deque[tuple[float, int]] = deque()
        self._in_window = 0

    def add(self, rows: int) -> None:
        if rows <= 0:
            return
        now = self._clock()
        self._samples.append((now, rows))
        self._in_window += rows
        self._expire(now)

    def _expire(self, now: float) -> None:
        while self._samples and self._samples[0][0] < now - self._window:
            _, rows = self._samples.popleft()
            self._in_window -= rows

    def rows_per_second(self) -> float:
        now = self._clock()
        self._expire(now)
        if not self._samples:
            return 0.0
        # Early on the window is not full yet: divide by the time we have actually been measuring.
        span = min(self._window, max(now - self._started, 1e-3))
        return self._in_window / span

    def seconds_left(self, remaining: int) -> float | None:
        """None while there is no rate to go by (nothing finished recently)."""
        if remaining <= 0:
            return 0.0
        rate = self.rows_per_second()
        return remaining / rate if rate > 0 else None
