"""Kit OAuth for a desktop app: authorization code with PKCE through the system browser and a
loopback redirect, and access tokens that refresh themselves.

Why PKCE and loopback: a desktop app cannot keep a client secret, and Kit enforces PKCE for
"not secure" applications; the redirect lands on a one-shot HTTP listener on 127.0.0.1.

Why the rotation callback runs before the new token is used: Kit's refresh tokens are single-use
(a reused one gets `invalid_grant`), so a crash between refreshing and saving would lock the user
out. `on_rotated` must persist the new pair (the keyring) before the request is retried.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
import urllib.parse
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from audience_manager.api.errors import AuthenticationError
from audience_manager.api.redaction import register_secret
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.urls import require_safe_url

REFRESH_MARGIN_S = 120.0  # refresh this long before the access token expires
EXPIRED_MESSAGE = "The access token expired"
SIGN_IN_AGAIN = "Sign in to Kit again in Account › Accounts…"


class OAuthRefusedError(AuthenticationError):
    """The token endpoint refused (e.g. `invalid_grant`): the user must sign in again."""


class SignInError(Exception):
    """The browser sign-in did not complete; the message says why and what to do."""


@dataclass(frozen=True)
class OAuthConfig:
    client_id: str
    authorize_url: str
    token_url: str
    redirect_port: int = 0  # 0: any free port on 127.0.0.1
    in_process: bool = False  # the demo's in-process sandbox

    def __post_init__(self) -> None:
        # The refresh token goes to the token URL, the sign-in starts at the authorize URL.
        require_safe_url(self.token_url, "the refresh token (OAuth token URL)", in_process=self.in_process)
        require_safe_url(self.authorize_url, "the sign-in (OAuth authorize URL)", in_process=self.in_process)

    @classmethod
    def for_account(cls, account: Account) -> OAuthConfig:
        return cls(
            account.oauth_client_id,
            account.oauth_authorize_url,
            account.oauth_token_url,
            account.oauth_redirect_port,
            in_process=account.demo,
        )


def pkce_pair() -> tuple[str, str]:
    """A verifier of 86 URL-safe characters (43..128 allowed) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


_DONE_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Audience Manager</title>"
    "<body style='font-family:sans-serif;margin:3em'><h2>{title}</h2><p>{text}</p></body>"
)


class LoopbackReceiver:
    """A one-shot HTTP listener on 127.0.0.1 that catches the browser's redirect."""

    def __init__(self, port: int = 0) -> None:
        self._result: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._server: asyncio.Server | None = None
        self.port = port

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        except OSError as exc:
            raise SignInError(
                f"Port {self.port} on this computer is in use, so the sign-in cannot come back to the "
                "app. Close what uses it, or choose another redirect port."
            ) from exc
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await asyncio.wait_for(reader.readline(), 10)).decode("latin-1")
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            target = request_line.split(" ")[1] if " " in request_line else "/"
            parsed = urllib.parse.urlsplit(target)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            if parsed.path != "/callback":
                body, status = _DONE_PAGE.format(title="Not found", text=""), "404 Not Found"
            elif "error" in query:
                body = _DONE_PAGE.format(title="Sign-in was not completed", text="You can close this tab.")
                status = "200 OK"
            else:
                body = _DONE_PAGE.format(
                    title="Signed in", text="You can close this tab and return to Audience Manager."
                )
                status = "200 OK"
            data = body.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
            if parsed.path == "/callback" and not self._result.done():
                self._result.set_result(query)
        except (TimeoutError, OSError, IndexError):
            pass
        finally:
            writer.close()

    async def wait(self, timeout: float) -> dict[str, str]:
        return await asyncio.wait_for(asyncio.shield(self._result), timeout)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def _token_error(response: httpx.Response) -> str:
    try:
        data: Any = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(data, dict):
        for key in ("error_description", "message", "error"):
            if data.get(key):
                return str(data[key])
        if isinstance(data.get("errors"), list) and data["errors"]:
            return str(data["errors"][0])
    return f"HTTP {response.status_code}"


def _credentials_from(data: dict[str, Any], previous: Credentials | None = None) -> Credentials:
    access = str(data.get("access_token", ""))
    if not access:
        raise SignInError("Kit's token endpoint answered without an access token.")
    expires_in = float(data.get("expires_in") or 0)
    return Credentials(
        token=access,
        refresh_token=str(data.get("refresh_token") or (previous.refresh_token if previous else "")),
        expires_at=time.time() + expires_in if expires_in else 0.0,
    )


async def _post_token(http: httpx.AsyncClient, config: OAuthConfig, body: dict[str, str]) -> httpx.Response:
    try:
        return await http.post(config.token_url, json={"client_id": config.client_id, **body})
    except httpx.HTTPError as exc:
        reason = type(exc).__name__
        raise SignInError(f"Could not reach Kit's token endpoint ({reason}). Check the network.") from exc


