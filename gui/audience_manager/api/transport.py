"""The one way our clients talk HTTP: paced, retried, redacted, and with errors in the user's words.

A platform client owns one `Transport` (one `httpx.AsyncClient`, reused for the account's life) and
gives it what differs per platform: the base URL, how to read an error body (`messages`), how to
tell an expired credential from a wrong one, and the rate limiter of its credential.

What a response means is decided here once:
- 2xx with a JSON body (or an empty one) is returned as a `Reply`.
- 429: wait (Retry-After when the server sends one, else exponential backoff with jitter), and
  hold every other request of the credential meanwhile; retry a bounded number of times.
- 5xx, timeouts, dropped or refused connections, and a 2xx whose body is not JSON (an HTML page
  from a proxy) are server faults: retried with backoff, then `GaveUpError` with a plain reason.
- 413 (Kit's queued bulk data budget is full): wait and send again.
- 401: `AuthenticationError`, `expired` set when the platform says the token expired.
- 404: `NotFoundError`; any other 4xx: `ApiError`, with the platform's own messages.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from audience_manager.api.errors import (
    ApiError,
    AuthenticationError,
    ConnectionFailedError,
    GaveUpError,
    NotFoundError,
)
from audience_manager.api.pacing import RateLimiter, ServerHint, Sleep
from audience_manager.api.platform import RateBudget
from audience_manager.api.redaction import (
    redact,
    redact_body,
    redact_headers,
    redact_url,
    register_secret,
)
from audience_manager.core.urls import InsecureURLError as InsecureURLError  # re-exported
from audience_manager.core.urls import require_safe_url

log = logging.getLogger(__name__)

MessagesParser = Callable[[httpx.Response], list[str]]
HintReader = Callable[[httpx.Response], ServerHint | None]

# The demo workspace's host (served in-process, never on the network) and the reserved `.invalid`
# top-level domain, which can never resolve: with an in-process transport plain http is safe there.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def check_base_url(base_url: str, *, in_process: bool = False) -> None:
    """Refuse http:// except to this machine (loopback) or an in-process demo host."""
    require_safe_url(base_url, "credentials", in_process=in_process)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying before telling the user. Delays are in seconds."""

    attempts: int = 6  # per request, for 5xx / timeouts / dropped connections / 429 / 413
    base_delay: float = 1.0
    max_delay: float = 60.0
    throttle_base_delay: float = 2.0  # 429: Kit resets within 60 s
    throttle_attempts: int = 8
    queued_bulk_delay: float = 5.0  # 413: Kit is still working through earlier bulk requests

    def backoff(self, attempt: int, base: float, jitter: float) -> float:
        """Exponential with "equal jitter": half fixed, half random, so retries do not move in step."""
        ceiling = min(self.max_delay, base * 2.0 ** (attempt - 1))
        return ceiling / 2 + ceiling / 2 * jitter


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # parsed JSON, or None for an empty body
    headers: httpx.Headers = field(default_factory=httpx.Headers)


def json_messages(keys: Sequence[str] = ("errors", "error", "message")) -> MessagesParser:
    """A `messages` reader for bodies that carry their errors under one of `keys` (strings or lists)."""

    def read(response: httpx.Response) -> list[str]:
        try:
            body = response.json()
        except ValueError:
            text = response.text.strip()
            return [text[:300]] if text and "<" not in text[:50] else []
        return messages_from(body, keys)

    return read


def messages_from(body: Any, keys: Sequence[str]) -> list[str]:
    """Flatten an error body's messages: strings, lists of strings, lists of lists (Kit sequences)."""
    if not isinstance(body, dict):
        return [body] if isinstance(body, str) and body else []
    out: list[str] = []
    for key in keys:
        _flatten(body.get(key), out)
        if out:
            break
    return out


