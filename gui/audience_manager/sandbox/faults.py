"""Trouble on demand: slow answers, error statuses, dropped connections, proxy pages, broken JSON.

Every roll comes from `Faults.rng`, a seeded `random.Random`, and each request consumes the same
number of draws whatever the outcome, so one seed and one request order give one fault sequence.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

DropPoint = Literal["before", "mid"]
LostAnswer = Literal["502", "reset"]


class DroppedConnection(Exception):
    """Raised inside the app to make the server close the connection without a (complete) answer."""


@dataclass
class FaultPlan:
    delay: float = 0.0
    status: int | None = None
    drop: DropPoint | None = None
    html_error: bool = False
    malformed: bool = False
    lose_answer: bool = False  # a write: apply it, then lose the answer (see `Faults.lost_answer_rate`)


@dataclass
class Faults:
    latency: float = 0.0  # seconds added to every API request
    slow_rate: float = 0.0  # share of requests that also wait `slow_latency`
    slow_latency: float = 2.0
    status_rates: dict[int, float] = field(default_factory=dict)  # e.g. {500: 0.1, 429: 0.2}
    drop_rate: float = 0.0  # half before answering, half mid-body
    html_error_rate: float = 0.0  # a proxy's HTML 502 page instead of the API's answer
    malformed_rate: float = 0.0  # a 200 whose JSON body is cut short
    expire_token_after: int | None = None  # Kit OAuth access tokens expire after N uses
    # Share of writes (any method but GET) the platform applies and whose answer is then lost: a 502
    # from a proxy, or the connection reset before the answer. Drawn only when set, so the sequences
    # of the other faults for a seed stay what they were.
    lost_answer_rate: float = 0.0
    lost_answer: LostAnswer = "502"
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self.rng.seed(self.seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self.rng.seed(seed)

    def clear(self) -> None:
        """No faults at all (keeps the seed)."""
        self.latency = self.slow_rate = self.drop_rate = self.html_error_rate = self.malformed_rate = 0.0
        self.lost_answer_rate = 0.0
        self.status_rates = {}
        self.expire_token_after = None

    @property
    def active(self) -> bool:
        return bool(
            self.latency
            or self.slow_rate
            or self.drop_rate
            or self.html_error_rate
            or self.malformed_rate
            or self.lost_answer_rate
            or any(self.status_rates.values())
        )

    def roll(self) -> FaultPlan:
        rng = self.rng
        slow, status_draw, drop_draw, html_draw, malformed_draw = (rng.random() for _ in range(5))
        plan = FaultPlan(delay=self.latency + (self.slow_latency if slow < self.slow_rate else 0.0))
        threshold = 0.0
        for status, rate in sorted(self.status_rates.items()):
            threshold += rate
            if status_draw < threshold:
                plan.status = status
                break
        if drop_draw < self.drop_rate:
            plan.drop = "before" if drop_draw < self.drop_rate / 2 else "mid"
        plan.html_error = html_draw < self.html_error_rate
        plan.malformed = malformed_draw < self.malformed_rate
        if self.lost_answer_rate:
            plan.lose_answer = rng.random() < self.lost_answer_rate
        return plan
