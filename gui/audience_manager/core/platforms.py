"""Which platform an account lives on, how it authenticates, and what it can do.

A platform's differences are data here, so the window, the CLI and the store ask the tables
instead of testing `if platform == ...`:
- `Capabilities` (filled in by each client): actions, identifiers, batch size, rate limit;
- `PLATFORMS`: one `PlatformInfo` a platform: its names, its address, its location field if it has one;
- `ACCOUNT_KINDS`: one `AccountKind` a platform and credential kind: which fields and secrets an
  account of that kind needs, which kind is the default, and the words the form, the CLI and the
  connection check use for it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from audience_manager.core.actions import Action
from audience_manager.core.identifiers import IdentifierKind


class PlatformKind(enum.StrEnum):
    KIT_V4 = "kit-v4"
    KIT_V3 = "kit-v3"
    HIGHLEVEL = "highlevel"

    @property
    def info(self) -> PlatformInfo:
        return PLATFORMS[self]

    @property
    def label(self) -> str:
        return PLATFORMS[self].label

    @property
    def person(self) -> str:
        """What the platform calls one member of the audience, for messages."""
        return PLATFORMS[self].person


class AuthKind(enum.StrEnum):
    API_KEY = "api-key"  # Kit v4 X-Kit-Api-Key
    OAUTH = "oauth"  # Kit v4 bearer access token (bulk endpoints allowed)
    LEGACY_KEY = "legacy-key"  # Kit v3 api_key + api_secret
    PRIVATE_TOKEN = "private-token"  # HighLevel Private Integration Token (+ location id)


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` in any window of `per_seconds` (a rolling window, the stricter reading)."""

    requests: int
    per_seconds: float
    daily: int | None = None

    @property
    def per_second(self) -> float:
        return self.requests / self.per_seconds


@dataclass(frozen=True)
class Capabilities:
    """What one platform, with one kind of credential, can do and how fast.

    `items_per_request` is how many rows one write request carries (100 for Kit bulk, 1 for the
    per-row endpoints); the throughput ceiling is `rate.per_second * items_per_request`.
    `missing` explains, in the user's words, why an action is absent.
    """

    actions: frozenset[Action]
    identifiers: frozenset[IdentifierKind]
    items_per_request: int
    rate: RateLimit
    missing: dict[Action, str] = field(default_factory=dict)
    can_create_tags: bool = True
    can_remove_all_tags: bool = False
    # Reading the current state before a write, so Preview and Undo know what would change.
    can_read_membership: bool = False
    # Actions whose writes take an email as it is (Kit v3 subscribes by email). For every other
    # action the runner first looks emails up with `Platform.resolve` and writes by id; `identifiers`
    # says what a user may paste, not what the write endpoints take.
    writes_by_email: frozenset[Action] = frozenset()
    # Creating the people an email audience names who are not there yet (`Platform.create`): how
    # many one request creates (0: this platform cannot, and `cannot_create` says why).
    creates_per_request: int = 0
    # Actions whose before-state arrives with resolving (Kit v4 set field: a looked-up or listed
    # subscriber comes with its fields). The directory cache is not used for them: an id from it
    # would cost one read per person to learn the value the undo restores.
    state_with_resolution: frozenset[Action] = frozenset()
    # A per-row endpoint that writes several fields of one person at once (Kit's PUT
    # /v4/subscribers/{id}): a job setting fields from the file sends one request a person.
    fields_in_one_request: bool = False
    cannot_create: str = "This platform does not offer creating people here."

    @property
    def can_create(self) -> bool:
        return self.creates_per_request > 0

    @property
    def ceiling_rows_per_second(self) -> float:
        return self.rate.per_second * self.items_per_request

    def why_not(self, action: Action) -> str | None:
        if action in self.actions:
            return None
        return self.missing.get(action, "This platform does not offer this action.")


# ------------------------------------------------------------------------------ account descriptions


@dataclass(frozen=True)
class LocationField:
    """A platform account that lives in one sub-account (HighLevel's location): what it is called."""

    label: str = "Location ID"
    word: str = "the location ID"  # "Fill in the location ID first."
    placeholder: str = ""
    hint: str = "the sub-account's location id"  # the CLI's `--location ID (...)`
    where: str = ""  # where the user finds it, for "check the location ID" messages


@dataclass(frozen=True)
class PlatformInfo:
    """One platform, for every kind of credential it takes."""

    kind: PlatformKind
    label: str  # "Kit (API v3, legacy)"
    vendor: str  # who answers, in messages: "Kit said ..."
    person: str  # one member of the audience: "subscriber", "contact"
    base_url: str
    # The credential kind a one-run command line uses without `--auth`; None: it must be said.
    default_auth: AuthKind | None
    # The kind `accounts add` saves without `--auth`.
    saved_auth: AuthKind
    location: LocationField | None = None


