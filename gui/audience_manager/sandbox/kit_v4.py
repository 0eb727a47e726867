"""Kit API v4: the endpoints Audience Manager uses, with Kit's bodies, statuses, errors and limits.

Choices where the sources are silent (see ../shared/notes/kit-api.md §7):
- Bulk endpoints with an API key answer 401 `{"errors":["The access token is invalid"]}`: the spec
  gives them OAuth2 as their only security scheme and documents 401 (no 403), so an API key there
  is simply no credential. Kit's PHP SDK tests only assert "a client error".
- E-mail lookups ignore case; tag names are unique ignoring case.
- Untagging a subscriber who lacks the tag is not a failure (204 / no failure item).
- `per_page` above 1000 is clamped to 1000 (the page says so in `pagination.per_page`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from audience_manager.sandbox.bulk_queue import BulkQueue
from audience_manager.sandbox.kit_oauth import OAuthServer
from audience_manager.sandbox.limits import RollingWindow
from audience_manager.sandbox.pagination import BadPageRequest, paginate
from audience_manager.sandbox.responses import BadBody, json_body, kit_errors, kit_not_found, retry_later
from audience_manager.sandbox.state import KitAccount, Subscriber, now_iso

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")
SYNC_LIMIT = 100
STATUSES = ("active", "inactive", "bounced", "complained", "cancelled")
QUEUE_FULL = (
    "This request exceeds your queued bulk requests limit. Please wait while we process your "
    "existing requests and try again later."
)
UTM_KEYS = ("source", "medium", "campaign", "term", "content")


def _int_id(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _path_int(request: Request, name: str) -> int | None:
    raw = request.path_params.get(name, "")
    return int(raw) if str(raw).isdigit() else None


def utm_parameters(referrer: str | None) -> dict[str, str]:
    """The referrer's UTM values; "" for a missing one (the spec types them as non-null strings)."""
    query = parse_qs(urlsplit(referrer).query) if referrer else {}
    return {key: (query.get(f"utm_{key}") or [""])[0] for key in UTM_KEYS}


