"""The demo workspace: a seeded sandbox served in-process, and the four accounts that point at it.

The transport turns the sandbox's deliberate connection drops into the error httpx raises for a
real dropped connection, so a client handles the demo exactly as it handles the network.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.sandbox.faults import DroppedConnection
from audience_manager.sandbox.sandbox import Sandbox

DEMO_BASE_URL = "http://demo.sandbox"


class SandboxTransport(httpx.ASGITransport):
    """`httpx.ASGITransport` that behaves like a network: it hands control back to the event loop
    before answering (the in-process app would otherwise answer a whole job without letting the
    window repaint or handle a click), and its dropped connections look like the network's."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        try:
            return await super().handle_async_request(request)
        except DroppedConnection as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a complete response.", request=request
            ) from exc


@dataclass
class DemoWorkspace:
    sandbox: Sandbox
    transport: httpx.AsyncBaseTransport
    accounts: list[tuple[Account, Credentials]]


def demo_accounts(sb: Sandbox, base_url: str = DEMO_BASE_URL) -> list[tuple[Account, Credentials]]:
    c = sb.credentials
    return [
        (
            Account(
                "Demo · Kit",
                PlatformKind.KIT_V4,
                AuthKind.OAUTH,
                base_url=base_url,
                oauth_client_id=c.oauth_client_id,
                oauth_authorize_url=f"{base_url}/oauth/authorize",
                oauth_token_url=f"{base_url}/oauth/token",
                demo=True,
            ),
            Credentials(c.kit_oauth_token, refresh_token=c.kit_refresh_token),
        ),
        (
            Account(
                "Demo · Kit (API key)", PlatformKind.KIT_V4, AuthKind.API_KEY, base_url=base_url, demo=True
            ),
            Credentials(c.kit_api_key),
        ),
        (
            Account("Demo · Kit v3", PlatformKind.KIT_V3, AuthKind.LEGACY_KEY, base_url=base_url, demo=True),
            Credentials(c.kit_v3_key, secret=c.kit_v3_secret),
        ),
        (
            Account(
                "Demo · HighLevel",
                PlatformKind.HIGHLEVEL,
                AuthKind.PRIVATE_TOKEN,
                base_url=base_url,
                location_id=c.highlevel_location,
                demo=True,
            ),
            Credentials(c.highlevel_token),
        ),
    ]


def demo_workspace(sandbox: Sandbox | None = None, *, enforce_limits: bool = True) -> DemoWorkspace:
    """A fresh seeded sandbox (or the one given) and accounts whose base URL the transport serves."""
    sb = sandbox or Sandbox(enforce_limits=enforce_limits)
    transport = SandboxTransport(app=sb.app)
    return DemoWorkspace(sb, transport, demo_accounts(sb))
