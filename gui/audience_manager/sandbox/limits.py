"""Rolling-window request limits, the stricter reading of every platform's published limit.

A rolling window (not a fixed minute) is what Kit documents ("120 requests over a rolling 60 second
period") and it is the harder one for a client to stay under, so the sandbox enforces that.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from audience_manager.sandbox.clock import Clock


@dataclass
class RollingWindow:
    """At most `limit` accepted requests per key in any `seconds`-long window. Refused ones don't count."""

    limit: int
    seconds: float
    clock: Clock
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def _window(self, key: str) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        cutoff = self.clock() - self.seconds
        while hits and hits[0] <= cutoff:
            hits.popleft()
        return hits

    def try_hit(self, key: str) -> bool:
        hits = self._window(key)
        if len(hits) >= self.limit:
            return False
        hits.append(self.clock())
        return True

    def remaining(self, key: str) -> int:
        return max(0, self.limit - len(self._window(key)))

    def reset(self) -> None:
        self._hits.clear()


@dataclass
class DailyBudget:
    """A per-key allowance that refills at each (clock) day boundary, like HighLevel's daily quota."""

    limit: int
    clock: Clock
    _used: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (day, used)

    def _today(self) -> int:
        return int(self.clock() // 86_400)

    def used(self, key: str) -> int:
        day, used = self._used.get(key, (self._today(), 0))
        return used if day == self._today() else 0

    def try_spend(self, key: str) -> bool:
        used = self.used(key)
        if used >= self.limit:
            return False
        self._used[key] = (self._today(), used + 1)
        return True

    def remaining(self, key: str) -> int:
        return max(0, self.limit - self.used(key))

    def reset(self) -> None:
        self._used.clear()