@dataclass
class KitV4:
    kit: KitAccount
    oauth: OAuthServer
    api_keys: set[str]
    oauth_window: RollingWindow
    key_window: RollingWindow
    queue: BulkQueue
    enforce_limits: Callable[[], bool]
    expire_after_uses: Callable[[], int | None]
    sync_limit: int = SYNC_LIMIT
    _routes: list[tuple[str, list[str], Handler]] = field(default_factory=list)

    # ------------------------------------------------------------------------------------- auth
    def authenticate(self, request: Request, *, oauth_only: bool = False) -> Response | None:
        """None when the request may proceed; otherwise the 401/429 to send."""
        authorization = request.headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            self.oauth.expire_after_uses = self.expire_after_uses()
            check = self.oauth.check(authorization[7:].strip())
            if check == "invalid":
                return kit_errors(401, "The access token is invalid")
            if check == "expired":
                return kit_errors(401, "The access token expired")
            window, key = self.oauth_window, "oauth:" + authorization[7:].strip()
        else:
            api_key = request.headers.get("x-kit-api-key", "")
            if oauth_only or api_key not in self.api_keys:
                return kit_errors(401, "The access token is invalid")
            window, key = self.key_window, "key:" + api_key
        if self.enforce_limits() and not window.try_hit(key):
            return retry_later()
        return None

    def routes(self) -> list[tuple[str, list[str], Handler]]:
        r: list[tuple[str, list[str], Handler]] = [
            ("/v4/account", ["GET"], self.account),
            ("/v4/tags", ["GET"], self.list_tags),
            ("/v4/tags", ["POST"], self.create_tag),
            ("/v4/forms", ["GET"], self.list_forms),
            ("/v4/custom_fields", ["GET"], self.list_custom_fields),
            ("/v4/subscribers", ["GET"], self.list_subscribers),
            ("/v4/subscribers", ["POST"], self.create_subscriber),
            ("/v4/bulk/subscribers", ["POST"], self.bulk_create_subscribers),
            ("/v4/subscribers/{id}", ["GET"], self.get_subscriber),
            ("/v4/subscribers/{id}", ["PUT"], self.update_subscriber),
            ("/v4/subscribers/{id}/unsubscribe", ["POST"], self.unsubscribe),
            ("/v4/subscribers/{subscriber_id}/tags", ["GET"], self.tags_of_subscriber),
            ("/v4/tags/{tag_id}/subscribers", ["GET"], self.subscribers_of_tag),
            ("/v4/tags/{tag_id}/subscribers", ["POST"], self.tag_by_email),
            ("/v4/tags/{tag_id}/subscribers", ["DELETE"], self.untag_by_email),
            ("/v4/tags/{tag_id}/subscribers/{id}", ["POST"], self.tag_subscriber),
            ("/v4/tags/{tag_id}/subscribers/{id}", ["DELETE"], self.untag_subscriber),
            ("/v4/forms/{form_id}/subscribers", ["GET"], self.subscribers_of_form),
            ("/v4/forms/{form_id}/subscribers", ["POST"], self.add_to_form_by_email),
            ("/v4/forms/{form_id}/subscribers/{id}", ["POST"], self.add_to_form),
            ("/v4/bulk/tags/subscribers", ["POST"], self.bulk_tag),
            ("/v4/bulk/tags/subscribers", ["DELETE"], self.bulk_untag),
            ("/v4/bulk/forms/subscribers", ["POST"], self.bulk_add_to_forms),
            ("/v4/bulk/custom_fields/subscribers", ["POST"], self.bulk_custom_field_values),
        ]
        return r

    # ---------------------------------------------------------------------------------- reading
    async def account(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        k = self.kit
        return JSONResponse(
            {
                "user": {"email": k.primary_email},
                "account": {
                    "name": k.name,
                    "plan_type": "creator",
                    "primary_email_address": k.primary_email,
                    "created_at": k.created_at,
                    "id": k.account_id,
                    "timezone": {"name": "Europe/Berlin", "friendly_name": "Berlin", "utc_offset": "+01:00"},
                },
            }
        )

    def _page(
        self,
        request: Request,
        key: str,
        items: list[Any],
        item_id: Callable[[Any], int],
        render: Callable[[Any], dict[str, object]],
        descending: bool = True,
    ) -> Response:
        try:
            page = paginate(items, item_id, request.query_params, descending=descending)
        except BadPageRequest as exc:
            return kit_errors(422, str(exc))
        return JSONResponse({key: [render(x) for x in page.items], "pagination": page.pagination})

    async def list_tags(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        tags = sorted(self.kit.tags.values(), key=lambda t: -t.id)
        include_count = "subscriber_count" in request.query_params.get("include", "")

        def render(t: Any) -> dict[str, object]:
            out = t.to_json()
            if include_count:
                out["subscriber_count"] = len(self.kit.taggings[t.id])
            return dict(out)

        return self._page(request, "tags", tags, lambda t: t.id, render)

    async def list_forms(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        status = request.query_params.get("status", "active")
        kind = request.query_params.get("type")
        forms = [
            f
            for f in sorted(self.kit.forms.values(), key=lambda f: -f.id)
            if (status == "all" or (status == "archived") == f.archived) and (kind is None or f.type == kind)
        ]
        return self._page(request, "forms", forms, lambda f: f.id, lambda f: f.to_json())

    async def list_custom_fields(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        fields = sorted(self.kit.custom_fields.values(), key=lambda c: c.id)
        return self._page(request, "custom_fields", fields, lambda c: c.id, lambda c: c.to_json(), False)

    def _state_filter(self, request: Request) -> Callable[[Subscriber], bool] | Response:
        status = request.query_params.get("status", "active")
        if status == "all":
            return lambda s: True
        if status not in STATUSES:
            return kit_errors(422, f"Status must be one of: {', '.join((*STATUSES, 'all'))}")
        return lambda s: s.state == status

    async def list_subscribers(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        q = request.query_params
        keep = self._state_filter(request)
        if isinstance(keep, Response):
            return keep
        if q.get("sort_field") == "cancelled_at" and q.get("status") != "cancelled":
            return kit_errors(422, "The status param must be `cancelled` if sort_field is `cancelled_at`")
        descending = q.get("sort_order", "desc") != "asc"
        if "email_address" in q:
            found = self.kit.find_email(q["email_address"])
            candidates: Iterable[Subscriber] = [found] if found else []
        else:
            values = list(self.kit.subscribers.values())  # ascending ids: ids only ever grow
            candidates = reversed(values) if descending else values
        lo, hi = q.get("created_after", ""), q.get("created_before", "")
        if q.get("status") == "all" and not lo and not hi:  # every subscriber: no filtering pass
            chosen = list(candidates)
        else:
            chosen = [
                s
                for s in candidates
                if keep(s) and (not lo or s.created_at[:10] >= lo) and (not hi or s.created_at[:10] <= hi)
            ]
        return self._page(request, "subscribers", chosen, lambda s: s.id, lambda s: s.to_json(), descending)

    async def get_subscriber(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        sub = self.kit.subscribers.get(_path_int(request, "id") or -1)
        if sub is None:
            return kit_not_found()
        return JSONResponse({"subscriber": sub.to_json()})

    async def tags_of_subscriber(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        sid = _path_int(request, "subscriber_id") or -1
        if sid not in self.kit.subscribers:
            return kit_not_found()
        mine = self.kit.tags_of.get(sid, {})
        rows = sorted(mine.items(), key=lambda kv: -kv[0])
        return self._page(
            request,
            "tags",
            rows,
            lambda kv: kv[0],
            lambda kv: {"id": kv[0], "name": self.kit.tags[kv[0]].name, "tagged_at": kv[1]},
        )

    async def subscribers_of_tag(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        tag_id = _path_int(request, "tag_id") or -1
        if tag_id not in self.kit.tags:
            return kit_not_found()
        return self._members_page(
            request, self.kit.taggings[tag_id], lambda sub, at: {**sub.to_json(), "tagged_at": at}
        )

    async def subscribers_of_form(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        form_id = _path_int(request, "form_id") or -1
        if form_id not in self.kit.forms:
            return kit_not_found()
        return self._members_page(
            request,
            self.kit.form_members[form_id],
            lambda sub, m: self._form_subscriber(sub, m.added_at, m.referrer),
        )

    def _members_page(
        self, request: Request, members: dict[int, T], render: Callable[[Subscriber, T], dict[str, object]]
    ) -> Response:
        """A tag's or form's subscribers (`members`: subscriber id -> how they joined) in the
        request's `status`, newest subscriber first, one page."""
        keep = self._state_filter(request)
        if isinstance(keep, Response):
            return keep
        subs = self.kit.subscribers
        rows = sorted(((subs[s], m) for s, m in members.items() if keep(subs[s])), key=lambda row: -row[0].id)
        return self._page(request, "subscribers", rows, lambda row: row[0].id, lambda row: render(*row))

    # ------------------------------------------------------------------------------ single rows
    async def create_tag(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        body = await self._object(request)
        if isinstance(body, Response):
            return body
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            return kit_errors(422, "Name can't be blank")
        tag, created = self.kit.create_tag(name)
        return JSONResponse({"tag": tag.to_json()}, status_code=201 if created else 200)

    def _tagged(self, sub: Subscriber, tag_id: int) -> Response:
        tagged_at, created = self.kit.tag(sub.id, tag_id, now_iso())
        return JSONResponse(
            {"subscriber": {**sub.to_json(), "tagged_at": tagged_at}}, status_code=201 if created else 200
        )

    async def _tagging(self, request: Request, *, by_email: bool) -> tuple[Subscriber, int] | Response:
        """The subscriber and tag a single-row tag or untag names, by the path's id or the body's
        email; or the 401/404/422 to answer instead."""
        if (denied := self.authenticate(request)) is not None:
            return denied
        tag_id = _path_int(request, "tag_id")
        if by_email:
            if tag_id not in self.kit.tags:
                return kit_not_found()  # before the body is read
            sub, problem = await self._by_email(request)
            if problem is not None:
                return problem
        else:
            sub = self.kit.subscribers.get(_path_int(request, "id") or -1)
        if sub is None or tag_id is None or tag_id not in self.kit.tags:
            return kit_not_found()
        return sub, tag_id

    async def _tag(self, request: Request, *, by_email: bool) -> Response:
        found = await self._tagging(request, by_email=by_email)
        return found if isinstance(found, Response) else self._tagged(*found)

    async def _untag(self, request: Request, *, by_email: bool) -> Response:
        found = await self._tagging(request, by_email=by_email)
        if isinstance(found, Response):
            return found
        sub, tag_id = found
        self.kit.untag(sub.id, tag_id)
        return Response(status_code=204)

    async def tag_subscriber(self, request: Request) -> Response:
        return await self._tag(request, by_email=False)

    async def untag_subscriber(self, request: Request) -> Response:
        return await self._untag(request, by_email=False)

    async def tag_by_email(self, request: Request) -> Response:
        return await self._tag(request, by_email=True)

    async def untag_by_email(self, request: Request) -> Response:
        return await self._untag(request, by_email=True)

    async def _by_email(self, request: Request) -> tuple[Subscriber | None, Response | None]:
        body = await self._object(request)
        if isinstance(body, Response):
            return None, body
        email = body.get("email_address")
        if not isinstance(email, str) or not email.strip():
            return None, kit_errors(422, "Either subscriber id or email address is required to be present")
        sub = self.kit.find_email(email)
        return (sub, None) if sub else (None, kit_not_found())

    def _form_subscriber(self, sub: Subscriber, added_at: str, referrer: str | None) -> dict[str, object]:
        return {
            **sub.to_json(),
            "added_at": added_at,
            "referrer": referrer,
            "referrer_utm_parameters": utm_parameters(referrer),
        }

    def _added(self, sub: Subscriber, form_id: int, referrer: object) -> Response:
        membership, created = self.kit.add_to_form(
            sub.id, form_id, now_iso(), referrer if isinstance(referrer, str) else None
        )
        return JSONResponse(
            {"subscriber": self._form_subscriber(sub, membership.added_at, membership.referrer)},
            status_code=201 if created else 200,
        )

    async def add_to_form(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        form_id, sub = _path_int(request, "form_id"), self.kit.subscribers.get(_path_int(request, "id") or -1)
        if sub is None or form_id not in self.kit.forms:
            return kit_not_found()
        body = await self._object(request)
        if isinstance(body, Response):
            return body
        return self._added(sub, form_id, body.get("referrer"))  # type: ignore[arg-type]

    async def add_to_form_by_email(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        form_id = _path_int(request, "form_id")
        if form_id not in self.kit.forms:
            return kit_not_found()
        body = await self._object(request)
        if isinstance(body, Response):
            return body
        sub, problem = await self._by_email(request)
        return problem or self._added(sub, form_id, body.get("referrer"))  # type: ignore[arg-type]

    async def update_subscriber(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        sub = self.kit.subscribers.get(_path_int(request, "id") or -1)
        if sub is None:
            return kit_not_found()
        body = await self._object(request)
        if isinstance(body, Response):
            return body
        email = body.get("email_address")
        if email is not None:
            if not isinstance(email, str) or "@" not in email or email.strip() != email or " " in email:
                return kit_errors(422, "Email address is invalid")
            other = self.kit.find_email(email)
            if other is not None and other.id != sub.id:
                return kit_errors(422, "Email address has already been taken")
        fields = body.get("fields") or {}
        if not isinstance(fields, dict):
            return kit_errors(422, "Fields must be an object")
        if email is not None and email.lower() != sub.email_address.lower():
            del self.kit.by_email[sub.email_address.lower()]
            self.kit.by_email[email.lower()] = sub.id
        if email is not None:
            sub.email_address = email
        if isinstance(body.get("first_name"), str):
            sub.first_name = body["first_name"]
        for name, value in fields.items():  # unknown fields are ignored silently, like Kit
            cf = self.kit.field_by_key_or_label(str(name))
            if cf is not None:
                sub.fields[cf.key] = None if value is None or value == "" else str(value)
        return JSONResponse({"subscriber": sub.to_json()}, status_code=202 if len(fields) > 10 else 200)

    async def unsubscribe(self, request: Request) -> Response:
        if (denied := self.authenticate(request)) is not None:
            return denied
        sub = self.kit.subscribers.get(_path_int(request, "id") or -1)
        if sub is None:
            return kit_not_found()
        sub.state = "cancelled"
        return Response(status_code=204)

    async def _object(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = await json_body(request)
        except BadBody:
            return kit_errors(400, "Request body is not valid JSON")
        if not isinstance(body, dict):
            return kit_errors(400, "Request body must be a JSON object")
        return body

    # ------------------------------------------------------------------------------------- bulk
    async def _bulk(
        self, request: Request, key: str, noun: str, process: Callable[[list[Any]], dict[str, Any]]
    ) -> Response:
        if (denied := self.authenticate(request, oauth_only=True)) is not None:
            return denied
        raw = await request.body()
        body = await self._object(request)
        if isinstance(body, Response):
            return body
        items = body.get(key)
        if not isinstance(items, list) or not items:
            return kit_errors(422, f"No {noun} included for processing")
        if not self.queue.admits(len(raw)):
            return kit_errors(413, QUEUE_FULL)
        if len(items) > self.sync_limit:
            self.queue.enqueue(len(raw), lambda: process(items))
            return JSONResponse({}, status_code=202)
        return JSONResponse(process(items))

    async def create_subscriber(self, request: Request) -> Response:
        """Kit's create is an upsert: an existing email answers 200 and its first name is
        overwritten with the one sent (fields too); a new one 201."""
        if (denied := self.authenticate(request)) is not None:
            return denied
        body = await self._object(request)
        if isinstance(body, Response):
            return body
        sub, created, error = self._upsert(body)
        if sub is None:
            return kit_errors(422, error)
        fields = body.get("fields") or {}
        if isinstance(fields, dict):
            for name, value in fields.items():
                cf = self.kit.field_by_key_or_label(str(name))
                if cf is not None:
                    sub.fields[cf.key] = None if value is None or value == "" else str(value)
        return JSONResponse({"subscriber": sub.to_json()}, status_code=201 if created else 200)

    def _upsert(self, item: Any) -> tuple[Subscriber | None, bool, str]:
        item = item if isinstance(item, dict) else {}
        email = item.get("email_address")
        if not isinstance(email, str) or not _EMAIL.match(email):
            return None, False, "Email address is invalid"
        first = item.get("first_name")
        first_name = first if isinstance(first, str) else None
        existing = self.kit.find_email(email)
        if existing is not None:
            existing.first_name = first_name  # Kit's upsert overwrites the first name, even with null
            return existing, False, ""
        state = item.get("state") if item.get("state") in ("active", "inactive") else "active"
        return self.kit.add_subscriber(email, first_name, str(state), now_iso()), True, ""

    async def bulk_create_subscribers(self, request: Request) -> Response:
        return await self._bulk(request, "subscribers", "subscribers", self._create_many)

    def _create_many(self, items: list[Any]) -> dict[str, Any]:
        subscribers: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for item in items:
            sub, _created, error = self._upsert(item)
            if sub is None:
                raw = item if isinstance(item, dict) else {}
                echo = {
                    "first_name": raw.get("first_name"),
                    "email_address": None,
                    "state": "active",
                    "created_at": None,
                }
                failures.append({"subscriber": echo, "errors": [error]})
            else:
                subscribers.append({k: v for k, v in sub.to_json().items() if k != "fields"})
        return {"subscribers": subscribers, "failures": failures}

    async def bulk_tag(self, request: Request) -> Response:
        return await self._bulk(request, "taggings", "taggings", self._tag_many)

    async def bulk_untag(self, request: Request) -> Response:
        return await self._bulk(request, "taggings", "taggings", self._untag_many)

    async def bulk_add_to_forms(self, request: Request) -> Response:
        return await self._bulk(request, "additions", "additions", self._add_many)

    async def bulk_custom_field_values(self, request: Request) -> Response:
        return await self._bulk(request, "custom_field_values", "custom field values", self._set_many)

    def _tagging_failure(self, item: Any) -> tuple[Subscriber | None, int | None, dict[str, Any] | None]:
        """(subscriber, tag id, failure or None) for one `{tag_id, subscriber_id}` item."""
        item = item if isinstance(item, dict) else {}
        sid, tag_id = _int_id(item.get("subscriber_id")), _int_id(item.get("tag_id"))
        sub = self.kit.subscribers.get(sid) if sid is not None else None
        errors: list[str] = []
        if sub is None:
            errors.append("Subscriber does not exist")
        if tag_id is None or tag_id not in self.kit.tags:
            errors.append("Tag does not exist")
        if not errors:
            return sub, tag_id, None
        tagging = {
            "tag_id": None if "Tag does not exist" in errors else tag_id,
            "subscriber_id": None if sub is None else sid,
        }
        return None, None, {"errors": errors, "tagging": tagging}

    def _tag_many(self, items: list[Any]) -> dict[str, Any]:
        """The hot path of the client benchmark: plain dict work, no per-item helper calls."""
        at, subscribers, failures = now_iso(), [], []
        subs, tags, taggings, tags_of = (
            self.kit.subscribers,
            self.kit.tags,
            self.kit.taggings,
            self.kit.tags_of,
        )
        for item in items:
            if type(item) is dict:
                sid, tag_id = item.get("subscriber_id"), item.get("tag_id")
                sub = subs.get(sid) if type(sid) is int else None
                if sub is not None and type(tag_id) is int and tag_id in tags:
                    members = taggings[tag_id]
                    tagged_at = members.get(sub.id)
                    if tagged_at is None:
                        tagged_at = members[sub.id] = at
                        tags_of.setdefault(sub.id, {})[tag_id] = at
                    subscribers.append(
                        {
                            "id": sub.id,
                            "first_name": sub.first_name,
                            "email_address": sub.email_address,
                            "created_at": sub.created_at,
                            "tagged_at": tagged_at,
                        }
                    )
                    continue
            failure = self._tagging_failure(item)[2]
            assert failure is not None
            failures.append(failure)
        return {"subscribers": subscribers, "failures": failures}

    def _untag_many(self, items: list[Any]) -> dict[str, Any]:
        failures = []
        for item in items:
            sub, tag_id, failure = self._tagging_failure(item)
            if failure is not None:
                failures.append(failure)
            else:
                self.kit.untag(sub.id, tag_id)  # type: ignore[union-attr, arg-type]
        return {"failures": failures}

    def _add_many(self, items: list[Any]) -> dict[str, Any]:
        at, subscribers, failures = now_iso(), [], []
        for raw_item in items:
            item = raw_item if isinstance(raw_item, dict) else {}
            sid, form_id = _int_id(item.get("subscriber_id")), _int_id(item.get("form_id"))
            referrer = item.get("referrer") if isinstance(item.get("referrer"), str) else None
            sub = self.kit.subscribers.get(sid) if sid is not None else None
            errors = (["Subscriber does not exist"] if sub is None else []) + (
                ["Form does not exist"] if form_id not in self.kit.forms else []
            )
            if errors:
                failures.append(
                    {
                        "errors": errors,
                        "subscription": {
                            "form_id": None if form_id not in self.kit.forms else form_id,
                            "subscriber_id": None if sub is None else sid,
                            "referrer": referrer,
                        },
                    }
                )
                continue
            assert sub is not None and form_id is not None
            membership, _ = self.kit.add_to_form(sub.id, form_id, at, referrer)
            subscribers.append(
                {
                    "id": sub.id,
                    "first_name": sub.first_name,
                    "email_address": sub.email_address,
                    "created_at": sub.created_at,
                    "added_at": membership.added_at,
                    "referrer": membership.referrer,
                    "referrer_utm_parameters": utm_parameters(membership.referrer),
                }
            )
        return {"subscribers": subscribers, "failures": failures}

    def _set_many(self, items: list[Any]) -> dict[str, Any]:
        values, failures = [], []
        for raw_item in items:
            item = raw_item if isinstance(raw_item, dict) else {}
            sid, fid = _int_id(item.get("subscriber_id")), _int_id(item.get("subscriber_custom_field_id"))
            raw_value = item.get("value")
            value = "" if raw_value is None else str(raw_value)
            sub = self.kit.subscribers.get(sid) if sid is not None else None
            cf = self.kit.custom_fields.get(fid) if fid is not None else None
            errors = (["Subscriber does not exist"] if sub is None else []) + (
                ["Custom field does not exist"] if cf is None else []
            )
            echo = {
                "subscriber_id": None if sub is None else sid,
                "subscriber_custom_field_id": fid,
                "value": value,
            }
            if errors:
                failures.append({"errors": errors, "custom_field_value": echo})
                continue
            assert sub is not None and cf is not None
            sub.fields[cf.key] = value or None
            values.append(echo)
        return {"custom_field_values": values, "failures": failures}
