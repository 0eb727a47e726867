"""Every URL a secret goes to (API base, OAuth token, OAuth authorize) obeys one rule: https, or
plain http only to this computer. Checked when an account is added and again at use."""

from __future__ import annotations

import asyncio

import pytest

from audience_manager.api.oauth import OAuthConfig
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.core.urls import InsecureURLError, require_safe_account_urls, require_safe_url
from audience_manager.store.connections import ConnectionCheckError, check_account


@pytest.mark.parametrize(
    "url", ["http://auth.example.com/oauth/token", "ftp://x/y", "api.kit.com", "https://"]
)
def test_an_unsafe_url_is_refused(url: str) -> None:
    with pytest.raises(InsecureURLError, match="https://"):
        require_safe_url(url, "the refresh token")


@pytest.mark.parametrize(
    "url", ["https://api.kit.com/oauth/token", "http://127.0.0.1:8765/t", "http://localhost/t"]
)
def test_https_and_loopback_are_allowed(url: str) -> None:
    require_safe_url(url)


def test_oauth_refuses_a_plain_http_token_url_at_use() -> None:
    with pytest.raises(InsecureURLError, match="refresh token"):
        OAuthConfig("client", "https://app.kit.com/oauth/authorize", "http://evil.example/oauth/token")
    with pytest.raises(InsecureURLError, match="sign-in"):
        OAuthConfig("client", "http://evil.example/oauth/authorize", "https://api.kit.com/oauth/token")


def test_the_account_form_check_refuses_an_http_token_url() -> None:
    account = Account(
        "Shop", PlatformKind.KIT_V4, AuthKind.OAUTH, oauth_token_url="http://evil.example/oauth/token"
    )
    with pytest.raises(InsecureURLError):
        require_safe_account_urls(account)
    with pytest.raises(ConnectionCheckError, match="use an https:// address"):
        asyncio.run(check_account(account, Credentials("access-token-1234", refresh_token="refresh-1234")))
