"""Fake clocks for timing tests: sleeping advances them, so tests run instantly and exactly."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import TypeVar


class FakeTime:
    """A clock that only moves when someone sleeps, so timing tests run instantly and exactly."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self.now += seconds


T = TypeVar("T")


class VirtualTime(FakeTime):
    """Fake time for several concurrent tasks: time jumps to the next wake-up once all tasks wait.

    Run the test body with `run(main)`; every `sleep` parks its task until the virtual clock
    reaches its wake-up time, so concurrent sleepers see the same, consistent clock.
    """

    def __init__(self, start: float = 1000.0) -> None:
        super().__init__(start)
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self.now + max(0.0, seconds), next(self._seq), fut))
        await fut

    def run(self, main: Callable[[], Awaitable[T]]) -> T:
        async def driver() -> T:
            task = asyncio.ensure_future(main())
            while not task.done():
                for _ in range(50):  # let every runnable task reach its next sleep
                    await asyncio.sleep(0)
                    if task.done():
                        break
                while self._heap and self._heap[0][2].cancelled():
                    heapq.heappop(self._heap)
                if self._heap and not task.done():
                    when, _, fut = heapq.heappop(self._heap)
                    self.now = max(self.now, when)
                    fut.set_result(None)
            return task.result()

        return asyncio.run(driver())
