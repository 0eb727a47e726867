"""From a saved account to a working connection: the client with an OAuth token that refreshes
itself (and saves each rotated pair back where the old one was kept), and "Test connection", which
says who a credential belongs to or exactly what is wrong with it.

The GUI and the CLI both open saved accounts through here, so they refresh, save and explain the
same way.
"""

from __future__ import annotations

import httpx

from audience_manager.api.clients import REGISTRY, UnsupportedPlatformError
from audience_manager.api.errors import (
    ApiError,
    AuthenticationError,
    ConnectionFailedError,
    GaveUpError,
    NotFoundError,
)
from audience_manager.api.oauth import SIGN_IN_AGAIN, OAuthConfig, OAuthRefusedError, RefreshingAuth
from audience_manager.api.platform import AccountInfo, Platform
from audience_manager.api.redaction import redact
from audience_manager.api.transport import InsecureURLError, RetryPolicy
from audience_manager.core.accounts import Account, Credentials, missing_fields
from audience_manager.core.actions import TargetKind
from audience_manager.core.urls import require_safe_account_urls
from audience_manager.store.secrets import Secrets

# "Test connection" should answer in seconds, not after the minute of retries a job deserves.
CHECK_RETRY = RetryPolicy(attempts=2, base_delay=0.5, max_delay=2.0, throttle_attempts=2)


class ConnectionCheckError(Exception):
    """The credential does not work; the message says what is wrong in the user's words."""


def refreshing_auth(
    account: Account,
    credentials: Credentials,
    secrets: Secrets,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> RefreshingAuth:
    """Bearer auth for a Kit OAuth account whose rotated tokens go back where they were kept
    (the keyring, or this session's memory when the user chose that)."""

    async def save(fresh: Credentials) -> None:
        await secrets.save_async(account.name, fresh, session_only=secrets.is_session_only(account.name))

    return RefreshingAuth(OAuthConfig.for_account(account), credentials, save, token_transport=transport)


def open_account(
    account: Account,
    credentials: Credentials,
    secrets: Secrets | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
) -> Platform:
    """A ready client for a saved account (nothing is sent yet). Close it with `aclose()`.

    With `secrets`, a Kit OAuth account refreshes its token and saves each new pair there before
    using it; without, the token is used as it is (a one-off check of a token just entered)."""
    factory = REGISTRY.get(account.platform)
    if factory is None:
        raise UnsupportedPlatformError(f"{account.platform.label} accounts are not supported yet.")
    auth = None
    if account.kind.signs_in and secrets is not None and credentials.refresh_token:
        auth = refreshing_auth(account, credentials, secrets, transport=transport)
    if retry is None:
        return factory(account, credentials, transport=transport, auth=auth)
    return factory(account, credentials, transport=transport, auth=auth, retry=retry)


async def check_account(
    account: Account,
    credentials: Credentials,
    secrets: Secrets | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AccountInfo:
    """Who the credential belongs to (Kit `GET /v4/account` or `/v3/account`, HighLevel
    `GET /locations/{id}`); raises `ConnectionCheckError` saying exactly what is wrong."""
    missing = missing_fields(account, credentials)
    if missing:
        raise ConnectionCheckError("Fill in " + " and ".join(missing) + " first.")
    try:
        require_safe_account_urls(account)  # the OAuth URLs too: the form's fields, checked on Test
        platform = open_account(account, credentials, secrets, transport=transport, retry=CHECK_RETRY)
    except (InsecureURLError, UnsupportedPlatformError, ValueError) as exc:
        raise ConnectionCheckError(str(exc)) from None
    try:
        info = await platform.whoami()
        if not account.kind.whoami_proves_all:
            await platform.list_targets(TargetKind.TAG)
        return info
    except Exception as exc:
        raise ConnectionCheckError(describe_failure(account, exc, credentials)) from None
    finally:
        await platform.aclose()


def describe_failure(account: Account, exc: BaseException, credentials: Credentials | None = None) -> str:
    """One sentence on what is wrong and what to do; never contains a secret. The words for the
    account's credential and its location come from its description (`core.platforms`)."""
    kind = account.kind
    vendor = kind.info.vendor
    location = kind.info.location
    said = ""
    if isinstance(exc, ApiError) and exc.messages:
        words = [m for m in exc.messages if m != SIGN_IN_AGAIN]  # our own advice is given below
        said = f' ({vendor} said: "{"; ".join(words)}")' if words else ""
    if isinstance(exc, OAuthRefusedError):
        text = f"{vendor} no longer accepts this sign-in{said}. {kind.fix}"
    elif isinstance(exc, AuthenticationError) and exc.status == 403:
        text = (
            f"The token works but has no access to location {account.location_id}{said}. "
            f"Check the location ID ({location.where})."
            if location is not None
            else f"{vendor} refused access{said}. Check the credential's permissions."
        )
    elif isinstance(exc, AuthenticationError) and exc.expired:
        text = f"The token has expired{said}. {kind.expired_fix}"
    elif isinstance(exc, AuthenticationError):
        text = f"{vendor} refused {kind.refused_word}: it is invalid or was revoked{said}. {kind.fix}"
    elif isinstance(exc, ApiError) and exc.status == 403 and location is not None:
        text = (
            f"The token has no access to location {account.location_id}{said}: check the location ID, "
            "or use the token made in that sub-account."
        )
    elif isinstance(exc, NotFoundError) and location is not None:
        text = (
            f"No {vendor} sub-account has the location ID {account.location_id}{said}. Check the location ID."
        )
    elif isinstance(exc, ConnectionFailedError | httpx.ConnectError):
        text = (
            f"Could not connect to {account.base_url}: no network, or the address is wrong. "
            "Check your internet connection and the base URL."
        )
    elif isinstance(exc, GaveUpError):
        text = f"{exc.reason} Check your internet connection and try again."
    elif isinstance(exc, httpx.HTTPError):
        text = f"Could not reach {account.base_url} ({type(exc).__name__}). Check your internet connection."
    elif isinstance(exc, ApiError):
        text = f"{vendor} answered with an error: {exc}"
    else:
        text = f"The check failed unexpectedly ({type(exc).__name__}: {exc})."
    return redact(text, credentials.secrets() if credentials else ())
