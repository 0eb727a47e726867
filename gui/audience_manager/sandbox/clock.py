"""Time the sandbox's limits run on, so tests can move it instead of sleeping a minute."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


def monotonic_clock() -> float:
    return time.monotonic()


class ManualClock:
    """A clock that only moves when told; `advance()` replaces a `sleep(60)` in a test."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
