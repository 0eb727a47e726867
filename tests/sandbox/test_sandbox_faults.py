"""Faults: reproducible by seed, only on API paths, and each kind looks like the trouble it stands for."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from audience_manager.sandbox import Faults, ManualClock, Sandbox
from audience_manager.sandbox.demo import SandboxTransport

from .sandbox_client import Api


def _statuses(seed: int, n: int = 60) -> list[int | str]:
    sb = Sandbox(
        subscribers=30,
        contacts=10,
        seed=3,
        clock=ManualClock(),
        faults=Faults(
            seed=seed,
            status_rates={500: 0.2, 503: 0.1, 429: 0.1},
            drop_rate=0.1,
            html_error_rate=0.05,
            malformed_rate=0.05,
        ),
    )
    headers = {"Authorization": f"Bearer {sb.credentials.kit_oauth_token}"}

    async def run() -> list[int | str]:
        out: list[int | str] = []
        async with httpx.AsyncClient(transport=SandboxTransport(app=sb.app), base_url="http://t") as client:
            for _ in range(n):
                try:
                    answer = await client.get("/v4/tags", headers=headers)
                except httpx.RemoteProtocolError:
                    out.append("dropped")
                    continue
                try:
                    answer.json()
                    out.append(answer.status_code)
                except ValueError:
                    out.append(f"{answer.status_code}-not-json")
        return out

    return asyncio.run(run())


def test_same_seed_same_faults() -> None:
    first, second, other = _statuses(11), _statuses(11), _statuses(12)
    assert first == second
    assert first != other
    kinds = set(first)
    assert {200, 500, "429-not-json", "dropped", "502-not-json"} <= kinds


def test_status_faults_use_each_platforms_error_shape(api: Api, sb: Sandbox) -> None:
    sb.faults.status_rates = {429: 1.0}
    kit = api.get("/v4/tags", headers={"X-Kit-Api-Key": sb.credentials.kit_api_key})
    assert kit.status_code == 429 and kit.text == "Retry later"
    hl = api.get(
        f"/locations/{sb.credentials.highlevel_location}/tags",
        headers={"Authorization": f"Bearer {sb.credentials.highlevel_token}", "Version": "2021-07-28"},
    )
    assert hl.json() == {"statusCode": 429, "message": "Too Many Requests", "traceId": hl.json()["traceId"]}
    assert hl.headers["X-RateLimit-Max"] == "100"
    sb.faults.status_rates = {503: 1.0}
    assert api.get("/v3/tags").json()["error"]
    assert sb.stats.total_429 == 2


def test_faults_spare_the_oauth_endpoints(api: Api, sb: Sandbox) -> None:
    sb.faults.status_rates = {500: 1.0}
    body = {
        "grant_type": "refresh_token",
        "refresh_token": sb.credentials.kit_refresh_token,
        "client_id": sb.credentials.oauth_client_id,
    }
    assert api.post("/oauth/token", json=body).status_code == 200


def test_html_and_malformed_bodies(api: Api, sb: Sandbox) -> None:
    headers = {"X-Kit-Api-Key": sb.credentials.kit_api_key}
    sb.faults.html_error_rate = 1.0
    page = api.get("/v4/tags", headers=headers)
    assert page.status_code == 502 and page.headers["content-type"].startswith("text/html")
    sb.faults.html_error_rate = 0.0
    sb.faults.malformed_rate = 1.0
    broken = api.get("/v4/tags", headers=headers)
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()


@pytest.mark.parametrize("rate", [0.0999, 0.1999])  # before answering / mid-response
def test_dropped_connections_look_like_the_network(api: Api, sb: Sandbox, rate: float) -> None:
    sb.faults.drop_rate = 0.2  # a draw below 0.1 drops before answering, 0.1 to 0.2 mid-response
    sb.faults.rng.random = lambda: rate  # type: ignore[method-assign]
    with pytest.raises(httpx.TransportError):
        api.get("/v4/tags", headers={"X-Kit-Api-Key": sb.credentials.kit_api_key})
    assert sb.stats.count("/v4/tags", 0) == 1


def test_latency_is_added(api: Api, sb: Sandbox) -> None:
    import time

    sb.faults.latency = 0.2
    started = time.perf_counter()
    api.get("/v4/account", headers={"X-Kit-Api-Key": sb.credentials.kit_api_key})
    assert time.perf_counter() - started >= 0.2
