"""Each sandbox test talks to a fresh, small, seeded sandbox twice over: in-process through
`httpx.ASGITransport`, and over real loopback HTTP through one uvicorn server per module whose app
forwards to the current test's sandbox (starting uvicorn per test would cost more than the tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from audience_manager.sandbox import ManualClock, Sandbox, SandboxLimits
from audience_manager.sandbox.server import serve

from .sandbox_client import Api, Forwarder


@pytest.fixture(scope="module")
def loopback() -> Iterator[tuple[Forwarder, str]]:
    forwarder = Forwarder()
    with serve(forwarder, port=0) as base_url:
        yield forwarder, base_url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def limits() -> SandboxLimits:
    return SandboxLimits()


@pytest.fixture
def sb(clock: ManualClock, limits: SandboxLimits) -> Sandbox:
    return Sandbox(subscribers=1_500, contacts=600, seed=7, clock=clock, limits=limits)


@pytest.fixture(params=["in-process", "loopback"])
def api(request: pytest.FixtureRequest, sb: Sandbox, loopback: tuple[Forwarder, str]) -> Iterator[Api]:
    forwarder, base_url = loopback
    forwarder.target = sb
    client = Api(request.param, sb, base_url if request.param == "loopback" else None)
    yield client
    client.close()
    forwarder.target = None


@pytest.fixture
def oauth(sb: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sb.credentials.kit_oauth_token}"}


@pytest.fixture
def api_key(sb: Sandbox) -> dict[str, str]:
    return {"X-Kit-Api-Key": sb.credentials.kit_api_key}
