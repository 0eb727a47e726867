"""HighLevel (LeadConnector) contacts, location tags and the bulk tag endpoint, `Version: 2021-07-28`.

A Private Integration Token belongs to one location; limits are counted per location (100 per 10 s
burst, a daily quota) and every answer carries the `X-RateLimit-*` headers and a `traceId`.
Choices where the sources are silent (../shared/notes/highlevel-api.md):
- A missing or unknown `Version` header is a 400 `{"statusCode":400,"message":"Version header ..."}`.
- An unknown contact is a 400 (the spec lists 400/401/422 for GET /contacts/{id}, no 404); in the
  bulk endpoint a well-formed but unknown id is a row error "contact not found".
- Tag names are stored lower-cased (what HighLevel shows), and tags added in bulk that the location
  lacks are created in it.
- `succeded` / `succeeded` are true when the request was processed, even if some rows failed;
  `errorCount` says how many did.
- No bulk size limit is documented; `SandboxLimits.highlevel_bulk_max` (None = none) can set one.
- `POST /contacts/search`: `pageLimit` 1..500; `page` reaches at most the first 10,000 records
  (`SEARCH_PAGE_CAP`, a 422 beyond), `searchAfter` (each returned contact carries its own cursor,
  `searchAfter: [position, id]`) reaches the rest and may not be sent with `page`. Filters may be a
  list, a `{group, filters}` object, or a list holding such groups (both readings of the docs);
  `search_groups = False` on the live object refuses groups with a 422, like a HighLevel that
  does not take the batched form. Contacts come in the order they were added.
"""

from __future__ import annotations

import re
import secrets
from bisect import bisect_right
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from audience_manager.sandbox.limits import DailyBudget, RollingWindow
from audience_manager.sandbox.responses import BadBody, json_body
from audience_manager.sandbox.state import Contact, HighLevelState, HLTag, Location, now_iso

ID_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

Handler = Callable[[Request], Awaitable[Response]]
VERSION = "2021-07-28"
CONTACT_ID = re.compile(r"^[A-Za-z0-9]{20}$")
NO_ACCESS = "The token does not have access to this location."
SEARCH_PAGE_CAP = 10_000  # records page-based search paging reaches; searchAfter goes beyond


def trace_id() -> str:
    return secrets.token_hex(16)


def hl_json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse({**body, "traceId": trace_id()}, status_code=status)


def hl_error(status: int, message: str | list[str], error: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"statusCode": status, "message": message}
    if error:
        body["error"] = error
    return hl_json(body, status)


def unprocessable(*messages: str) -> JSONResponse:
    return hl_error(422, list(messages), "Unprocessable Entity")


@dataclass
class Caller:
    location: Location


