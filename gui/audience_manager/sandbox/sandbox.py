"""One ASGI app that plays Kit v4 (+ its OAuth server), Kit v3 and HighLevel on one base URL.

Every API request goes through `_dispatch`: faults first (they stand for the network and proxies in
front of the platform), then the platform's own auth, limits and handler; then the stats.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from audience_manager.sandbox.bulk_queue import BulkQueue
from audience_manager.sandbox.clock import Clock, monotonic_clock
from audience_manager.sandbox.faults import Faults
from audience_manager.sandbox.highlevel import HighLevel, hl_error
from audience_manager.sandbox.kit_oauth import OAuthServer
from audience_manager.sandbox.kit_v3 import KitV3, v3_error
from audience_manager.sandbox.kit_v4 import KitV4
from audience_manager.sandbox.limits import DailyBudget, RollingWindow
from audience_manager.sandbox.responses import dropping, html_502, kit_errors, malformed, retry_later
from audience_manager.sandbox.seed import contact_id, seed_state
from audience_manager.sandbox.state import SandboxState
from audience_manager.sandbox.stats import DROPPED, Stats

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class SandboxCredentials:
    """Fake secrets that only this sandbox accepts; they look like sandbox strings on purpose."""

    kit_api_key: str = "kit_sandbox_demo_api_key_0001"
    kit_oauth_token: str = "sbx_kit_at_demo_0001"
    kit_refresh_token: str = "sbx_kit_rt_demo_0001"
    kit_v3_key: str = "sandbox_v3_api_key_0001"
    kit_v3_secret: str = "sandbox_v3_api_secret_0001"
    highlevel_token: str = "pit-sandbox-0000-demo-0000-000000000001"
    highlevel_location: str = ""
    oauth_client_id: str = "sandbox-audience-manager"


@dataclass
class SandboxLimits:
    """Published limits, changeable per test (e.g. a tiny bulk budget or a 2 s token).

    Read when the sandbox is built, except `highlevel_bulk_max`, which is read on every request.
    To change one on a running sandbox, set the live object instead: `sb.kit_v4.oauth_window.limit`,
    `sb.kit_v4.key_window.limit`, `sb.kit_v4.sync_limit`, `sb.kit_v3.window.limit`,
    `sb.highlevel.burst.limit`, `sb.highlevel.daily.limit`, `sb.bulk_queue.budget_bytes`,
    `sb.bulk_queue.hold_seconds`, `sb.oauth.expires_in`.
    """

    kit_oauth_per_minute: int = 600
    kit_api_key_per_minute: int = 120
    kit_v3_per_minute: int = 120
    highlevel_burst: int = 100
    highlevel_burst_seconds: float = 10.0
    highlevel_daily: int = 200_000
    kit_bulk_sync_max: int = 100
    kit_bulk_queue_budget_bytes: int = 300 * 1024 * 1024
    kit_bulk_hold_seconds: float = 2.0
    oauth_expires_in: int = 7200
    highlevel_bulk_max: int | None = None  # HighLevel documents none


@dataclass
class Platform:
    prefix: str
    fault_response: Callable[[int], Response]
    # Adds what the platform puts on every answer (HighLevel's rate headers) to a fault's answer too.
    decorate_fault: Callable[[Request, Response], None] | None = None


def _kit_fault(status: int) -> Response:
    if status == 429:
        return retry_later()
    if status == 413:
        return kit_errors(
            413,
            "This request exceeds your queued bulk requests limit. Please wait while we "
            "process your existing requests and try again later.",
        )
    messages = {
        500: "Internal server error",
        502: "Bad gateway",
        503: "Service unavailable",
        504: "Gateway timeout",
        401: "The access token is invalid",
    }
    return kit_errors(status, messages.get(status, "Something went wrong"))


def _v3_fault(status: int) -> Response:
    if status == 429:
        return retry_later()
    return v3_error(
        status, "Server Error" if status >= 500 else "Error", f"Request failed with status {status}"
    )


def _highlevel_fault(status: int) -> Response:
    messages = {
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
        401: "Invalid JWT",
        413: "Payload Too Large",
    }
    return hl_error(status, messages.get(status, "Something went wrong"))


class Sandbox:
    def __init__(
        self,
        subscribers: int = 10_000,
        seed: int = 7,
        enforce_limits: bool = True,
        *,
        contacts: int = 5_000,
        clock: Clock | None = None,
        limits: SandboxLimits | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.seed = seed
        self.enforce_limits = enforce_limits
        self.clock: Clock = clock or monotonic_clock
        self.limits = limits or SandboxLimits()
        self.faults = faults or Faults(seed=seed)
        self.stats = Stats()
        self.state: SandboxState = seed_state(subscribers, contacts, seed)
        main_location = next(iter(self.state.highlevel.locations))
        self.credentials = SandboxCredentials(highlevel_location=main_location)
        self._id_rng = random.Random(seed * 7919 + 1)
        lim = self.limits
        self.oauth = OAuthServer(self.clock, {self.credentials.oauth_client_id}, lim.oauth_expires_in)
        self._install_demo_tokens()
        self.bulk_queue = BulkQueue(self.clock, lim.kit_bulk_queue_budget_bytes, lim.kit_bulk_hold_seconds)
        self.kit_v4 = KitV4(
            self.state.kit,
            self.oauth,
            {self.credentials.kit_api_key},
            RollingWindow(lim.kit_oauth_per_minute, 60.0, self.clock),
            RollingWindow(lim.kit_api_key_per_minute, 60.0, self.clock),
            self.bulk_queue,
            lambda: self.enforce_limits,
            lambda: self.faults.expire_token_after,
            sync_limit=lim.kit_bulk_sync_max,
        )
        self.kit_v3 = KitV3(
            self.state.kit,
            self.credentials.kit_v3_key,
            self.credentials.kit_v3_secret,
            RollingWindow(lim.kit_v3_per_minute, 60.0, self.clock),
            lambda: self.enforce_limits,
        )
        self.highlevel = HighLevel(
            self.state.highlevel,
            {self.credentials.highlevel_token: main_location},
            RollingWindow(lim.highlevel_burst, lim.highlevel_burst_seconds, self.clock),
            DailyBudget(lim.highlevel_daily, self.clock),
            lambda: self.enforce_limits,
            lambda: self.limits.highlevel_bulk_max,
        )
        routes: list[Route] = []
        for platform, handlers in (
            (Platform("/v4/", _kit_fault), self.kit_v4.routes()),
            (Platform("/v3/", _v3_fault), self.kit_v3.routes()),
            (Platform("/", _highlevel_fault, self.highlevel.stamp_known_caller), self.highlevel.routes()),
        ):
            for path, methods, handler in handlers:
                routes.append(self._route(path, methods, handler, platform))
        for path in ("/oauth/authorize", "/v4/oauth/authorize"):
            routes.append(Route(path, self._counted(path, self.oauth.authorize), methods=["GET"]))
        for path in ("/oauth/token", "/v4/oauth/token"):
            routes.append(Route(path, self._counted(path, self.oauth.token), methods=["POST"]))
        self._router = Router(routes=routes, default=self._not_found)

    def _install_demo_tokens(self) -> None:
        from audience_manager.sandbox.kit_oauth import AccessToken

        self.oauth.access_tokens[self.credentials.kit_oauth_token] = AccessToken(expires_at=None)
        self.oauth.refresh_tokens[self.credentials.kit_refresh_token] = True

    # ------------------------------------------------------------------------------------ ASGI
    @property
    def app(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        return self._router

    def _route(self, path: str, methods: list[str], handler: Handler, platform: Platform) -> Route:
        async def endpoint(request: Request) -> Response:
            return await self._dispatch(path, handler, platform, request)

        return Route(path, endpoint, methods=methods)

    def _counted(self, path: str, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            response = await handler(request)
            self.stats.record(path, response.status_code)
            return response

        return endpoint

    async def _dispatch(
        self, template: str, handler: Handler, platform: Platform, request: Request
    ) -> Response:
        faults = self.faults
        plan = faults.roll() if faults.active else None
        if plan is not None and plan.delay > 0:
            await asyncio.sleep(plan.delay)
        if self.bulk_queue.jobs:
            self.bulk_queue.drain()
        if plan is not None and plan.drop == "before":
            self.stats.record(template, DROPPED)
            return dropping()
        if plan is not None and plan.lose_answer and request.method != "GET" and "search" not in template:
            # The platform applies the write; its answer never reaches the client.
            applied = await handler(request)
            self.stats.record(template, applied.status_code)
            if faults.lost_answer == "reset":
                return dropping()
            response = platform.fault_response(502)
            if platform.decorate_fault is not None:
                platform.decorate_fault(request, response)
            return response
        if plan is not None and plan.status is not None:
            response = platform.fault_response(plan.status)
            if platform.decorate_fault is not None:
                platform.decorate_fault(request, response)
        elif plan is not None and plan.html_error:
            response = html_502()
        else:
            response = await handler(request)
            if plan is not None and plan.malformed and response.status_code == 200:
                response = malformed(response)
        if plan is not None and plan.drop == "mid":
            self.stats.record(template, DROPPED)
            return dropping(response)
        self.stats.record(template, response.status_code)
        return response

    async def _not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        response: Response
        if path.startswith("/v4/"):
            response = kit_errors(404, "Not Found")
        elif path.startswith("/v3/"):
            response = JSONResponse(
                {"error": "Not Found", "message": "The requested resource was not found"}, status_code=404
            )
        elif path.startswith(("/contacts", "/locations")):
            response = JSONResponse(
                {"statusCode": 404, "message": f"Cannot {scope.get('method')} {path}", "error": "Not Found"},
                status_code=404,
            )
        else:
            response = PlainTextResponse("Not Found", status_code=404)
        self.stats.record(path, response.status_code)
        await response(scope, receive, send)

    # ---------------------------------------------------------------------------- test helpers
    def known_subscriber_ids(self, n: int, *, state: str | None = "active") -> list[int]:
        subs = self.state.kit.subscribers.values()
        return list(itertools.islice((s.id for s in subs if state is None or s.state == state), n))

    def unknown_subscriber_ids(self, n: int) -> list[int]:
        """Ids inside the account's id range that belong to nobody (real ids have gaps too)."""
        subs = self.state.kit.subscribers
        first = min(subs) if subs else 1
        return list(itertools.islice((i for i in itertools.count(first) if i not in subs), n))

    def cancelled_subscriber_ids(self, n: int) -> list[int]:
        return self.known_subscriber_ids(n, state="cancelled")

    def known_emails(self, n: int, *, state: str | None = "active") -> list[str]:
        subs = self.state.kit.subscribers.values()
        return list(itertools.islice((s.email_address for s in subs if state is None or s.state == state), n))

    def known_contact_ids(self, n: int) -> list[str]:
        loc = self.credentials.highlevel_location
        live = (
            c.id for c in self.state.highlevel.contacts.values() if c.location_id == loc and not c.deleted
        )
        return list(itertools.islice(live, n))

    def unknown_contact_ids(self, n: int) -> list[str]:
        """Well-formed (20 alphanumerics) contact ids that exist nowhere."""
        contacts, out = self.state.highlevel.contacts, list[str]()
        while len(out) < n:
            cid = contact_id(self._id_rng)
            if cid not in contacts and cid not in out:
                out.append(cid)
        return out

    def deleted_contact_ids(self, n: int) -> list[str]:
        return list(itertools.islice((c.id for c in self.state.highlevel.contacts.values() if c.deleted), n))

    def foreign_contact_ids(self, n: int) -> list[str]:
        """Contacts of another location: the bulk endpoint says "contact does not belong to location"."""
        loc = self.credentials.highlevel_location
        other = (
            c.id for c in self.state.highlevel.contacts.values() if c.location_id != loc and not c.deleted
        )
        return list(itertools.islice(other, n))

    def double_opt_in_form_ids(self) -> set[int]:
        """Which forms send a confirmation e-mail: sandbox-side only, Kit's API does not say."""
        return self.state.kit.double_opt_in_form_ids()

    def reset_limits(self) -> None:
        """Forgets every rate-limit window (not the data)."""
        for window in (
            self.kit_v4.oauth_window,
            self.kit_v4.key_window,
            self.kit_v3.window,
            self.highlevel.burst,
        ):
            window.reset()
        self.highlevel.daily.reset()
