"""Test connection against the sandbox over loopback: who the token belongs to, or exactly what is
wrong; a saved OAuth account refreshes and its rotated pair lands in the keyring before use."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator

import pytest

from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve
from audience_manager.store.connections import ConnectionCheckError, check_account, open_account
from audience_manager.store.secrets import SERVICE, KeyringSecrets, Secrets

from .memory_keyring import MemoryKeyring


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(subscribers=200, contacts=50)


@pytest.fixture(scope="module")
def base_url(sandbox: Sandbox) -> Iterator[str]:
    with serve(sandbox) as url:
        yield url


def kit_key(base_url: str) -> Account:
    return Account("Shop", PlatformKind.KIT_V4, AuthKind.API_KEY, base_url=base_url)


def check(account: Account, credentials: Credentials) -> str:
    info = asyncio.run(check_account(account, credentials))
    return f"{info.name} | {info.detail}"


def refused(account: Account, credentials: Credentials) -> str:
    with pytest.raises(ConnectionCheckError) as caught:
        asyncio.run(check_account(account, credentials))
    text = str(caught.value)
    for secret in credentials.secrets():
        assert secret not in text
    return text


def test_kit_api_key_shows_the_account(sandbox: Sandbox, base_url: str) -> None:
    shown = check(kit_key(base_url), Credentials(sandbox.credentials.kit_api_key))
    assert "@" in shown


def test_a_wrong_kit_key_is_called_invalid(base_url: str) -> None:
    text = refused(kit_key(base_url), Credentials("kit_wrong_key_123456"))
    assert "refused the API key" in text and "invalid" in text and "Settings › Developer" in text


def test_kit_v3_key_and_secret(sandbox: Sandbox, base_url: str) -> None:
    account = Account("Old", PlatformKind.KIT_V3, AuthKind.LEGACY_KEY, base_url=base_url)
    c = sandbox.credentials
    assert check(account, Credentials(c.kit_v3_key, secret=c.kit_v3_secret))
    assert "invalid" in refused(account, Credentials(c.kit_v3_key, secret="wrong-secret-000"))
    assert "invalid" in refused(account, Credentials("wrong-key-0000", secret=c.kit_v3_secret))
    assert "API secret" in refused(account, Credentials(c.kit_v3_key))


def test_highlevel_token_shows_the_location_and_a_wrong_location_is_named(
    sandbox: Sandbox, base_url: str
) -> None:
    c = sandbox.credentials
    account = Account(
        "Agency",
        PlatformKind.HIGHLEVEL,
        AuthKind.PRIVATE_TOKEN,
        base_url=base_url,
        location_id=c.highlevel_location,
    )
    assert check(account, Credentials(c.highlevel_token))
    other = next(loc for loc in sandbox.state.highlevel.locations if loc != c.highlevel_location)
    text = refused(account.with_changes(location_id=other), Credentials(c.highlevel_token))
    assert other in text and "location" in text
    text = refused(account.with_changes(location_id="NoSuchLocation000001"), Credentials(c.highlevel_token))
    assert "NoSuchLocation000001" in text
    assert "invalid" in refused(account, Credentials("pit-wrong-token"))
    assert "location ID" in refused(account.with_changes(location_id=""), Credentials(c.highlevel_token))


def test_no_network_says_so_quickly() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    text = refused(kit_key(f"http://127.0.0.1:{port}"), Credentials("kit_any_key_123"))
    assert "Could not connect" in text and "internet connection" in text


def test_plain_http_to_another_host_is_refused_before_sending() -> None:
    text = refused(kit_key("http://api.example.com"), Credentials("kit_any_key_123"))
    assert "https" in text


def test_an_expired_oauth_token_is_refreshed_and_saved_before_use(sandbox: Sandbox, base_url: str) -> None:
    issued = sandbox.oauth.issue()
    start = Credentials(str(issued["access_token"]), refresh_token=str(issued["refresh_token"]))
    sandbox.oauth.access_tokens[start.token].expires_at = 0.0
    backend = MemoryKeyring()
    secrets = Secrets(KeyringSecrets(backend))
    account = Account(
        "Shop OAuth",
        PlatformKind.KIT_V4,
        AuthKind.OAUTH,
        base_url=base_url,
        oauth_client_id=sandbox.credentials.oauth_client_id,
        oauth_authorize_url=f"{base_url}/oauth/authorize",
        oauth_token_url=f"{base_url}/oauth/token",
    )
    secrets.save(account.name, start)

    async def go() -> None:
        platform = open_account(account, start, secrets)
        try:
            await platform.whoami()
        finally:
            await platform.aclose()

    asyncio.run(go())
    stored = json.loads(backend.entries[(SERVICE, account.name)])
    assert stored["refresh_token"] != start.refresh_token
    assert sandbox.oauth.refresh_tokens[stored["refresh_token"]] is True  # saved and still unused
    assert sandbox.oauth.access_tokens[stored["token"]].uses == 1


def test_a_session_only_oauth_account_keeps_its_rotated_pair_in_memory(
    sandbox: Sandbox, base_url: str
) -> None:
    import keyring.backends.fail

    issued = sandbox.oauth.issue()
    start = Credentials(str(issued["access_token"]), refresh_token=str(issued["refresh_token"]))
    sandbox.oauth.access_tokens[start.token].expires_at = 0.0
    failing = keyring.backends.fail.Keyring()  # type: ignore[no-untyped-call]
    secrets = Secrets(KeyringSecrets(failing))
    account = Account(
        "Session",
        PlatformKind.KIT_V4,
        AuthKind.OAUTH,
        base_url=base_url,
        oauth_client_id=sandbox.credentials.oauth_client_id,
        oauth_token_url=f"{base_url}/oauth/token",
    )
    secrets.save(account.name, start, session_only=True)

    async def go() -> None:
        platform = open_account(account, start, secrets)
        try:
            await platform.whoami()
        finally:
            await platform.aclose()

    asyncio.run(go())
    now = secrets.load(account.name)
    assert now is not None and now.refresh_token != start.refresh_token