@dataclass
class HighLevel:
    hl: HighLevelState
    tokens: dict[str, str]  # token -> location id
    burst: RollingWindow
    daily: DailyBudget
    enforce_limits: Callable[[], bool]
    bulk_max: Callable[[], int | None]
    search_groups: bool = True  # False: refuse `{group, filters}` in a search, as a stricter API might
    search_group_max: int | None = None  # refuse a group of more filters than this (None: any number)
    _ordered: dict[str, tuple[int, list[Contact], dict[str, int]]] = field(default_factory=dict)

    def routes(self) -> list[tuple[str, list[str], Handler]]:
        return [
            ("/locations/{location_id}", ["GET"], self.get_location),
            ("/locations/{location_id}/tags", ["GET"], self.list_tags),
            ("/locations/{location_id}/tags", ["POST"], self.create_tag),
            ("/contacts/search", ["POST"], self.search),
            ("/contacts/search/duplicate", ["GET"], self.duplicate),
            ("/contacts/bulk/tags/update/{type}", ["POST"], self.bulk_tags),
            ("/contacts/{contact_id}", ["GET"], self.get_contact),
            ("/contacts/{contact_id}", ["PUT"], self.update_contact),
            ("/contacts/upsert", ["POST"], self.upsert_contact),
            ("/locations/{location_id}/customFields", ["GET"], self.list_custom_fields),
        ]

    # --------------------------------------------------------------------------- auth and limits
    def _headers(self, location_id: str) -> dict[str, str]:
        return {
            "X-RateLimit-Limit-Daily": str(self.daily.limit),
            "X-RateLimit-Daily-Remaining": str(self.daily.remaining(location_id)),
            "X-RateLimit-Interval-Milliseconds": str(int(self.burst.seconds * 1000)),
            "X-RateLimit-Max": str(self.burst.limit),
            "X-RateLimit-Remaining": str(self.burst.remaining(location_id)),
        }

    def _admit(self, request: Request) -> Caller | Response:
        authorization = request.headers.get("authorization", "")
        token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
        location_id = self.tokens.get(token)
        if location_id is None:
            return hl_error(401, "Invalid JWT")
        if request.headers.get("version") != VERSION:
            return self._stamp(hl_error(400, "Version header was not found or is not supported"), location_id)
        if self.enforce_limits():
            if self.daily.remaining(location_id) <= 0 or not self.burst.try_hit(location_id):
                return self._stamp(hl_error(429, "Too Many Requests"), location_id)
            self.daily.try_spend(location_id)
        return Caller(self.hl.locations[location_id])

    def stamp_known_caller(self, request: Request, response: Response) -> None:
        """Rate headers on an answer that never reached the handler (a fault), if the token is ours."""
        authorization = request.headers.get("authorization", "")
        location_id = (
            self.tokens.get(authorization[7:].strip()) if authorization[:7].lower() == "bearer " else None
        )
        if location_id is not None:
            self._stamp(response, location_id)

    def _stamp(self, response: Response, location_id: str) -> Response:
        response.headers.update(self._headers(location_id))
        return response

    async def _run(self, request: Request, work: Callable[[Caller], Awaitable[Response]]) -> Response:
        caller = self._admit(request)
        if isinstance(caller, Response):
            return caller
        return self._stamp(await work(caller), caller.location.id)

    @staticmethod
    async def _body(request: Request) -> dict[str, Any] | Response:
        try:
            body = await json_body(request)
        except BadBody:
            return hl_error(400, "Bad Request")
        return body if isinstance(body, dict) else hl_error(400, "Bad Request")

    # ------------------------------------------------------------------------------ locations
    def _own_location(self, caller: Caller, location_id: object) -> Response | None:
        return None if location_id == caller.location.id else hl_error(403, NO_ACCESS)

    async def get_location(self, request: Request) -> Response:
        async def work(caller: Caller) -> Response:
            if (denied := self._own_location(caller, request.path_params["location_id"])) is not None:
                return denied
            loc = caller.location
            return hl_json(
                {
                    "location": {
                        "id": loc.id,
                        "name": loc.name,
                        "email": loc.email,
                        "timezone": "Europe/Berlin",
                        "country": "DE",
                        "companyId": "sandboxCompany0000001",
                        "address": "",
                        "city": "",
                        "website": "",
                    }
                }
            )

        return await self._run(request, work)

    async def list_tags(self, request: Request) -> Response:
        async def work(caller: Caller) -> Response:
            if (denied := self._own_location(caller, request.path_params["location_id"])) is not None:
                return denied
            return hl_json({"tags": [t.to_json() for t in caller.location.tags.values()]})

        return await self._run(request, work)

    async def create_tag(self, request: Request) -> Response:
        async def work(caller: Caller) -> Response:
            if (denied := self._own_location(caller, request.path_params["location_id"])) is not None:
                return denied
            body = await self._body(request)
            if isinstance(body, Response):
                return body
            name = body.get("name")
            if not isinstance(name, str) or not name.strip():
                return unprocessable("name should not be empty", "name must be a string")
            return hl_json({"tag": self._ensure_tag(caller.location, name).to_json()})

        return await self._run(request, work)

    @staticmethod
    def _ensure_tag(location: Location, name: str) -> HLTag:
        tag = location.find_tag(name)
        if tag is None:
            tag = HLTag(secrets.token_hex(10)[:20], name.strip().lower(), location.id)
            location.tags[tag.id] = tag
        return tag

    # ------------------------------------------------------------------------------- contacts
    def _contact_answer(self, caller: Caller, contact_id: str) -> Contact | Response:
        contact = self.hl.contacts.get(contact_id)
        if contact is None or contact.deleted:
            return hl_error(400, "Contact not found")
        if contact.location_id != caller.location.id:
            return hl_error(403, NO_ACCESS)
        return contact

    async def get_contact(self, request: Request) -> Response:
        async def work(caller: Caller) -> Response:
            contact = self._contact_answer(caller, request.path_params["contact_id"])
            return contact if isinstance(contact, Response) else hl_json({"contact": contact.to_json()})

        return await self._run(request, work)

    async def update_contact(self, request: Request) -> Response:
        """`PUT /contacts/{id}` with `customFields: [{id | key, field_value}]`: unknown fields are
        ignored, an empty value clears the field, like HighLevel."""

        async def work(caller: Caller) -> Response:
            contact = self._contact_answer(caller, request.path_params["contact_id"])
            if isinstance(contact, Response):
                return contact
            body = await self._body(request)
            if isinstance(body, Response):
                return body
            fields = body.get("customFields", [])
            if not isinstance(fields, list):
                return hl_error(422, "customFields must be an array")
            known = caller.location.custom_fields
            by_key = {key: fid for fid, (_name, key) in known.items()}
            for f in fields:
                if not isinstance(f, dict):
                    continue
                fid = f.get("id") if f.get("id") in known else by_key.get(str(f.get("key")))
                if fid is None:
                    continue
                value = f.get("field_value")
                if value is None or value == "":
                    contact.custom.pop(fid, None)
                else:
                    contact.custom[fid] = str(value)
            return hl_json({"succeded": True, "contact": contact.to_json()})

        return await self._run(request, work)

    async def upsert_contact(self, request: Request) -> Response:
        """`POST /contacts/upsert`: a contact with this email in the location is updated (its first
        name overwritten), else one is created; answers `{new, contact, traceId}`."""

        async def work(caller: Caller) -> Response:
            body = await self._body(request)
            if isinstance(body, Response):
                return body
            email = body.get("email")
            if body.get("locationId") != caller.location.id:
                return hl_error(403, NO_ACCESS)
            if not isinstance(email, str) or "@" not in email or " " in email.strip():
                return hl_error(422, "email must be an email")
            key = (caller.location.id, email.strip().lower())
            first = str(body["firstName"]) if isinstance(body.get("firstName"), str) else ""
            existing = self.hl.by_email.get(key)
            if existing is not None and not self.hl.contacts[existing].deleted:
                contact = self.hl.contacts[existing]
                contact.first_name = first
                return hl_json({"new": False, "contact": contact.to_json()})
            cid = "".join(secrets.choice(ID_LETTERS) for _ in range(20))
            contact = Contact(cid, caller.location.id, first, "", email.strip().lower(), now_iso())
            self.hl.contacts[cid] = contact
            self.hl.by_email[key] = cid
            return hl_json({"new": True, "contact": contact.to_json()}, 201)

        return await self._run(request, work)

    async def list_custom_fields(self, request: Request) -> Response:
        async def work(caller: Caller) -> Response:
            if (denied := self._own_location(caller, request.path_params["location_id"])) is not None:
                return denied
            fields = [
                {"id": fid, "name": name, "fieldKey": key, "model": "contact", "dataType": "TEXT"}
                for fid, (name, key) in caller.location.custom_fields.items()
            ]
            return hl_json({"customFields": fields})

        return await self._run(request, work)

    async def search(self, request: Request) -> Response:
        async def work(caller: Caller) -> Response:
            body = await self._body(request)
            if isinstance(body, Response):
                return body
            problems = []
            if not isinstance(body.get("locationId"), str):
                problems.append("locationId must be a string")
            limit = body.get("pageLimit")
            if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 500:
                problems.append(
                    "pageLimit must not be greater than 500"
                    if isinstance(limit, int)
                    else "pageLimit must be a number conforming to the specified constraints"
                )
            raw_filters = body.get("filters", [])
            if not self.search_groups and _has_group(raw_filters):
                problems.append("filters.group is not supported")
            asked = _emails_asked(raw_filters)
            if self.search_group_max is not None and asked is not None and len(asked) > self.search_group_max:
                problems.append(f"filters must contain no more than {self.search_group_max} elements")
            matcher = _filters(raw_filters)
            if isinstance(matcher, str):
                problems.append(matcher)
            page = body.get("page", 1)
            page = page if isinstance(page, int) and page >= 1 else 1
            after = body.get("searchAfter")
            if after is not None and "page" in body:
                problems.append("searchAfter cannot be used together with page")
            if after is not None and not (isinstance(after, list) and after):
                problems.append("searchAfter must be an array")
            if isinstance(limit, int) and page * limit > SEARCH_PAGE_CAP:
                problems.append(
                    f"page-based search returns at most {SEARCH_PAGE_CAP} records; use searchAfter"
                )
            if problems:
                return unprocessable(*problems)
            if (denied := self._own_location(caller, body["locationId"])) is not None:
                return denied
            assert not isinstance(matcher, str) and isinstance(limit, int)
            loc = caller.location.id
            ordered, position = self._contacts_in_order(loc)
            emails = asked
            if emails is not None:  # an index lookup rather than a scan, as a search engine would
                ids = {self.hl.by_email.get((loc, e)) for e in emails}
                found = sorted(
                    (self.hl.contacts[i] for i in ids if i is not None and not self.hl.contacts[i].deleted),
                    key=lambda c: position[c.id],
                )
            elif raw_filters in (None, []):
                found = ordered
            else:
                found = [c for c in ordered if matcher(c)]
            if after is not None:
                start = position.get(str(after[-1]))
                if start is None:
                    return unprocessable("searchAfter does not point at a contact")
                first = bisect_right(found, start, key=lambda c: position[c.id])
                chosen = found[first : first + limit]
            else:
                chosen = found[(page - 1) * limit : page * limit]
            contacts = [{**c.to_json(), "searchAfter": [position[c.id], c.id]} for c in chosen]
            return hl_json({"contacts": contacts, "total": len(found)})

        return await self._run(request, work)

    def _contacts_in_order(self, location_id: str) -> tuple[list[Contact], dict[str, int]]:
        """The location's live contacts in the order they were added, and every contact's position
        (its `searchAfter`); the order is rebuilt only when contacts were added since."""
        stamp = len(self.hl.contacts)
        cached = self._ordered.get(location_id)
        if cached is None or cached[0] != stamp:
            everyone = [c for c in self.hl.contacts.values() if c.location_id == location_id]
            cached = (stamp, everyone, {c.id: n for n, c in enumerate(everyone)})
            self._ordered[location_id] = cached
        return [c for c in cached[1] if not c.deleted], cached[2]

    async def duplicate(self, request: Request) -> Response:
        async def work(caller: Caller) -> Response:
            q = request.query_params
            if not q.get("locationId"):
                return unprocessable("locationId should not be empty")
            if (denied := self._own_location(caller, q["locationId"])) is not None:
                return denied
            cid = self.hl.by_email.get((caller.location.id, q.get("email", "").strip().lower()))
            contact = self.hl.contacts.get(cid) if cid else None
            if contact is None or contact.deleted:
                return hl_json({"contact": None})
            return hl_json({"contact": contact.to_json(), "matchingField": "email"})

        return await self._run(request, work)

    async def bulk_tags(self, request: Request) -> Response:
        async def work(caller: Caller) -> Response:
            kind = request.path_params["type"]
            if kind not in ("add", "remove"):
                return unprocessable("type must be one of the following values: add, remove")
            body = await self._body(request)
            if isinstance(body, Response):
                return body
            contacts, tags, remove_all = (
                body.get("contacts"),
                body.get("tags"),
                body.get("removeAllTags", False),
            )
            problems = []
            if not isinstance(contacts, list) or not all(isinstance(c, str) for c in contacts):
                problems.append("contacts must be an array of strings")
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                problems.append("tags must be an array of strings")
            if not isinstance(body.get("locationId"), str) or not body["locationId"]:
                problems.append("locationId should not be empty")
            if not isinstance(remove_all, bool):
                problems.append("removeAllTags must be a boolean value")
            elif remove_all and kind != "remove":
                problems.append("removeAllTags can only be used with remove type")
            if problems:
                return unprocessable(*problems)
            assert isinstance(contacts, list) and isinstance(tags, list)
            limit = self.bulk_max()
            if limit is not None and len(contacts) > limit:
                return unprocessable(f"contacts must contain no more than {limit} elements")
            if (denied := self._own_location(caller, body["locationId"])) is not None:
                return denied
            responses = [self._update_tags(caller.location, cid, tags, kind, remove_all) for cid in contacts]
            errors = sum(1 for r in responses if r["type"] == "error")
            return hl_json(
                {"succeded": True, "succeeded": True, "errorCount": errors, "responses": responses}, 201
            )

        return await self._run(request, work)

    def _update_tags(
        self, location: Location, cid: str, tags: list[str], kind: str, remove_all: bool
    ) -> dict[str, Any]:
        if not CONTACT_ID.match(cid):
            return {"contactId": cid, "message": "contact id is not a valid firebase id", "type": "error"}
        contact = self.hl.contacts.get(cid)
        if contact is None:
            return {"contactId": cid, "message": "contact not found", "type": "error"}
        if contact.deleted:
            return {"contactId": cid, "message": "contact is deleted", "type": "error"}
        if contact.location_id != location.id:
            return {"contactId": cid, "message": "contact does not belong to location", "type": "error"}
        old = list(contact.tags)
        wanted = [t.strip().lower() for t in tags if t.strip()]
        added: list[str] = []
        removed: list[str] = []
        if kind == "add":
            for name in wanted:
                self._ensure_tag(location, name)
                if name not in contact.tags:
                    contact.tags.append(name)
                    added.append(name)
        else:
            doomed = set(contact.tags) if remove_all else set(wanted)
            removed = [t for t in contact.tags if t in doomed]
            contact.tags = [t for t in contact.tags if t not in doomed]
        return {
            "contactId": cid,
            "message": "Tags updated",
            "type": "success",
            "oldTags": old,
            "tagsAdded": added,
            "tagsRemoved": removed,
        }


