"""Opening the right client for an account: the one place that knows every concrete platform class.

Each platform registers its constructor in `REGISTRY`; callers (the app, the CLI) only ever see the
`Platform` protocol that `open_platform` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from audience_manager.api.highlevel import HighLevel
from audience_manager.api.kit_v3 import KitV3
from audience_manager.api.kit_v4 import KitV4
from audience_manager.api.platform import Platform
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.platforms import PlatformKind

PlatformFactory = Callable[..., Platform]

# PlatformKind -> constructor(account, credentials, *, transport=None, auth=None)
REGISTRY: dict[PlatformKind, PlatformFactory] = {
    PlatformKind.KIT_V4: KitV4,
    PlatformKind.KIT_V3: KitV3,
    PlatformKind.HIGHLEVEL: HighLevel,
}


class UnsupportedPlatformError(ValueError):
    """No client is registered for the account's platform."""


def open_platform(
    account: Account,
    credentials: Credentials,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    auth: httpx.Auth | None = None,
    **options: Any,
) -> Platform:
    """A ready client for `account` (nothing is sent until the first call). Close it with `aclose()`.

    `transport` routes requests in-process (the demo workspace); `auth` replaces the fixed
    credential header (an OAuth flow that refreshes its token). `options` go to the client's
    constructor as they are (`retry`, `sleep`, `timeout`, `limiter`: tests that must not wait).
    """
    factory = REGISTRY.get(account.platform)
    if factory is None:
        raise UnsupportedPlatformError(f"{account.platform.label} accounts are not supported yet.")
    return factory(account, credentials, transport=transport, auth=auth, **options)