@dataclass(frozen=True)
class AccountKind:
    """What an account of one platform and credential kind needs, and how each need is called.

    `token_label` names the pasted credential; a kind that `signs_in` has none (the browser sign-in
    brings an access and a refresh token, with the client id of the user's Kit app). `secret_label`
    names a second secret the kind needs (Kit v3's API secret); "" when it needs none.
    """

    platform: PlatformKind
    auth: AuthKind
    label: str  # the form's "Kind" choice
    help: str  # shown under that choice
    token_label: str  # the form's field label; "" when the kind signs in instead
    token_word: str  # "Fill in the API key first."
    refused_word: str  # "Kit refused the API key or secret: ..."
    fix: str  # what to do when it was refused
    expired_fix: str = "Make a new one and paste it."
    signs_in: bool = False
    secret_label: str = ""
    secret_word: str = ""
    secret_hint: str = ""  # the CLI's `--secret-env VAR (...)`
    # Whether the client's `whoami` proves the whole credential; if not, "Test connection" also
    # lists the tags (Kit v3's /v3/account takes only the API secret, the tags take the API key).
    whoami_proves_all: bool = True

    @property
    def info(self) -> PlatformInfo:
        return PLATFORMS[self.platform]

    @property
    def needs_secret(self) -> bool:
        return bool(self.secret_label)

    @property
    def needs_location(self) -> bool:
        return self.info.location is not None


PLATFORMS: dict[PlatformKind, PlatformInfo] = {
    PlatformKind.KIT_V4: PlatformInfo(
        PlatformKind.KIT_V4,
        label="Kit",
        vendor="Kit",
        person="subscriber",
        base_url="https://api.kit.com",
        default_auth=None,  # oauth (bulk requests) and api-key (one request a row) differ too much
        saved_auth=AuthKind.API_KEY,
    ),
    PlatformKind.KIT_V3: PlatformInfo(
        PlatformKind.KIT_V3,
        label="Kit (API v3, legacy)",
        vendor="Kit",
        person="subscriber",
        base_url="https://api.convertkit.com",
        default_auth=AuthKind.LEGACY_KEY,
        saved_auth=AuthKind.LEGACY_KEY,
    ),
    PlatformKind.HIGHLEVEL: PlatformInfo(
        PlatformKind.HIGHLEVEL,
        label="HighLevel",
        vendor="HighLevel",
        person="contact",
        base_url="https://services.leadconnectorhq.com",
        default_auth=AuthKind.PRIVATE_TOKEN,
        saved_auth=AuthKind.PRIVATE_TOKEN,
        location=LocationField(
            placeholder="e.g. ve9EPM428h8vShlRW1KT",
            where="HighLevel › Settings › Business Profile",
        ),
    ),
}

# In the order the account form offers them.
ACCOUNT_KINDS: tuple[AccountKind, ...] = (
    AccountKind(
        PlatformKind.KIT_V4,
        AuthKind.API_KEY,
        label="Kit — API key",
        help="From Kit › Settings › Developer › API keys (v4).\nJobs send one request per subscriber.",
        token_label="API key",
        token_word="the API key",
        refused_word="the API key",
        fix="Copy the v4 API key again from Kit › Settings › Developer.",
    ),
    AccountKind(
        PlatformKind.KIT_V4,
        AuthKind.OAUTH,
        label="Kit — sign in with Kit (OAuth)",
        help="Signs in through your browser, with your Kit app's client ID.\n"
        "Jobs send bulk requests of 100 subscribers.",
        token_label="",
        token_word="a Kit sign-in",
        refused_word="the sign-in",
        fix="Sign in to Kit again.",
        expired_fix="Sign in to Kit again.",
        signs_in=True,
    ),
    AccountKind(
        PlatformKind.KIT_V3,
        AuthKind.LEGACY_KEY,
        label="Kit API v3 (legacy) — API key and secret",
        help="From Kit › Settings › Developer › API keys (v3):\nboth the API key and the API secret.",
        token_label="API key",
        token_word="the API key",
        refused_word="the API key or secret",
        fix="Copy the v3 API key and secret again from Kit › Settings › Developer.",
        secret_label="API secret",
        secret_word="the API secret",
        secret_hint="the api_secret, for untag",
        whoami_proves_all=False,
    ),
    AccountKind(
        PlatformKind.HIGHLEVEL,
        AuthKind.PRIVATE_TOKEN,
        label="HighLevel — Private Integration Token",
        help="From the sub-account's Settings › Private Integrations,\n"
        "with the contacts and locations/tags scopes.",
        token_label="Private Integration Token",
        token_word="the Private Integration Token",
        refused_word="the Private Integration Token",
        fix="Copy the token again from HighLevel › Settings › Private Integrations.",
    ),
)


class UnknownAccountKindError(ValueError):
    """No account kind pairs this platform with this credential; the message says which pairs exist."""


def kinds_of(platform: PlatformKind) -> tuple[AccountKind, ...]:
    return tuple(k for k in ACCOUNT_KINDS if k.platform is platform)


def account_kind(platform: PlatformKind, auth: AuthKind) -> AccountKind:
    for kind in ACCOUNT_KINDS:
        if kind.platform is platform and kind.auth is auth:
            return kind
    allowed = " or ".join(k.auth.value for k in kinds_of(platform))
    raise UnknownAccountKindError(f"{platform.label} accounts take {allowed}, not {auth}")
