"""What the sandbox answered, so tests and benchmarks can assert on the traffic a client produced."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

DROPPED = 0  # the status recorded when the connection was closed instead of answered


@dataclass
class Stats:
    requests: Counter[tuple[str, int]] = field(default_factory=Counter)  # (path template, status) -> n
    total_429: int = 0

    def record(self, template: str, status: int) -> None:
        self.requests[(template, status)] += 1
        if status == 429:
            self.total_429 += 1

    def count(self, template: str | None = None, status: int | None = None) -> int:
        return sum(
            n
            for (t, s), n in self.requests.items()
            if (template is None or t == template) and (status is None or s == status)
        )

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def reset(self) -> None:
        self.requests.clear()
        self.total_429 = 0
