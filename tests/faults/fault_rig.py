"""The loopback rig of the fault tests: one served app whose sandbox is swapped per case, and a
sleep that moves the sandbox's clock instead of waiting.

Time is virtual where it can be: the client's backoff, the rate limiter and the sandbox's windows share
one `ManualClock` that a sleep advances instead of waiting. Only what must be real stays real: the
HTTP round trips, and the timeouts (httpx measures them on the wall clock), kept to fractions of a
second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Receive, Scope, Send

from audience_manager.sandbox import ManualClock, Sandbox


@dataclass
class SwitchableApp:
    """The served app: forwards to the current case's sandbox, and can revoke a credential after N
    more requests (a token withdrawn mid-job, as a user revoking an integration does)."""

    sandbox: Sandbox | None = None
    requests: int = 0
    _revoke_at: int | None = None
    _revoke: Callable[[], None] | None = None
    revoked: bool = False
    paths: list[str] = field(default_factory=list)

    def use(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.requests = 0
        self._revoke_at = self._revoke = None
        self.revoked = False
        self.paths = []

    def revoke_after(self, more_requests: int, revoke: Callable[[], None]) -> None:
        self._revoke_at = self.requests + more_requests
        self._revoke = revoke

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests += 1
            self.paths.append(scope.get("path", ""))
            if self._revoke_at is not None and self.requests > self._revoke_at and not self.revoked:
                assert self._revoke is not None
                self._revoke()
                self.revoked = True
        assert self.sandbox is not None
        await self.sandbox.app(scope, receive, send)

    @property
    def app(self) -> Any:
        return self


@dataclass
class Served:
    switch: SwitchableApp
    base_url: str


class VirtualSleep:
    """A sleep that moves the shared clock instead of waiting, then lets other tasks run."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.slept = 0.0

    async def __call__(self, seconds: float) -> None:
        if seconds > 0:
            self.clock.advance(seconds)
            self.slept += seconds
        await asyncio.sleep(0)
