"""Which platform an account lives on, how it authenticates, and what it can do.

A platform's differences are data here (its `Capabilities`), so the UI and the CLI ask the table
instead of testing `if platform == ...`.
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
    def label(self) -> str:
        return {
            PlatformKind.KIT_V4: "Kit",
            PlatformKind.KIT_V3: "Kit (API v3, legacy)",
            PlatformKind.HIGHLEVEL: "HighLevel",
        }[self]

    @property
    def person(self) -> str:
        """What the platform calls one member of the audience, for messages."""
        return "contact" if self is PlatformKind.HIGHLEVEL else "subscriber"


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

    @property
    def ceiling_rows_per_second(self) -> float:
        return self.rate.per_second * self.items_per_request

    def why_not(self, action: Action) -> str | None:
        if action in self.actions:
            return None
        return self.missing.get(action, "This platform does not offer this action.")
