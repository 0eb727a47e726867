"""`bounded`: the clients' lookups in input order, never more than the limit in flight, and an error
raised as itself (the runner tells an authentication failure from a given-up request by its type)."""

from __future__ import annotations

import asyncio

import pytest

from audience_manager.api.concurrency import bounded
from audience_manager.api.errors import AuthenticationError


def test_results_in_input_order_with_at_most_limit_in_flight() -> None:
    in_flight = peak = 0

    async def double(n: int) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001 * (n % 3))  # finish out of order
        in_flight -= 1
        return 2 * n

    assert asyncio.run(bounded(double, range(20), 4)) == [2 * n for n in range(20)]
    assert peak == 4


def test_no_arguments_no_calls() -> None:
    async def never(_: int) -> int:
        raise AssertionError("called")

    assert asyncio.run(bounded(never, [], 4)) == []


def test_the_first_error_is_raised_as_itself_and_the_rest_stop() -> None:
    started: list[int] = []

    async def lookup(n: int) -> int:
        started.append(n)
        if n == 2:
            raise AuthenticationError(401, ["Unauthorized"])
        await asyncio.sleep(0.01)
        return n

    with pytest.raises(AuthenticationError):
        asyncio.run(bounded(lookup, range(100), 3))
    assert len(started) < 100
