"""Many paced requests at once, a few at a time: lookups and reads fan out, the limiter sets the pace.

Every client looks subscribers up (or reads their state) one request each; running them one after
another wastes the rate limit's window on round trips, running them all at once makes one task per
row. A small, fixed number in flight (each client picks its own) keeps the pipe full and the memory flat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def bounded(fn: Callable[[T], Awaitable[R]], args: Iterable[T], limit: int) -> list[R]:
    """Run `fn` over `args` with at most `limit` in flight, results in input order.

    A fixed pool of workers rather than one task per argument, so 100,000 lookups do not make
    100,000 tasks. The first error cancels the rest (and waits for them) and is raised as itself:
    callers handle our own errors (AuthenticationError, GaveUpError), not a group of them.
    """
    todo = list(args)
    done: dict[int, R] = {}
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < len(todo):
            i = next_index
            next_index += 1
            done[i] = await fn(todo[i])

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(limit, len(todo))):
                group.create_task(worker())
    except BaseExceptionGroup as failed:
        first = failed.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [done[i] for i in range(len(todo))]
