"""Kit API v3 (legacy), over the same account as v4, as the real Kit shares one account between them.

Credentials are `api_key` / `api_secret` in the query string or the body; "sensitive" calls need the
secret, and every call that takes the key also takes the secret. Errors are `{"error", "message"}`.
Choices where the legacy docs are silent:
- A 429 is the plain text `Retry later`, as on v4 (same Kit edge; v3 documents no body).
- Looking a subscriber up by `email_address` finds them whatever their state (v3 documents no
  state filter for it); other lists show active subscribers unless asked otherwise.
- Tagging by e-mail creates a missing subscriber as `active`; a form sign-up creates one as
  `inactive` when the form is double opt-in (they have not confirmed yet), else `active`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from audience_manager.sandbox.limits import RollingWindow
from audience_manager.sandbox.responses import BadBody, params, retry_later
from audience_manager.sandbox.state import KitAccount, Subscriber, Tag, now_iso

Handler = Callable[[Request], Awaitable[Response]]
PAGE_SIZE = 50
Params = dict[str, Any]


def v3_error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


def _not_found() -> JSONResponse:
    return v3_error(404, "Not Found", "The entity you were trying to find doesn't exist")


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, str | int) and str(value).isdigit() else None


def _v3_tag(tag: Tag) -> dict[str, object]:
    return {"id": tag.id, "name": tag.name, "created_at": tag.created_at}


@dataclass
class KitV3:
    kit: KitAccount
    api_key: str
    api_secret: str
    window: RollingWindow
    enforce_limits: Callable[[], bool]

    def routes(self) -> list[tuple[str, list[str], Handler]]:
        return [
            ("/v3/account", ["GET"], self.account),
            ("/v3/tags", ["GET"], self.list_tags),
            ("/v3/tags", ["POST"], self.create_tags),
            ("/v3/tags/{tag_id}/subscribe", ["POST"], self.tag_subscribe),
            ("/v3/tags/{tag_id}/unsubscribe", ["POST"], self.tag_unsubscribe),
            ("/v3/tags/{tag_id}/subscriptions", ["GET"], self.tag_subscriptions),
            ("/v3/subscribers/{id}/tags/{tag_id}", ["DELETE"], self.remove_tag),
            ("/v3/subscribers", ["GET"], self.list_subscribers),
            ("/v3/subscribers/{id}", ["GET"], self.get_subscriber),
            ("/v3/forms", ["GET"], self.list_forms),
            ("/v3/forms/{form_id}/subscribe", ["POST"], self.form_subscribe),
            ("/v3/forms/{form_id}/subscriptions", ["GET"], self.form_subscriptions),
        ]

    # ------------------------------------------------------------------------------------- auth
    async def _auth(self, request: Request, *, secret: bool) -> Params | Response:
        try:
            p = await params(request)
        except BadBody:
            return v3_error(400, "Bad Request", "The request body could not be parsed")
        given_secret, given_key = p.get("api_secret"), p.get("api_key")
        if secret:
            if not given_secret:
                return v3_error(401, "Authorization Failed", "API Secret not present")
            if given_secret != self.api_secret:
                return v3_error(401, "Authorization Failed", "API Secret not valid")
        elif given_secret:
            if given_secret != self.api_secret:
                return v3_error(401, "Authorization Failed", "API Secret not valid")
        elif not given_key:
            return v3_error(401, "Authorization Failed", "API Key not present")
        elif given_key != self.api_key:
            return v3_error(401, "Authorization Failed", "API Key not valid")
        if self.enforce_limits() and not self.window.try_hit(self.api_key):
            return retry_later()
        return p

    def _subscription_id(self, kind: str, parent: int, subscriber: int) -> int:
        key = (kind, parent, subscriber)
        ids = self.kit.v3_subscription_ids
        sid = ids.get(key)
        if sid is None:
            sid = ids[key] = self.kit.next_subscription_id
            self.kit.next_subscription_id += 1
        return sid

    def _subscription(
        self, kind: str, parent: int, sub: Subscriber, at: str, *, full: bool
    ) -> dict[str, Any]:
        return {
            "id": self._subscription_id(kind, parent, sub.id),
            "state": sub.state,
            "created_at": at,
            "source": None,
            "referrer": None,
            "subscribable_id": parent,
            "subscribable_type": kind,
            "subscriber": sub.to_json() if full else {"id": sub.id},
        }

    # ---------------------------------------------------------------------------------- handlers
    async def account(self, request: Request) -> Response:
        p = await self._auth(request, secret=True)
        if isinstance(p, Response):
            return p
        return JSONResponse(
            {"name": self.kit.name, "plan_type": "Creator", "primary_email_address": self.kit.primary_email}
        )

    async def list_tags(self, request: Request) -> Response:
        p = await self._auth(request, secret=False)
        if isinstance(p, Response):
            return p
        return JSONResponse({"tags": [_v3_tag(t) for t in self.kit.tags.values()]})

    async def create_tags(self, request: Request) -> Response:
        p = await self._auth(request, secret=False)
        if isinstance(p, Response):
            return p
        wanted = p.get("tag")
        many = isinstance(wanted, list)
        entries = wanted if isinstance(wanted, list) else [wanted]
        names = [e.get("name") if isinstance(e, dict) else None for e in entries]
        if not entries or any(not isinstance(n, str) or not n.strip() for n in names):
            return v3_error(422, "Unprocessable Entity", "Name can't be blank")
        out = []
        for name in names:
            tag, _ = self.kit.create_tag(str(name))
            out.append(
                {
                    "account_id": self.kit.account_id,
                    "created_at": tag.created_at,
                    "deleted_at": None,
                    "id": tag.id,
                    "name": tag.name,
                    "state": "available",
                    "updated_at": tag.created_at,
                }
            )
        return JSONResponse(out if many else out[0])

    def _subscriber_for(self, p: Params, *, state_if_new: str) -> Subscriber | Response:
        email = p.get("email")
        if not isinstance(email, str) or "@" not in email or " " in email.strip():
            return v3_error(
                422, "Missing parameter", "Email address is invalid" if email else "email is required"
            )
        sub = self.kit.find_email(email)
        if sub is None:
            first = p.get("first_name") if isinstance(p.get("first_name"), str) else None
            sub = self.kit.add_subscriber(email.strip(), first, state_if_new, now_iso())
        elif isinstance(p.get("first_name"), str):
            sub.first_name = p["first_name"]
        fields = p.get("fields")
        if isinstance(fields, dict):
            for name, value in fields.items():
                cf = self.kit.field_by_key_or_label(str(name))
                if cf is not None:
                    sub.fields[cf.key] = None if value in (None, "") else str(value)
        extra = p.get("tags")
        if isinstance(extra, list):
            for tag_id in extra:
                if _int(tag_id) in self.kit.tags:
                    self.kit.tag(sub.id, _int(tag_id), now_iso())  # type: ignore[arg-type]
        return sub

    async def tag_subscribe(self, request: Request) -> Response:
        p = await self._auth(request, secret=False)
        if isinstance(p, Response):
            return p
        tag_id = _int(request.path_params["tag_id"])
        if tag_id not in self.kit.tags:
            return _not_found()
        sub = self._subscriber_for(p, state_if_new="active")
        if isinstance(sub, Response):
            return sub
        at, _ = self.kit.tag(sub.id, tag_id, now_iso())  # type: ignore[arg-type]
        return JSONResponse({"subscription": self._subscription("tag", tag_id, sub, at, full=False)})  # type: ignore[arg-type]

    async def tag_unsubscribe(self, request: Request) -> Response:
        p = await self._auth(request, secret=True)
        if isinstance(p, Response):
            return p
        tag_id = _int(request.path_params["tag_id"])
        if tag_id not in self.kit.tags:
            return _not_found()
        sub = self.kit.find_email(str(p.get("email") or ""))
        if sub is None:
            return _not_found()
        self.kit.untag(sub.id, tag_id)  # type: ignore[arg-type]
        return JSONResponse(_v3_tag(self.kit.tags[tag_id]))  # type: ignore[index]

    async def remove_tag(self, request: Request) -> Response:
        p = await self._auth(request, secret=True)
        if isinstance(p, Response):
            return p
        sid, tag_id = _int(request.path_params["id"]), _int(request.path_params["tag_id"])
        if sid not in self.kit.subscribers or tag_id not in self.kit.tags:
            return _not_found()
        self.kit.untag(sid, tag_id)  # type: ignore[arg-type]
        return JSONResponse(_v3_tag(self.kit.tags[tag_id]))  # type: ignore[index]

    def _page(self, p: Params, rows: list[Any]) -> tuple[int, int, list[Any]]:
        page = max(1, _int(p.get("page")) or 1)
        total_pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
        return page, total_pages, rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]

    async def tag_subscriptions(self, request: Request) -> Response:
        p = await self._auth(request, secret=True)
        if isinstance(p, Response):
            return p
        tag_id = _int(request.path_params["tag_id"])
        if tag_id not in self.kit.tags:
            return _not_found()
        state = p.get("subscriber_state", "active")
        subs = self.kit.subscribers
        rows = [(subs[s], at) for s, at in self.kit.taggings[tag_id].items() if subs[s].state == state]  # type: ignore[index]
        rows.sort(key=lambda row: row[0].id, reverse=p.get("sort_order") == "desc")
        page, total_pages, chosen = self._page(p, rows)
        return JSONResponse(
            {
                "total_subscriptions": len(rows),
                "page": page,
                "total_pages": total_pages,
                "subscriptions": [self._subscription("tag", tag_id, s, at, full=True) for s, at in chosen],  # type: ignore[arg-type]
            }
        )

    async def form_subscriptions(self, request: Request) -> Response:
        """A form's sign-ups in one `subscriber_state` (active by default), 50 a page."""
        p = await self._auth(request, secret=True)
        if isinstance(p, Response):
            return p
        form_id = _int(request.path_params["form_id"])
        if form_id not in self.kit.forms:
            return _not_found()
        state = p.get("subscriber_state", "active")
        subs = self.kit.subscribers
        members = self.kit.form_members.get(form_id, {})
        rows = [(subs[s], m.added_at) for s, m in members.items() if subs[s].state == state]  # type: ignore[index]
        rows.sort(key=lambda row: row[0].id)
        page, total_pages, chosen = self._page(p, rows)
        return JSONResponse(
            {
                "total_subscriptions": len(rows),
                "page": page,
                "total_pages": total_pages,
                "subscriptions": [self._subscription("form", form_id, s, at, full=True) for s, at in chosen],  # type: ignore[arg-type]
            }
        )

    async def list_subscribers(self, request: Request) -> Response:
        p = await self._auth(request, secret=True)
        if isinstance(p, Response):
            return p
        if p.get("email_address"):
            found = self.kit.find_email(str(p["email_address"]))
            rows = [found] if found else []
        else:
            wanted = "cancelled" if p.get("sort_field") == "cancelled_at" else "active"
            rows = [s for s in self.kit.subscribers.values() if s.state == wanted]
            if p.get("sort_order") == "desc":
                rows.reverse()
        page, total_pages, chosen = self._page(p, rows)
        return JSONResponse(
            {
                "total_subscribers": len(rows),
                "page": page,
                "total_pages": total_pages,
                "subscribers": [s.to_json() for s in chosen],
            }
        )

    async def get_subscriber(self, request: Request) -> Response:
        p = await self._auth(request, secret=True)
        if isinstance(p, Response):
            return p
        sub = self.kit.subscribers.get(_int(request.path_params["id"]) or -1)
        return _not_found() if sub is None else JSONResponse({"subscriber": sub.to_json()})

    async def list_forms(self, request: Request) -> Response:
        p = await self._auth(request, secret=False)
        if isinstance(p, Response):
            return p
        forms = []
        for f in self.kit.forms.values():
            if f.archived:
                continue
            v4 = f.to_json()
            forms.append(
                {
                    "id": f.id,
                    "name": f.name,
                    "created_at": f.created_at,
                    "type": f.type,
                    "url": v4["embed_url"],
                    "embed_js": v4["embed_js"],
                    "embed_url": v4["embed_url"],
                    "title": f.name,
                    "description": None,
                    "sign_up_button_text": "Subscribe",
                    "success_message": "Success! Now check your email to confirm your subscription."
                    if f.double_opt_in
                    else "Thanks for subscribing!",
                }
            )
        return JSONResponse({"forms": forms})

    async def form_subscribe(self, request: Request) -> Response:
        p = await self._auth(request, secret=False)
        if isinstance(p, Response):
            return p
        form = self.kit.forms.get(_int(request.path_params["form_id"]) or -1)
        if form is None:
            return _not_found()
        sub = self._subscriber_for(p, state_if_new="inactive" if form.double_opt_in else "active")
        if isinstance(sub, Response):
            return sub
        referrer = p.get("referrer") if isinstance(p.get("referrer"), str) else None
        membership, _ = self.kit.add_to_form(sub.id, form.id, now_iso(), referrer)
        return JSONResponse(
            {"subscription": self._subscription("form", form.id, sub, membership.added_at, full=False)}
        )