def _has_group(raw: object) -> bool:
    if isinstance(raw, dict):
        return True
    return isinstance(raw, list) and any(isinstance(f, dict) and "filters" in f for f in raw)


def _emails_asked(raw: object) -> set[str] | None:
    """The emails of a filter that is only `email eq` conditions (alone, or any of them in an `OR`
    group, in either reading), or None for any other filter."""
    items = raw.get("filters") if isinstance(raw, dict) else raw
    group = raw.get("group", "AND") if isinstance(raw, dict) else "AND"
    if not isinstance(items, list) or not items:
        return None
    if len(items) == 1 and isinstance(items[0], dict) and "filters" in items[0]:
        return _emails_asked(items[0])
    if len(items) > 1 and group != "OR":
        return None
    out: set[str] = set()
    for item in items:
        if not (isinstance(item, dict) and item.get("field") == "email" and item.get("operator") == "eq"):
            return None
        out.add(str(item.get("value") or "").strip().lower())
    return out


def _filters(raw: object) -> Callable[[Contact], bool] | str:
    """A predicate for the search `filters` the sandbox understands, or a 422 message."""
    if raw in (None, []):
        return lambda c: True
    items = raw.get("filters") if isinstance(raw, dict) else raw
    group = raw.get("group", "AND") if isinstance(raw, dict) else "AND"
    if not isinstance(items, list):
        return "filters must be an array"
    tests: list[Callable[[Contact], bool]] = []
    for item in items:
        if not isinstance(item, dict):
            return "each filter must be an object"
        if "filters" in item:
            nested = _filters(item)
            if isinstance(nested, str):
                return nested
            tests.append(nested)
            continue
        field_name, operator, value = item.get("field"), item.get("operator"), item.get("value")
        test = _one_filter(str(field_name), str(operator), value)
        if test is None:
            return f"unsupported filter: {field_name} {operator}"
        tests.append(test)
    if group == "OR":
        return lambda c: any(t(c) for t in tests)
    return lambda c: all(t(c) for t in tests)


def _one_filter(field_name: str, operator: str, value: object) -> Callable[[Contact], bool] | None:
    text = str(value).strip().lower() if value is not None else ""
    if field_name == "email":
        if operator == "eq":
            return lambda c: c.email.lower() == text
        if operator == "contains":
            return lambda c: text in c.email.lower()
        if operator == "exists":
            return lambda c: bool(c.email)
    if field_name == "id" and operator == "eq":
        return lambda c: c.id == value
    if field_name == "tags":
        if operator in ("eq", "contains"):
            wanted = {str(v).lower() for v in value} if isinstance(value, list) else {text}
            return lambda c: bool(wanted & set(c.tags))
        if operator in ("not_eq", "not_contains"):
            unwanted = {str(v).lower() for v in value} if isinstance(value, list) else {text}
            return lambda c: not (unwanted & set(c.tags))
    if field_name in ("firstName", "lastName") and operator == "eq":
        attr = "first_name" if field_name == "firstName" else "last_name"
        return lambda c: str(getattr(c, attr)).lower() == text
    return None
