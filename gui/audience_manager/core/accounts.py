"""An account: where it lives and how to reach it. Its secrets are kept apart, in `Credentials`.

`Account` is safe to write to the settings file; `Credentials` never is (its fields are hidden from
`repr` so a stray log line cannot print them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from audience_manager.core.platforms import AccountKind, AuthKind, PlatformKind, account_kind
from audience_manager.core.secret_text import clean_secret

# The official Kit SDK's pair, the one in production use (the docs and the spec disagree).
KIT_OAUTH_AUTHORIZE_URL = "https://app.kit.com/oauth/authorize"
KIT_OAUTH_TOKEN_URL = "https://api.kit.com/oauth/token"


@dataclass(frozen=True)
class Account:
    name: str
    platform: PlatformKind
    auth: AuthKind
    base_url: str = ""
    location_id: str = ""  # HighLevel sub-account
    oauth_client_id: str = ""
    oauth_authorize_url: str = KIT_OAUTH_AUTHORIZE_URL
    oauth_token_url: str = KIT_OAUTH_TOKEN_URL
    # The sign-in's loopback redirect: http://127.0.0.1:PORT/callback. 0 takes any free port; a Kit
    # app that only accepts its registered redirect URI exactly needs that URI's port here.
    oauth_redirect_port: int = 0
    api_version: str = "2021-07-28"  # HighLevel `Version` header
    demo: bool = False

    def __post_init__(self) -> None:
        if not self.base_url:
            object.__setattr__(self, "base_url", self.platform.info.base_url)

    @property
    def kind(self) -> AccountKind:
        """What this account's platform and credential kind need (`core.platforms.ACCOUNT_KINDS`)."""
        return account_kind(self.platform, self.auth)

    def with_changes(self, **changes: object) -> Account:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Credentials:
    """The secret half of an account. Lives in the OS keyring or, by the user's choice, in memory."""

    token: str = field(repr=False)  # API key, OAuth access token, v3 api_key, or HighLevel PIT
    secret: str = field(default="", repr=False)  # Kit v3 api_secret
    refresh_token: str = field(default="", repr=False)  # OAuth
    expires_at: float = 0.0  # OAuth access token expiry, epoch seconds; 0 = unknown/never

    def __post_init__(self) -> None:
        # Checked where every secret is read (environment, keyring, form, refresh): see core.secret_text.
        for name, what in (
            ("token", "The token"),
            ("secret", "The API secret"),
            ("refresh_token", "The refresh token"),
        ):
            object.__setattr__(self, name, clean_secret(getattr(self, name), what))

    def secrets(self) -> tuple[str, ...]:
        """Every secret string, for redaction and for leak scans."""
        return tuple(s for s in (self.token, self.secret, self.refresh_token) if s)


def missing_fields(account: Account, credentials: Credentials) -> list[str]:
    """What must still be filled in before the account can be tried, in the user's words; what its
    kind needs is read from its description."""
    kind = account.kind
    location = kind.info.location
    missing = []
    if not account.name.strip():
        missing.append("a name")
    if not credentials.token.strip():
        missing.append(kind.token_word)
    if kind.needs_secret and not credentials.secret.strip():
        missing.append(kind.secret_word)
    if location is not None and not account.location_id.strip():
        missing.append(location.word)
    return missing