def _flatten(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        if value:
            out.append(value)
    elif isinstance(value, list):
        for v in value:
            _flatten(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _flatten(v, out)


def says_expired(messages: Sequence[str]) -> bool:
    """Kit: "The access token expired" (refresh and go on) vs "The access token is invalid" (fatal)."""
    return any("expired" in m.lower() for m in messages)


class HeaderAuth(httpx.Auth):
    """Fixed secret headers (an API key, a bearer token); kept out of the client's default headers."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        request.headers.update(self._headers)
        yield request

    def __repr__(self) -> str:
        return f"HeaderAuth({', '.join(self._headers)})"


class _ServerFault(Exception):
    """Internal: a response that counts as the server failing (retried like a 5xx)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Transport:
    """One account's HTTP connection: every request paced by `limiter`, retried, and redacted in logs."""

    def __init__(
        self,
        base_url: str,
        *,
        limiter: RateLimiter,
        messages: MessagesParser | None = None,
        platform_name: str = "The platform",
        secrets: Sequence[str] = (),
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        is_expired: Callable[[Sequence[str]], bool] = says_expired,
        hints: HintReader | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_base_url(base_url, in_process=transport is not None)
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.platform_name = platform_name
        self.retry = retry or RetryPolicy()
        self._messages = messages or json_messages()
        self._secrets = tuple(s for s in secrets if s)
        register_secret(*self._secrets)  # the log file's filter masks them too
        self._is_expired = is_expired
        self._hints = hints
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            auth=auth,
            headers={"Accept": "application/json", "User-Agent": "audience-manager", **(headers or {})},
            transport=transport,
            timeout=timeout,
            verify=True,
            follow_redirects=False,
            event_hooks={"request": [self._log_request], "response": [self._log_response]},
        )

    @property
    def client(self) -> httpx.AsyncClient:
        return self._client

    def add_secret(self, secret: str) -> None:
        """A secret learned later (a refreshed token) that must also never be logged."""
        if secret and secret not in self._secrets:
            self._secrets = (*self._secrets, secret)
            register_secret(secret)

    def budget(self) -> RateBudget:
        return self.limiter.budget()

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- requests ---------------------------------------------------------------------------------

    async def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Reply:
        return await self.request("GET", path, params=params)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
    ) -> Reply:
        """Send one request, paced and retried; return the 2xx reply or raise an `api.errors` error."""
        failures = 0  # 5xx, timeouts, drops, bodies that are not JSON
        throttled = 0  # 429
        queued = 0  # 413
        started = self._clock()
        while True:
            await self.limiter.acquire()
            try:
                response = await self._client.request(method, path, params=params, json=json, data=data)
            except httpx.TimeoutException as exc:
                failures += 1
                reason = self._gave_up_reason("timeout", failures, exc)
                await self._wait_or_give_up(failures, self.retry.attempts, self.retry.base_delay, reason)
                continue
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                if _is_certificate_problem(exc):  # retrying cannot fix it, and it must not be bypassed
                    raise ConnectionFailedError(
                        f"The secure connection to {self.platform_name} could not be verified (its "
                        "certificate was refused). Check the address, or a proxy or antivirus that "
                        "intercepts HTTPS."
                    ) from None
                failures += 1
                reason = self._gave_up_reason("connection", failures, exc)
                if failures >= self.retry.attempts and isinstance(exc, httpx.ConnectError):
                    raise ConnectionFailedError(reason) from None
                await self._wait_or_give_up(failures, self.retry.attempts, self.retry.base_delay, reason)
                continue
            except httpx.HTTPError as exc:  # our side of HTTP went wrong (a proxy setting, a bad URL)
                raise GaveUpError(
                    self._redact(
                        f"Could not send the request to {self.platform_name} ({type(exc).__name__}: {exc})."
                    )
                ) from None

            self._observe(response)
            status = response.status_code
            if status == 429:
                throttled += 1
                delay = self._retry_after(response)
                if delay is None:
                    delay = self.retry.backoff(throttled, self.retry.throttle_base_delay, self._jitter())
                waited = self._clock() - started
                if throttled >= self.retry.throttle_attempts:
                    raise GaveUpError(
                        f'{self.platform_name} kept saying "too many requests" ({throttled} times over '
                        f"{waited:.0f} s). Another app may be using the same credential; try again later."
                    )
                log.info("%s throttled (429), waiting %.1f s", self.platform_name, delay)
                self.limiter.pause(delay)
                continue
            if status == 413:
                queued += 1
                # Kit: its queue of bulk data is full; others: the request was too large. The
                # platform's own words say which; ours must be true of both.
                reason = self._redact(
                    f"{self.platform_name} refused the request as too much at once "
                    f"({'; '.join(self._read_messages(response)) or 'HTTP 413'}) after {queued} tries."
                )
                await self._wait_or_give_up(queued, self.retry.attempts, self.retry.queued_bulk_delay, reason)
                continue
            if status >= 500:
                failures += 1
                reason = self._gave_up_reason("server", failures, None, response)
                await self._wait_or_give_up(failures, self.retry.attempts, self.retry.base_delay, reason)
                continue
            if status >= 400:
                self._raise_client_error(response)
            if status >= 300:
                where = redact_url(response.headers.get("location", "?"), self._secrets)
                raise ApiError(
                    status,
                    [f"{self.platform_name} redirected the request to {where}"],
                    hint="Check the account's base address.",
                )
            try:
                body = self._parse_json(response)
            except _ServerFault as fault:
                failures += 1
                await self._wait_or_give_up(
                    failures, self.retry.attempts, self.retry.base_delay, fault.reason
                )
                continue
            return Reply(status=status, body=body, headers=response.headers)

    # -- helpers ----------------------------------------------------------------------------------

    async def _wait_or_give_up(self, attempt: int, attempts: int, base: float, reason: str) -> None:
        if attempt >= attempts:
            raise GaveUpError(reason)
        delay = self.retry.backoff(attempt, base, self._jitter())
        log.info("%s; retrying in %.1f s (try %d of %d)", reason, delay, attempt + 1, attempts)
        await self._sleep(delay)

    def _gave_up_reason(
        self, kind: str, count: int, exc: Exception | None, response: httpx.Response | None = None
    ) -> str:
        name = self.platform_name
        if kind == "timeout":
            text = f"{name} did not answer in time ({count} tries)."
        elif kind == "connection":
            # The exception's class name is for the log (a user cannot act on "RemoteProtocolError").
            log.info("%s connection problem: %s", name, type(exc).__name__ if exc is not None else "?")
            text = (
                f"The connection to {name} failed or dropped ({count} tries). Check your internet connection."
            )
        else:
            assert response is not None
            phrase = response.reason_phrase or "server error"
            msgs = self._read_messages(response) if _looks_like_json(response) else []
            # "Service Unavailable: Service unavailable" says nothing twice.
            msgs = [m for m in msgs if m.strip().casefold() != phrase.casefold()]
            said = f": {'; '.join(msgs)}" if msgs else ""
            text = f"{name} had a server error (HTTP {response.status_code} {phrase}{said}; {count} tries)."
        return self._redact(text)

    def _raise_client_error(self, response: httpx.Response) -> None:
        status = response.status_code
        messages = [self._redact(m) for m in self._read_messages(response)]
        if status == 401:
            expired = self._is_expired(messages)
            hint = (
                "The sign-in has expired; reconnect the account."
                if expired
                else "The credential was refused; check it in the account settings."
            )
            raise AuthenticationError(status, messages, expired=expired, hint=hint)
        if status == 404:
            raise NotFoundError(status, messages)
        raise ApiError(status, messages)

    def _read_messages(self, response: httpx.Response) -> list[str]:
        try:
            return self._messages(response)
        except Exception:  # a parser must never turn an error into a traceback
            return []

    def _parse_json(self, response: httpx.Response) -> Any:
        content = response.content
        if not content.strip():
            return None
        try:
            return json.loads(content)
        except ValueError:
            kind = "a web page" if b"<" in content[:200] else "something that is not JSON"
            raise _ServerFault(
                f"{self.platform_name} answered with {kind} instead of data (HTTP {response.status_code}); "
                "a proxy or the platform may be having trouble."
            ) from None

    def _retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("Retry-After")
        if not value:
            return None
        try:
            return max(0.0, min(float(value), self.retry.max_delay * 5))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, min(when.timestamp() - time.time(), self.retry.max_delay * 5))

    def _observe(self, response: httpx.Response) -> None:
        if self._hints is None:
            return
        hint = self._hints(response)
        if hint is not None:
            self.limiter.observe(hint)

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    async def _log_request(self, request: httpx.Request) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            return
        log.debug(
            "→ %s %s headers=%s body=%s",
            request.method,
            redact_url(str(request.url), self._secrets),
            redact_headers(request.headers.items(), self._secrets),
            redact_body(request.content, self._secrets) if request.content else "",
        )

    async def _log_response(self, response: httpx.Response) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            return
        await response.aread()
        log.debug(
            "← %s %s %s headers=%s body=%s",
            response.status_code,
            response.request.method,
            redact_url(str(response.request.url), self._secrets),
            redact_headers(response.headers.items(), self._secrets),
            redact_body(response.content, self._secrets, limit=500),
        )


def _is_certificate_problem(exc: Exception) -> bool:
    text = f"{exc} {exc.__cause__ or ''} {exc.__context__ or ''}".upper()
    return "CERTIFICATE_VERIFY_FAILED" in text or "CERTIFICATE VERIFY FAILED" in text


def _looks_like_json(response: httpx.Response) -> bool:
    return response.content[:1].strip() in (b"{", b"[") or "json" in response.headers.get("content-type", "")


def rate_limit_hints(response: httpx.Response) -> ServerHint | None:
    """Read HighLevel-style `X-RateLimit-Remaining` / `X-RateLimit-Daily-Remaining` headers."""
    remaining = _int_header(response, "X-RateLimit-Remaining")
    daily = _int_header(response, "X-RateLimit-Daily-Remaining")
    if remaining is None and daily is None:
        return None
    return ServerHint(remaining=remaining, daily_remaining=daily)


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