async def sign_in(
    config: OAuthConfig,
    open_browser: Callable[[str], object],
    *,
    http: httpx.AsyncClient,
    timeout: float = 300.0,
) -> Credentials:
    """Run the whole browser sign-in and return fresh credentials (not yet saved)."""
    if not config.client_id:
        raise SignInError("Enter the OAuth client id of your Kit app first.")
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    receiver = LoopbackReceiver(config.redirect_port)
    await receiver.start()
    try:
        url = (
            config.authorize_url
            + "?"
            + urllib.parse.urlencode(
                {
                    "client_id": config.client_id,
                    "response_type": "code",
                    "redirect_uri": receiver.redirect_uri,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "state": state,
                }
            )
        )
        open_browser(url)
        try:
            query = await receiver.wait(timeout)
        except TimeoutError as exc:
            raise SignInError("The sign-in was not finished in the browser in time. Try again.") from exc
        if query.get("state") != state:
            raise SignInError("The browser returned an unexpected answer (state mismatch). Try again.")
        if "error" in query or "code" not in query:
            reason = query.get("error_description") or query.get("error") or "no authorization code"
            raise SignInError(f"Kit did not authorize the app: {reason}.")
        response = await _post_token(
            http,
            config,
            {
                "grant_type": "authorization_code",
                "code": query["code"],
                "redirect_uri": receiver.redirect_uri,
                "code_verifier": verifier,
            },
        )
        if response.status_code >= 400:
            raise SignInError(f"Kit refused the sign-in: {_token_error(response)}.")
        return _credentials_from(response.json())
    finally:
        await receiver.close()


async def refresh(config: OAuthConfig, credentials: Credentials, *, http: httpx.AsyncClient) -> Credentials:
    """Exchange the (single-use) refresh token for a new pair.

    A network failure is raised as the httpx error it is, so the caller's transport retries it like
    any other dropped request (the refresh token was not spent if the request never arrived).
    """
    if not credentials.refresh_token:
        raise OAuthRefusedError(401, ["No refresh token is saved"], hint="Sign in to Kit again.")
    response = await http.post(
        config.token_url,
        json={
            "client_id": config.client_id,
            "grant_type": "refresh_token",
            "refresh_token": credentials.refresh_token,
        },
    )
    if response.status_code >= 400:
        message = _token_error(response)
        raise OAuthRefusedError(
            response.status_code,
            [message, SIGN_IN_AGAIN],
            hint="Kit no longer accepts this sign-in; sign in to Kit again.",
        )
    try:
        return _credentials_from(response.json(), credentials)
    except (ValueError, SignInError) as exc:
        raise OAuthRefusedError(
            response.status_code, ["Kit's token endpoint gave no usable answer"], hint="Sign in to Kit again."
        ) from exc


class RefreshingAuth(httpx.Auth):
    """Bearer auth that refreshes before expiry and once on a 401 "The access token expired".

    A new pair is used only once `on_rotated` has saved it. If saving fails (a locked keyring), the
    pair is held here, unused, the request fails with a message that says so, and the next request
    tries the save again first: the single-use refresh token is never spent twice, and never lost
    as long as the app runs.
    """

    def __init__(
        self,
        config: OAuthConfig,
        credentials: Credentials,
        on_rotated: Callable[[Credentials], Awaitable[None]],
        *,
        token_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.credentials = credentials
        self._on_rotated = on_rotated
        self._token_transport = token_transport
        self._clock = clock
        self._lock = asyncio.Lock()
        self._unsaved: Credentials | None = None
        self._lifetime = REFRESH_MARGIN_S * 4  # learnt from the first refresh

    def __repr__(self) -> str:
        return f"RefreshingAuth(client_id={self.config.client_id!r})"

    def _expiring(self) -> bool:
        """Refresh a little before the expiry: 2 minutes, or a quarter of a short token's life (a
        fixed margin longer than the lifetime would refresh before every request)."""
        expires = self.credentials.expires_at
        margin = min(REFRESH_MARGIN_S, self._lifetime / 4)
        return bool(expires) and expires - margin <= self._clock()

    async def _save(self, fresh: Credentials) -> None:
        register_secret(*fresh.secrets())  # masked in every log from before its first use
        try:
            await self._on_rotated(fresh)
        except Exception as exc:
            self._unsaved = fresh
            raise AuthenticationError(
                401,
                ["Kit issued a new sign-in but it could not be saved to the keyring"],
                hint=f"Unlock the keyring and try again ({type(exc).__name__})",
            ) from None
        self._unsaved = None
        if fresh.expires_at:
            self._lifetime = max(fresh.expires_at - self._clock(), 0.0)
        self.credentials = fresh

    async def _refresh(self, stale_token: str) -> None:
        async with self._lock:
            if self._unsaved is not None:
                await self._save(self._unsaved)
                return
            if self.credentials.token != stale_token:
                return  # another request refreshed while we waited
            async with httpx.AsyncClient(transport=self._token_transport, timeout=30) as http:
                fresh = await refresh(self.config, self.credentials, http=http)
            await self._save(fresh)  # persisted before anyone uses it

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._unsaved is not None or self._expiring():
            await self._refresh(self.credentials.token)
        sent_with = self.credentials.token
        request.headers["Authorization"] = f"Bearer {sent_with}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
            if EXPIRED_MESSAGE.encode() in response.content:
                await self._refresh(sent_with)
                request.headers["Authorization"] = f"Bearer {self.credentials.token}"
                yield request
