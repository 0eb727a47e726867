"""The loopback server, the CLI's foreground runner, the demo workspace and seeding."""

from __future__ import annotations

import asyncio
import io
import re
import threading
import time

import httpx

from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.demo import demo_workspace
from audience_manager.sandbox.server import describe, run_forever, serve


def test_serve_binds_loopback_only_and_stops() -> None:
    sb = Sandbox(subscribers=20, contacts=10)
    with serve(sb, port=0) as base_url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
        answer = httpx.get(f"{base_url}/v4/account", headers={"X-Kit-Api-Key": sb.credentials.kit_api_key})
        assert answer.status_code == 200
    try:
        httpx.get(f"{base_url}/v4/account", timeout=1)
        raise AssertionError("the server is still answering after the context closed")
    except httpx.TransportError:
        pass


def test_describe_prints_base_url_and_demo_credentials() -> None:
    sb = Sandbox(subscribers=20, contacts=10)
    text = describe(sb, "http://127.0.0.1:8765")
    assert "http://127.0.0.1:8765" in text
    for secret in (sb.credentials.kit_api_key, sb.credentials.kit_v3_secret, sb.credentials.highlevel_token):
        assert secret in text


def test_run_forever_prints_and_serves() -> None:
    sb = Sandbox(subscribers=20, contacts=10)
    out, stop = io.StringIO(), threading.Event()
    thread = threading.Thread(target=run_forever, args=(sb, 0), kwargs={"out": out, "stop": stop})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while "Sandbox running at" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        found = re.search(r"http://127\.0\.0\.1:\d+", out.getvalue())
        assert found is not None
        assert (
            httpx.get(f"{found.group(0)}/v3/tags", params={"api_key": sb.credentials.kit_v3_key}).status_code
            == 200
        )
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_demo_workspace_accounts_reach_the_sandbox() -> None:
    workspace = demo_workspace()
    names = [account.name for account, _ in workspace.accounts]
    assert names == ["Demo · Kit", "Demo · Kit (API key)", "Demo · Kit v3", "Demo · HighLevel"]
    assert all(account.demo for account, _ in workspace.accounts)
    kit, key, v3, hl = workspace.accounts
    assert kit[0].auth is AuthKind.OAUTH and key[0].auth is AuthKind.API_KEY
    assert (
        v3[0].platform is PlatformKind.KIT_V3
        and hl[0].location_id == workspace.sandbox.credentials.highlevel_location
    )
    assert kit[1].token not in repr(kit[1])

    async def probe() -> list[int]:
        async with httpx.AsyncClient(transport=workspace.transport, base_url=kit[0].base_url) as client:
            return [
                (
                    await client.get("/v4/account", headers={"Authorization": f"Bearer {kit[1].token}"})
                ).status_code,
                (await client.get("/v4/account", headers={"X-Kit-Api-Key": key[1].token})).status_code,
                (await client.get("/v3/account", params={"api_secret": v3[1].secret})).status_code,
                (
                    await client.get(
                        f"/locations/{hl[0].location_id}",
                        headers={"Authorization": f"Bearer {hl[1].token}", "Version": hl[0].api_version},
                    )
                ).status_code,
            ]

    assert asyncio.run(probe()) == [200, 200, 200, 200]


def test_seed_is_deterministic_fast_and_realistic() -> None:
    started = time.process_time()  # CPU time: a busy machine must not fail this
    one = Sandbox(subscribers=10_000, seed=7)
    elapsed = time.process_time() - started
    two = Sandbox(subscribers=10_000, seed=7)
    assert elapsed < 0.5  # about 0.2 s
    kit = one.state.kit
    assert [s.email_address for s in kit.subscribers.values()][:50] == [
        s.email_address for s in two.state.kit.subscribers.values()
    ][:50]
    assert one.known_contact_ids(5) == two.known_contact_ids(5)
    assert len(kit.subscribers) == 10_000 and 35 <= len(kit.tags) <= 45 and len(kit.forms) == 8
    assert len(kit.custom_fields) == 6
    assert any(s.state == "cancelled" for s in kit.subscribers.values())
    assert any(s.email_address != s.email_address.lower() for s in kit.subscribers.values())
    assert len(kit.by_email) == 10_000  # no two people share an address, whatever the case
    assert sum(len(m) for m in kit.taggings.values()) > 5_000
    live = one.known_contact_ids(10_000)
    assert (
        len(live) == 5_000
        and len(one.state.highlevel.locations[one.credentials.highlevel_location].tags) == 30
    )
    assert set(one.unknown_subscriber_ids(20)).isdisjoint(kit.subscribers)
    assert set(one.unknown_contact_ids(20)).isdisjoint(one.state.highlevel.contacts)
