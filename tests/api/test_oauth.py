"""Kit OAuth against the sandbox over real loopback HTTP: the browser sign-in with PKCE, refresh
before expiry and on "The access token expired", rotation saved before use, and a refused refresh."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Callable, Iterator

import httpx
import pytest

from audience_manager.api.errors import AuthenticationError
from audience_manager.api.kit_v4 import KitV4
from audience_manager.api.oauth import (
    OAuthConfig,
    OAuthRefusedError,
    RefreshingAuth,
    SignInError,
    pkce_pair,
    refresh,
    sign_in,
)
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(subscribers=200, contacts=50)


@pytest.fixture(scope="module")
def base_url(sandbox: Sandbox) -> Iterator[str]:
    with serve(sandbox) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh(sandbox: Sandbox) -> Iterator[None]:
    sandbox.faults.clear()
    sandbox.oauth.expires_in = 7200
    yield
    sandbox.faults.clear()
    sandbox.oauth.expires_in = 7200


def config_for(sandbox: Sandbox, base_url: str) -> OAuthConfig:
    client_id = sandbox.credentials.oauth_client_id
    return OAuthConfig(client_id, f"{base_url}/oauth/authorize", f"{base_url}/oauth/token")


def account_for(sandbox: Sandbox, base_url: str) -> Account:
    return Account(
        "Shop",
        PlatformKind.KIT_V4,
        AuthKind.OAUTH,
        base_url=base_url,
        oauth_client_id=sandbox.credentials.oauth_client_id,
        oauth_authorize_url=f"{base_url}/oauth/authorize",
        oauth_token_url=f"{base_url}/oauth/token",
    )


async def browser(url: str) -> None:
    """What the user's browser does: follow the authorize page's redirect to our loopback listener."""
    async with httpx.AsyncClient(follow_redirects=True) as client:
        await client.get(url)


def run_browser(opened: list[str]) -> Callable[[str], None]:
    def open_browser(url: str) -> None:
        opened.append(url)
        asyncio.get_running_loop().create_task(browser(url))

    return open_browser


def test_pkce_pair_is_s256_of_a_valid_verifier() -> None:
    from audience_manager.sandbox.kit_oauth import s256

    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert challenge == s256(verifier)
    assert pkce_pair()[0] != verifier


def test_account_config_defaults_to_the_official_sdk_pair() -> None:
    config = OAuthConfig.for_account(Account("K", PlatformKind.KIT_V4, AuthKind.OAUTH, oauth_client_id="c"))
    assert config.authorize_url == "https://app.kit.com/oauth/authorize"
    assert config.token_url == "https://api.kit.com/oauth/token"


def test_sign_in_round_trip_then_the_token_works(sandbox: Sandbox, base_url: str) -> None:
    opened: list[str] = []

    async def go() -> Credentials:
        async with httpx.AsyncClient() as http:
            config = config_for(sandbox, base_url)
            credentials = await sign_in(config, run_browser(opened), http=http, timeout=10)
        kit = KitV4(account_for(sandbox, base_url), credentials)
        try:
            info = await kit.whoami()
        finally:
            await kit.aclose()
        assert info.name
        return credentials

    credentials = asyncio.run(go())
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(opened[0]).query))
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"].startswith("http://127.0.0.1:")
    assert query["state"]
    assert credentials.token.startswith("sbx_kit_at_")
    assert credentials.refresh_token.startswith("sbx_kit_rt_")
    assert credentials.expires_at > 0


def test_sign_in_with_an_unknown_client_says_so(sandbox: Sandbox, base_url: str) -> None:
    config = OAuthConfig("not-a-client", f"{base_url}/oauth/authorize", f"{base_url}/oauth/token")

    async def go() -> None:
        async with httpx.AsyncClient() as http:
            await sign_in(config, run_browser([]), http=http, timeout=1)

    # The authorize page refuses and never redirects: the wait ends with a message, not a hang.
    with pytest.raises(SignInError, match="not finished"):
        asyncio.run(go())


def test_sign_in_refused_in_the_browser_reports_the_reason(sandbox: Sandbox, base_url: str) -> None:
    def deny(url: str) -> None:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        back = query["redirect_uri"] + "?" + urllib.parse.urlencode(
            {"error": "access_denied", "error_description": "The user denied access", "state": query["state"]}
        )
        asyncio.get_running_loop().create_task(browser(back))

    async def go() -> None:
        async with httpx.AsyncClient() as http:
            await sign_in(config_for(sandbox, base_url), deny, http=http, timeout=5)

    with pytest.raises(SignInError, match="denied access"):
        asyncio.run(go())


def test_a_forged_redirect_with_another_state_is_refused(sandbox: Sandbox, base_url: str) -> None:
    def forge(url: str) -> None:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        back = query["redirect_uri"] + "?" + urllib.parse.urlencode({"code": "x", "state": "guessed"})
        asyncio.get_running_loop().create_task(browser(back))

    async def go() -> None:
        async with httpx.AsyncClient() as http:
            await sign_in(config_for(sandbox, base_url), forge, http=http, timeout=5)

    with pytest.raises(SignInError, match="state"):
        asyncio.run(go())


def test_sign_in_without_a_client_id_asks_for_one() -> None:
    async def go() -> None:
        async with httpx.AsyncClient() as http:
            await sign_in(OAuthConfig("", "https://x", "https://y"), print, http=http)

    with pytest.raises(SignInError, match="client id"):
        asyncio.run(go())


def test_refresh_rotates_and_the_old_refresh_token_is_refused(sandbox: Sandbox, base_url: str) -> None:
    config = config_for(sandbox, base_url)
    issued = sandbox.oauth.issue()
    first = Credentials(str(issued["access_token"]), refresh_token=str(issued["refresh_token"]))

    async def go() -> tuple[Credentials, Exception]:
        async with httpx.AsyncClient() as http:
            second = await refresh(config, first, http=http)
            with pytest.raises(OAuthRefusedError) as refused:
                await refresh(config, first, http=http)
        return second, refused.value

    second, refused = asyncio.run(go())
    assert second.token != first.token and second.refresh_token != first.refresh_token
    assert "sign in" in str(refused).lower()
    assert first.refresh_token not in str(refused)


class Saved:
    """The keyring stand-in: records every pair saved, and what the auth held at that moment."""

    def __init__(self) -> None:
        self.pairs: list[Credentials] = []
        self.auth: RefreshingAuth | None = None
        self.held_at_save: list[str] = []

    async def __call__(self, credentials: Credentials) -> None:
        assert self.auth is not None
        self.held_at_save.append(self.auth.credentials.token)
        self.pairs.append(credentials)


def _issued(sandbox: Sandbox) -> Credentials:
    issued = sandbox.oauth.issue()
    return Credentials(
        str(issued["access_token"]),
        refresh_token=str(issued["refresh_token"]),
        expires_at=0.0,
    )


def test_a_401_token_expired_refreshes_once_and_retries(sandbox: Sandbox, base_url: str) -> None:
    sandbox.faults.expire_token_after = 2  # every access token works for two requests
    account = account_for(sandbox, base_url)
    start = _issued(sandbox)
    saved = Saved()
    auth = RefreshingAuth(OAuthConfig.for_account(account), start, saved)
    saved.auth = auth

    async def go() -> list[str]:
        kit = KitV4(account, start, auth=auth)
        try:
            return [(await kit.whoami()).name for _ in range(7)]
        finally:
            await kit.aclose()

    names = asyncio.run(go())
    assert len(names) == 7 and all(names)
    assert len(saved.pairs) == 3  # 7 requests at 2 a token: 3 refreshes
    # Each new pair was saved while the old token was still the one in use: saved before use.
    assert saved.held_at_save[0] == start.token
    assert saved.held_at_save[1] == saved.pairs[0].token
    assert len({p.refresh_token for p in saved.pairs}) == 3
    assert auth.credentials == saved.pairs[-1]


def test_a_token_near_expiry_is_refreshed_before_the_request(sandbox: Sandbox, base_url: str) -> None:
    account = account_for(sandbox, base_url)
    start = _issued(sandbox)
    start = Credentials(start.token, refresh_token=start.refresh_token, expires_at=1000.0 + 60)
    saved = Saved()
    auth = RefreshingAuth(OAuthConfig.for_account(account), start, saved, clock=lambda: 1000.0)
    saved.auth = auth

    async def go() -> None:
        kit = KitV4(account, start, auth=auth)
        try:
            await kit.whoami()
        finally:
            await kit.aclose()

    asyncio.run(go())
    assert len(saved.pairs) == 1
    assert sandbox.oauth.access_tokens[start.token].uses == 0  # never sent: refreshed first


def test_concurrent_requests_refresh_only_once(sandbox: Sandbox, base_url: str) -> None:
    account = account_for(sandbox, base_url)
    start = _issued(sandbox)
    sandbox.oauth.access_tokens[start.token].expires_at = 0.0  # already expired on the server
    saved = Saved()
    auth = RefreshingAuth(OAuthConfig.for_account(account), start, saved)
    saved.auth = auth

    async def go() -> None:
        kit = KitV4(account, start, auth=auth)
        try:
            await asyncio.gather(*(kit.whoami() for _ in range(5)))
        finally:
            await kit.aclose()

    asyncio.run(go())
    assert len(saved.pairs) == 1  # single-use refresh tokens: a second refresh would be refused


def test_a_refused_refresh_asks_to_sign_in_again(sandbox: Sandbox, base_url: str) -> None:
    account = account_for(sandbox, base_url)
    start = _issued(sandbox)
    sandbox.oauth.access_tokens[start.token].expires_at = 0.0
    sandbox.oauth.refresh_tokens[start.refresh_token] = False  # already used elsewhere
    saved = Saved()
    auth = RefreshingAuth(OAuthConfig.for_account(account), start, saved)
    saved.auth = auth

    async def go() -> None:
        kit = KitV4(account, start, auth=auth)
        try:
            await kit.whoami()
        finally:
            await kit.aclose()

    with pytest.raises(AuthenticationError) as caught:
        asyncio.run(go())
    assert isinstance(caught.value, OAuthRefusedError)
    assert "sign in" in str(caught.value).lower()
    assert start.token not in str(caught.value) and start.refresh_token not in str(caught.value)
    assert saved.pairs == []


def test_a_failed_save_keeps_the_new_pair_unused_until_it_is_saved(sandbox: Sandbox, base_url: str) -> None:
    account = account_for(sandbox, base_url)
    start = _issued(sandbox)
    sandbox.oauth.access_tokens[start.token].expires_at = 0.0
    attempts: list[Credentials] = []

    async def flaky_save(credentials: Credentials) -> None:
        attempts.append(credentials)
        if len(attempts) == 1:
            raise OSError("keyring locked")

    auth = RefreshingAuth(OAuthConfig.for_account(account), start, flaky_save)

    async def go() -> str:
        kit = KitV4(account, start, auth=auth)
        try:
            with pytest.raises(AuthenticationError, match="keyring"):
                await kit.whoami()
            fresh = attempts[0]
            assert sandbox.oauth.access_tokens[fresh.token].uses == 0  # not used while unsaved
            return (await kit.whoami()).name  # the save is tried again first, then the pair is used
        finally:
            await kit.aclose()

    assert asyncio.run(go())
    assert len(attempts) == 2 and attempts[0] == attempts[1]


def test_short_lived_tokens_are_not_refreshed_before_every_request(sandbox: Sandbox, base_url: str) -> None:
    sandbox.oauth.expires_in = 60  # shorter than the 2-minute margin
    account = account_for(sandbox, base_url)
    start = _issued(sandbox)
    start = Credentials(start.token, refresh_token=start.refresh_token, expires_at=1.0)  # long expired
    saved = Saved()
    auth = RefreshingAuth(OAuthConfig.for_account(account), start, saved)
    saved.auth = auth

    async def go() -> None:
        kit = KitV4(account, start, auth=auth)
        try:
            for _ in range(5):
                await kit.whoami()
        finally:
            await kit.aclose()

    asyncio.run(go())
    assert len(saved.pairs) == 1  # refreshed once, then the 60 s token is used


def test_a_fixed_redirect_port_is_used_and_a_busy_one_is_explained(sandbox: Sandbox, base_url: str) -> None:
    import dataclasses
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = dataclasses.replace(config_for(sandbox, base_url), redirect_port=port)
    opened: list[str] = []

    async def go() -> Credentials:
        async with httpx.AsyncClient() as http:
            return await sign_in(config, run_browser(opened), http=http, timeout=10)

    assert asyncio.run(go()).token
    assert f"127.0.0.1%3A{port}%2Fcallback" in opened[0]

    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the sign-in's socket may linger
        busy.bind(("127.0.0.1", port))
        busy.listen()
        with pytest.raises(SignInError, match=f"Port {port}"):
            asyncio.run(go())
