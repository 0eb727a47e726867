"""Shared helpers for the API tests: fake clocks, the shared docs path, and a Kit sandbox on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from audience_manager.api.kit_v4 import KitV4, kit_v4_capabilities
from audience_manager.api.pacing import RateLimiter
from audience_manager.api.transport import RetryPolicy
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.sandbox import ManualClock, Sandbox
from audience_manager.sandbox.server import serve

from .openapi_check import SpecCheckingTransport
from .timing_fakes import FakeTime, VirtualTime

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


@pytest.fixture
def virtual_time() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"the shared API docs are not next to the project ({SHARED} is missing)")
    return SHARED


@dataclass
class KitRig:
    """A sandbox on real loopback HTTP, its clock shared with the client, and every request spec-checked."""

    sandbox: Sandbox
    clock: ManualClock
    base_url: str
    shared: Path | None  # None: the OpenAPI files are absent, requests are recorded but not checked
    transports: list[SpecCheckingTransport] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        """The client's sleep: moves the sandbox's clock instead of waiting (windows, queues, backoff)."""
        if seconds > 0:
            self.clock.advance(seconds)
        await asyncio.sleep(0)

    def kit(
        self,
        auth: AuthKind = AuthKind.OAUTH,
        *,
        token: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
    ) -> KitV4:
        creds = self.sandbox.credentials
        secret = token or (creds.kit_oauth_token if auth == AuthKind.OAUTH else creds.kit_api_key)
        account = Account("Test", PlatformKind.KIT_V4, auth, base_url=self.base_url)
        caps = kit_v4_capabilities(auth)
        limiter = RateLimiter(caps.rate, clock=self.clock, sleep=self.sleep)
        spec = SpecCheckingTransport(httpx.AsyncHTTPTransport(), self.shared)
        self.transports.append(spec)
        return KitV4(
            account,
            Credentials(secret),
            transport=spec,
            limiter=limiter,
            retry=retry or RetryPolicy(),
            timeout=timeout,
            sleep=self.sleep,
        )

    @property
    def seen(self) -> list[tuple[str, str]]:
        return [s for t in self.transports for s in t.seen]

    @property
    def urls(self) -> list[str]:
        return [u for t in self.transports for u in t.urls]

    @property
    def problems(self) -> list[str]:
        return [p for t in self.transports for p in t.problems]


@pytest.fixture
def kit_rig() -> Iterator[KitRig]:
    clock = ManualClock()
    sandbox = Sandbox(subscribers=1500, clock=clock)
    with serve(sandbox, port=0) as base_url:
        rig = KitRig(sandbox, clock, base_url, SHARED if SHARED.is_dir() else None)
        yield rig
    assert rig.problems == [], "requests that do not match Kit's OpenAPI description:\n" + "\n".join(
        rig.problems
    )
