"""The one rule for every URL a secret goes to (an API base URL, Kit's OAuth authorize and token
URLs): https, or plain http only to this computer (loopback), or to the in-process demo sandbox.

Checked when an account is added (`accounts add`, the account form) and again at use (the
transport, the OAuth sign-in and refresh), so a URL edited in the settings file is refused too.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from audience_manager.core.accounts import Account
from audience_manager.core.platforms import AuthKind

# Hosts the in-process sandbox answers on (no socket: never on the network).
IN_PROCESS_HOSTS = frozenset({"demo.sandbox"})
IN_PROCESS_SUFFIX = ".invalid"


class InsecureURLError(ValueError):
    """The URL would send a credential in clear text over the network."""


def require_safe_url(url: str, what: str = "credentials", *, in_process: bool = False) -> None:
    """Refuse `url` unless it is https, or http to loopback (or, `in_process`, to the demo host).
    `what` names what would be sent, for the message ("the OAuth token URL")."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http":
        if host == "localhost" or (
            in_process and (host in IN_PROCESS_HOSTS or host.endswith(IN_PROCESS_SUFFIX))
        ):
            return
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            pass
    raise InsecureURLError(
        f"Refusing to send {what} to {parts.scheme or 'a URL without a scheme'}://{host or '?'}: "
        "use an https:// address (plain http is allowed only to this computer)."
    )


def require_safe_account_urls(account: Account) -> None:
    """Every URL of `account` a secret goes to: its API base URL and, for OAuth, the token URL (the
    refresh token) and the authorize URL (the sign-in)."""
    in_process = account.demo
    if account.base_url:
        require_safe_url(account.base_url, "the token (API base URL)", in_process=in_process)
    if account.auth is AuthKind.OAUTH:
        require_safe_url(
            account.oauth_token_url, "the refresh token (OAuth token URL)", in_process=in_process
        )
        require_safe_url(
            account.oauth_authorize_url, "the sign-in (OAuth authorize URL)", in_process=in_process
        )
