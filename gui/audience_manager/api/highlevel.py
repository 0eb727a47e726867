"""HighLevel (LeadConnector) API 2.0: location tags, added to and removed from contacts in bulk.

One bulk request carries up to `items_per_request` contact ids for one tag
(`POST /contacts/bulk/tags/update/{add|remove}`) and answers each contact in `responses[]`. Those
answers are the only evidence a row changed, so they are read defensively (`map_bulk_tag_results`):
a contact HighLevel did not answer for is failed, never assumed done; an empty `tagsAdded` means
the contact already had the tag (unchanged); what each answer said about the contact's tags before
and after is kept as the row's `previous`, so an undo touches exactly what changed.

Tags are addressed by name in the bulk endpoint, so a tag `Target`'s id is its name here.

Emails are looked up with `POST /contacts/search` (filter `email eq`), not with
`GET /contacts/search/duplicate`: search is the endpoint HighLevel maintains for lookups, its
answer is a list, so an email shared by several contacts (locations that allow duplicates) is
noticed instead of silently matched to whichever one the duplicate rule prefers, and its response
shape (`contacts`, `total`) has been observed, where the duplicate endpoint's is undocumented.
Its one drawback, a few seconds of index lag for contacts created moments ago, does not matter for
a list the marketer exported earlier. Its request body, though, is documented only second-hand, so
if HighLevel refuses it (400/422) the client switches to the duplicate lookup rather than fail.

A long list is not looked up one email at a time (`plan_resolution`): one search asks about
`SEARCH_BATCH` emails at once (an `OR` group of `email eq` filters, sent first as a group inside the
`filters` list, then as the `filters` object itself, the two readings of the docs), or, when the
location is small next to the list, its contacts are paged 500 a request (`page` for the first
10,000, `searchAfter` beyond) and matched here. If HighLevel refuses the batched form, the client
says so in the log once and searches one email per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

import httpx

from audience_manager.api.concurrency import bounded
from audience_manager.api.errors import ApiError, AuthenticationError, GaveUpError, NotFoundError
from audience_manager.api.membership import Memberships
from audience_manager.api.pacing import RateLimiter, limiter_for
from audience_manager.api.platform import AccountInfo, MemberPage, RateBudget, StateKey, state_key
from audience_manager.api.resolution import (
    EmailMatcher,
    ResolutionMethod,
    ResolutionPlan,
    ResolveProgress,
    answered_before,
    cheapest,
    listing,
    lookups,
    no_progress,
    nothing_to_resolve,
    searches,
    unique_emails,
)
from audience_manager.api.transport import (
    DEFAULT_TIMEOUT,
    HeaderAuth,
    RetryPolicy,
    Transport,
    json_messages,
    rate_limit_hints,
)
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.identifiers import CONTACT_ID_RE, EMAIL_RE, IdentifierKind, normalise_email
from audience_manager.core.outcomes import Outcome
from audience_manager.core.planning import ALL_TAGS
from audience_manager.core.platforms import Capabilities, PlatformKind, RateLimit
from audience_manager.core.work import Created, ItemResult, NewPerson, WorkItem

log = logging.getLogger(__name__)

DEFAULT_VERSION = "2021-07-28"
# No maximum is documented (HighLevel's own issue tracker asks); 100 is the conservative guess.
DEFAULT_BATCH = 100
RATE = RateLimit(100, 10.0, daily=200_000)
LOOKUP_CONCURRENCY = 10  # requests in flight for lookups; the limiter sets the pace
# Emails asked in one search: no maximum is documented; one answer page (500 contacts) holds the
# matches of 500 emails. A refused batch is halved (down to `SMALLEST_BATCH`) before giving up on it.
SEARCH_BATCH = 500
SMALLEST_BATCH = 10
SEARCH_PAGE = 500  # `pageLimit`'s documented maximum
SEARCH_PAGE_CAP = 10_000  # records page-based search reaches; `searchAfter` goes beyond
# A tag's members are read before its first write (for undo: see `state_before`) with the contact
# search, `MEMBERS_PAGE` a page; numbered pages reach 10,000 records (beyond needs a cursor), so a
# longer tag is not read and its rows' state before stays unknown.
MEMBERS_PAGE = 500
MEMBERS_CAP = 10_000

NO_ANSWER = (
    "HighLevel gave no answer for this contact; it may or may not have changed. Retry failed to be sure."
)
NOT_FOUND = "Not found on HighLevel: no contact with this email in this location"
# Bulk answers for a contact id that is not (any more) in the location.
CONTACT_MISSING = ("contact not found", "contact is deleted", "does not belong to location")
UNUSUAL_ID = (
    "this contact id is not the usual 20 letters and digits; check that it came from a HighLevel "
    "contact export"
)

MISSING = {
    Action.ADD_TO_FORM: (
        "HighLevel has no forms to add contacts to through its API; use a tag, and a workflow "
        "triggered by that tag, instead."
    ),
}

# HighLevel error bodies: {"statusCode", "message": "..." | ["...", ...], "error"}.
highlevel_messages = json_messages(("message", "error"))


def highlevel_capabilities(items_per_request: int = DEFAULT_BATCH) -> Capabilities:
    return Capabilities(
        actions=frozenset({Action.TAG, Action.UNTAG, Action.MOVE_TAG, Action.SET_FIELD}),
        identifiers=frozenset({IdentifierKind.CONTACT_ID, IdentifierKind.EMAIL}),
        items_per_request=max(1, items_per_request),
        rate=RATE,
        missing=dict(MISSING),
        can_create_tags=True,
        can_remove_all_tags=True,
        can_read_membership=True,
        creates_per_request=1,
    )


def contact_id_note(contact_id: str) -> str | None:
    """A warning (never a refusal) for ids that do not look like HighLevel's: every documented
    example is 20 letters and digits, but nothing promises all are, so HighLevel decides."""
    return None if CONTACT_ID_RE.match(contact_id) else UNUSUAL_ID


def contact_id_notes(contact_ids: Iterable[str]) -> list[str]:
    """One summary line for the audience preview when some ids have an unusual shape."""
    odd = [c for c in contact_ids if contact_id_note(c)]
    if not odd:
        return []
    sample = ", ".join(f"“{c}”" for c in odd[:3])
    return [
        f"{len(odd)} contact id(s) are not the usual 20 letters and digits (e.g. {sample}). They will be "
        "sent as they are; HighLevel will say per row if it does not know them."
    ]


# ------------------------------------------------------------------------ reading bulk answers


def _entries(body: Any) -> list[dict[str, Any]]:
    """`responses[]` as dicts. The spec types the items as strings while every example shows
    objects, so both are accepted (a string holding JSON is parsed; anything else is ignored)."""
    raw = body.get("responses") if isinstance(body, dict) else None
    out: list[dict[str, Any]] = []
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, str):
            try:
                entry = json.loads(entry)
            except ValueError:
                continue
        if isinstance(entry, dict) and entry.get("contactId") is not None:
            out.append(entry)
    return out


def bulk_succeeded(body: Any) -> bool | None:
    """The request-level flag, under either spelling (`succeded` in 2021-07-28, `succeeded` in v3)."""
    if not isinstance(body, dict):
        return None
    for key in ("succeeded", "succeded"):
        if isinstance(body.get(key), bool):
            return bool(body[key])
    return None


def _tag_list(entry: dict[str, Any], key: str) -> list[str] | None:
    value = entry.get(key)
    if not isinstance(value, list):
        return None
    return [str(v) for v in value]


def _previous(entry: dict[str, Any]) -> str | None:
    kept = {k: _tag_list(entry, k) for k in ("oldTags", "tagsAdded", "tagsRemoved")}
    kept = {k: v for k, v in kept.items() if v is not None}
    return json.dumps(kept, ensure_ascii=False, sort_keys=True) if kept else None


def _has(tags: Iterable[str], name: str) -> bool:
    wanted = name.strip().lower()
    return any(t.strip().lower() == wanted for t in tags)


def _success_outcome(
    entry: dict[str, Any], action: Action, tag: str, remove_all: bool
) -> tuple[Outcome, str]:
    added, removed, old = (_tag_list(entry, k) for k in ("tagsAdded", "tagsRemoved", "oldTags"))
    if action is Action.TAG:
        if added is not None:
            return (Outcome.SUCCEEDED, "") if added else (Outcome.UNCHANGED, "Already had this tag")
        if old is not None and _has(old, tag):
            return Outcome.UNCHANGED, "Already had this tag"
        return Outcome.SUCCEEDED, ""
    if remove_all:
        if removed is not None:
            return (Outcome.SUCCEEDED, "") if removed else (Outcome.UNCHANGED, "Had no tags")
        if old is not None and not old:
            return Outcome.UNCHANGED, "Had no tags"
        return Outcome.SUCCEEDED, ""
    if removed is not None:
        return (Outcome.SUCCEEDED, "") if removed else (Outcome.UNCHANGED, "Did not have this tag")
    if old is not None and not _has(old, tag):
        return Outcome.UNCHANGED, "Did not have this tag"
    return Outcome.SUCCEEDED, ""


def map_bulk_tag_results(
    action: Action,
    items: Sequence[WorkItem],
    body: Any,
    *,
    tag: str,
    remove_all: bool = False,
) -> list[ItemResult]:
    """One result per item of one bulk request, from the response's `responses[]`.

    Answers are matched by contact id, so every row that carried the same id gets that id's answer.
    When HighLevel answers one id more than once and the answers disagree, the error wins (the row
    is retried; tagging is idempotent) but the success's tag lists are still kept for undo.
    """
    by_contact: dict[str, list[dict[str, Any]]] = {}
    for entry in _entries(body):
        by_contact.setdefault(str(entry["contactId"]), []).append(entry)
    flag = bulk_succeeded(body)
    results: list[ItemResult] = []
    for item in items:
        answers = by_contact.get(item.subject)
        if not answers:
            reason = NO_ANSWER if flag is not False else f"{NO_ANSWER} (HighLevel reported the update failed)"
            results.append(ItemResult(item, Outcome.FAILED, _with_note(reason, item.subject)))
            continue
        errors = [a for a in answers if str(a.get("type", "")).lower() != "success"]
        successes = [a for a in answers if a not in errors]
        previous = next((p for p in (_previous(a) for a in successes) if p is not None), None)
        if errors:
            message = str(errors[0].get("message") or "HighLevel refused this contact without saying why")
            missing = any(m in message.lower() for m in CONTACT_MISSING)
            results.append(
                ItemResult(item, Outcome.FAILED, _with_note(message, item.subject), previous, missing)
            )
            continue
        outcome, reason = _success_outcome(successes[0], action, tag, remove_all)
        results.append(ItemResult(item, outcome, reason, previous))
    return results


def _with_note(reason: str, contact_id: str) -> str:
    note = contact_id_note(contact_id)
    return f"{reason} ({note})" if note else reason


def _body_messages(exc: ApiError) -> str:
    said = "; ".join(exc.messages) or f"HTTP {exc.status}"
    return f"HighLevel refused the request ({said}; HTTP {exc.status})"


# ------------------------------------------------------------------------------------ the client



class SearchCursorMissing(GaveUpError):
    """A contacts search went past the 10,000 records `page` reaches and HighLevel gave no
    `searchAfter` cursor: the rest of the search cannot be read."""

class HighLevel:
    """One HighLevel location (sub-account) over a Private Integration Token. Close with `aclose()`.

    Removing *all* tags is a separate, explicit call (`remove_all_tags`, or
    `apply(Action.UNTAG, ..., remove_all_tags=True)`): it is never implied by an untag, and the
    caller asks for it only after the user confirmed (`JobSpec.remove_all_tags`).
    """

    kind = PlatformKind.HIGHLEVEL

    def __init__(
        self,
        account: Account,
        credentials: Credentials,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        auth: httpx.Auth | None = None,
        items_per_request: int = DEFAULT_BATCH,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not account.location_id:
            raise ValueError("A HighLevel account needs its location (sub-account) ID.")
        self.account = account
        self.location_id = account.location_id
        self._caps = highlevel_capabilities(items_per_request)
        self._http = Transport(
            account.base_url,
            # HighLevel counts per app and per location: one limiter per (token, location).
            limiter=limiter or limiter_for(credentials.token, RATE, scope=f"highlevel:{self.location_id}"),
            messages=highlevel_messages,
            platform_name="HighLevel",
            secrets=credentials.secrets(),
            auth=auth or HeaderAuth({"Authorization": f"Bearer {credentials.token}"}),
            headers={"Version": account.api_version or DEFAULT_VERSION, "Accept": "application/json"},
            transport=transport,
            timeout=timeout,
            retry=retry,
            hints=rate_limit_hints,
            sleep=sleep,
        )
        self._contact_of: dict[str, str | None] = {}  # lower-cased email -> contact id (None: none)
        self._search_refused = False  # the search body was refused once: use the duplicate lookup
        self._batch_refused = False  # a search for many emails at once was refused: one per email
        self._search_batch = SEARCH_BATCH  # halved each time HighLevel refuses a batch this big
        self._group_shape = 0  # which reading of the `OR` group HighLevel took (see `_group_bodies`)
        self._tag_members = Memberships(self._list_tag_members)  # by lower-cased tag name

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    @property
    def transport(self) -> Transport:
        return self._http

    def budget(self) -> RateBudget:
        return self._http.budget()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- requests, with HighLevel's 403 ("no access to this location") treated as a refused token --

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            reply = await self._http.request(method, path, **kwargs)
        except AuthenticationError:
            raise
        except ApiError as exc:
            if exc.status == 403:
                raise AuthenticationError(
                    403,
                    exc.messages,
                    hint=f"Check that the token belongs to the sub-account {self.location_id} "
                    "and has the contacts and tags scopes.",
                ) from None
            raise
        return reply.body

    # -- reading ----------------------------------------------------------------------------------

    async def whoami(self) -> AccountInfo:
        try:
            body = await self._request("GET", f"/locations/{self.location_id}")
        except NotFoundError as exc:
            raise NotFoundError(
                404, exc.messages, hint=f"No HighLevel sub-account has the location ID {self.location_id}."
            ) from None
        location = (body or {}).get("location") or {}
        place = ", ".join(str(location[k]) for k in ("address", "city") if location.get(k))
        detail = str(location.get("email") or place or self.location_id)
        return AccountInfo(name=str(location.get("name") or self.location_id), detail=detail)

    async def list_targets(self, kind: TargetKind) -> list[Target]:
        if kind is TargetKind.FIELD:
            body = await self._request("GET", f"/locations/{self.location_id}/customFields")
            fields = (body or {}).get("customFields") or []
            return [
                Target(
                    TargetKind.FIELD,
                    str(f["id"]),
                    str(f.get("name") or f["id"]),
                    key=str(f.get("fieldKey") or ""),
                )
                for f in fields
                if isinstance(f, dict) and f.get("id") and f.get("model", "contact") == "contact"
            ]
        if kind is not TargetKind.TAG:
            return []  # no forms through this client (see `capabilities.missing`)
        body = await self._request("GET", f"/locations/{self.location_id}/tags")
        tags = (body or {}).get("tags") or []
        return [_tag_target(t) for t in tags if isinstance(t, dict) and t.get("name")]

    async def create_tag(self, name: str) -> Target:
        body = await self._request("POST", f"/locations/{self.location_id}/tags", json={"name": name})
        tag = (body or {}).get("tag") or {"name": name}
        return _tag_target(tag)

    async def plan_resolution(self, emails: Sequence[str]) -> ResolutionPlan:
        """`SEARCH_BATCH` emails a search, or the location's contacts paged 500 a request, whichever
        costs fewer requests (the location's size from one one-contact search); one search per
        email once HighLevel refused the batched form."""
        todo = [e for e in unique_emails(emails) if e not in self._contact_of]
        if not todo:
            return nothing_to_resolve()
        if self._search_refused or self._batch_refused or len(todo) == 1:
            return lookups(len(todo))
        batched = searches(len(todo), self._search_batch)
        if batched.requests <= 1:
            return batched
        total = await self._location_size()
        if total is None:
            return searches(len(todo), self._search_batch, probe_requests=1)
        return cheapest(
            [
                searches(len(todo), self._search_batch, probe_requests=1),
                listing(len(todo), total, SEARCH_PAGE, "contacts", probe_requests=1),
            ]
        )

    async def _location_size(self) -> int | None:
        try:
            body = await self._request(
                "POST", "/contacts/search", json={"locationId": self.location_id, "pageLimit": 1}
            )
        except AuthenticationError:
            raise
        except ApiError as exc:
            if exc.status not in (400, 422):
                raise
            return None
        total = (body or {}).get("total") if isinstance(body, dict) else None
        return total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None

    async def resolve(
        self,
        emails: Sequence[str],
        *,
        plan: ResolutionPlan | None = None,
        progress: ResolveProgress | None = None,
    ) -> dict[str, str | None]:
        """Email -> contact id as `plan` says (see `plan_resolution`); without one, emails answered
        before cost nothing and the rest are searched `SEARCH_BATCH` at a time. A fresh
        plan asks HighLevel about every email again, one search each."""
        report = progress or no_progress
        fresh = plan is not None and plan.fresh
        known: dict[str, str | None] = {}
        if not fresh:
            known = answered_before(emails, self._contact_of)
            if known:
                report(0, None, known)
        rest = [e for e in emails if e not in known]
        if not rest:
            return known
        if plan is not None and plan.method is ResolutionMethod.LISTING:
            found = await self._match_contacts(rest, report)
        elif not fresh and len(unique_emails(rest)) > 1:
            found = await self._search_batches(rest, report)
        else:
            found = await self._search_each(rest, report)
        for email, contact in found.items():
            self._contact_of[normalise_email(email)] = contact
        return {**known, **found}

    async def _search_each(self, emails: Sequence[str], report: ResolveProgress) -> dict[str, str | None]:
        todo = unique_emails(emails)
        matcher = EmailMatcher(emails)
        done = 0

        async def one(email: str) -> None:
            nonlocal done
            contact = await self._search_email(email)
            done += 1
            report(
                done, len(todo), matcher.take([(email, contact)]) if contact else matcher.give_up_on([email])
            )

        await bounded(one, todo, LOOKUP_CONCURRENCY)
        return matcher.answers(complete_listing=False)

    async def _search_batches(self, emails: Sequence[str], report: ResolveProgress) -> dict[str, str | None]:
        """`SEARCH_BATCH` emails a request (fewer once HighLevel refused that many); one search per
        email if it refuses the batched form altogether."""
        todo = unique_emails(emails)
        matcher = EmailMatcher(emails)
        size = self._search_batch
        chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
        done = 0

        async def chunk(batch: list[str]) -> None:
            nonlocal done
            contacts = None if self._batch_refused else await self._search_group(batch)
            if contacts is None:  # refused: this chunk one email at a time
                found: dict[str, str | None] = {}
                for email in batch:
                    contact = await self._search_email(email)
                    found |= matcher.take([(email, contact)]) if contact else matcher.give_up_on([email])
            else:
                found = matcher.take((str(c.get("email") or ""), str(c["id"])) for c in contacts)
                found |= matcher.give_up_on(batch)  # asked about and not in the answer: no such contact
            done += len(batch)
            report(done, len(todo), found)

        await bounded(chunk, chunks, LOOKUP_CONCURRENCY)
        return matcher.answers(complete_listing=False)

    def _group_bodies(self, emails: Sequence[str]) -> list[dict[str, Any]]:
        """The `OR` group in both readings of the docs: inside the `filters` list, or as `filters`."""
        group = {"group": "OR", "filters": [{"field": "email", "operator": "eq", "value": e} for e in emails]}
        bodies: list[dict[str, Any]] = [{"filters": [group]}, {"filters": group}]
        return bodies[self._group_shape :] + bodies[: self._group_shape]

    async def _search_group(self, emails: Sequence[str]) -> list[dict[str, Any]] | None:
        """The contacts with any of `emails` (every page of the answer), or None when HighLevel took
        neither reading of the batched search even for `SMALLEST_BATCH` emails (it is then not tried
        again by this client). A refused batch is asked again in halves."""
        if self._batch_refused:
            return None
        for shape in self._group_bodies(emails):
            try:
                return await self._all_pages(shape)
            except AuthenticationError:
                raise
            except ApiError as exc:
                if exc.status not in (400, 422):
                    raise
                refused = exc
                continue
        if len(emails) > SMALLEST_BATCH:
            half = max(SMALLEST_BATCH, len(emails) // 2)
            self._search_batch = min(self._search_batch, half)
            log.info("HighLevel refused a search for %d emails; asking %d at a time", len(emails), half)
            found: list[dict[str, Any]] = []
            for start in range(0, len(emails), half):
                part = await self._search_group(emails[start : start + half])
                if part is None:
                    return None
                found += part
            return found
        if not self._batch_refused:
            self._batch_refused = True
            log.warning(
                "HighLevel refused a search for many emails at once (%s); looking emails up one per "
                "request instead",
                refused,
            )
        return None

    async def _all_pages(self, extra: dict[str, Any]) -> list[dict[str, Any]]:
        contacts: list[dict[str, Any]] = []
        page = 1
        while True:
            body = {"locationId": self.location_id, "pageLimit": SEARCH_PAGE, **extra}
            if page > 1:
                body["page"] = page
            answer = await self._request("POST", "/contacts/search", json=body)
            got = _contacts(answer)
            if page == 1 and "filters" in extra:
                self._group_shape = 0 if isinstance(extra["filters"], list) else 1
            contacts += got
            total = (answer or {}).get("total") if isinstance(answer, dict) else None
            more = len(got) == SEARCH_PAGE and (not isinstance(total, int) or len(contacts) < total)
            if not more or (page + 1) * SEARCH_PAGE > SEARCH_PAGE_CAP:
                return contacts
            page += 1

    async def members(self, target: Target, status: str = "active") -> AsyncIterator[MemberPage]:
        """The contacts with the tag `target`: `POST /contacts/search` filtered on `tags`, 500 a
        page, `searchAfter` past the 10,000 that `page` reaches. HighLevel has no subscriber
        states: `status` is not a filter here. Forms are not HighLevel's (no members)."""
        if target.kind is not TargetKind.TAG:
            return
        extra = {"filters": [{"field": "tags", "operator": "eq", "value": target.name or target.id}]}
        async for got, total in self._search_pages(extra):
            people = [(str(c["id"]), str(c.get("email") or "")) for c in got]
            yield MemberPage(people, total)

    async def _search_pages(
        self, extra: dict[str, Any]
    ) -> AsyncGenerator[tuple[list[dict[str, Any]], int | None], None]:
        """Every page of a contacts search (`extra` its filters), with the total HighLevel says."""
        read = 0
        after: list[Any] | None = None
        page = 1
        while True:
            body: dict[str, Any] = {"locationId": self.location_id, "pageLimit": SEARCH_PAGE, **extra}
            if after is not None:
                body["searchAfter"] = after
            elif page > 1:
                body["page"] = page
            answer = await self._request("POST", "/contacts/search", json=body)
            got = _contacts(answer)
            count = (answer or {}).get("total") if isinstance(answer, dict) else None
            total = count if isinstance(count, int) else None
            read += len(got)
            yield got, total
            if len(got) < SEARCH_PAGE or (total is not None and read >= total):
                return
            cursor = got[-1].get("searchAfter")
            if isinstance(cursor, list) and cursor:
                after = cursor
            elif (page + 1) * SEARCH_PAGE <= SEARCH_PAGE_CAP and after is None:
                page += 1
            else:
                raise SearchCursorMissing(
                    "HighLevel gave no cursor past its first 10,000 contacts of this search"
                )

    async def _match_contacts(self, emails: Sequence[str], report: ResolveProgress) -> dict[str, str | None]:
        """Page every contact of the location (`_search_pages` with no filter) and match here.
        Emails a complete reading lacks are None; if the reading could not go on (no cursor), the
        emails still missing are searched in batches."""
        matcher = EmailMatcher(emails)
        read = 0
        total: int | None = None
        complete = False
        try:
            async with contextlib.aclosing(self._search_pages({})) as pages:
                async for got, page_total in pages:
                    read += len(got)
                    total = page_total if page_total is not None else total
                    report(read, total, matcher.take((str(c.get("email") or ""), str(c["id"])) for c in got))
                    if matcher.complete:
                        break
                else:
                    complete = True
        except SearchCursorMissing:
            pass  # the contacts past the first 10,000 are searched for below
        found = matcher.answers(complete_listing=complete)
        missing = [e for e in emails if e not in found]
        if missing:
            found |= await self._search_batches(missing, report)
        return found

    async def _search_email(self, email: str) -> str | None:
        """One email's contact: `POST /contacts/search`, or the duplicate lookup if search refuses us.

        The search body is documented only second-hand, so a 400/422 about it switches this client
        to `GET /contacts/search/duplicate` (the spec documents its parameters) instead of failing
        the job.
        """
        if self._search_refused:
            return await self._duplicate_email(email)
        try:
            body = await self._request(
                "POST",
                "/contacts/search",
                json={
                    "locationId": self.location_id,
                    "pageLimit": 10,
                    "filters": [{"field": "email", "operator": "eq", "value": email}],
                },
            )
        except AuthenticationError:
            raise
        except ApiError as exc:
            if exc.status not in (400, 422):
                raise
            log.warning(
                "HighLevel refused the contact search (%s); looking emails up one by one instead", exc
            )
            self._search_refused = True
            return await self._duplicate_email(email)
        contacts = [c for c in ((body or {}).get("contacts") or []) if isinstance(c, dict)]
        # The filter is HighLevel's; check the answer ourselves rather than trust a fuzzy match.
        matches = [c for c in contacts if normalise_email(str(c.get("email") or "")) == email and c.get("id")]
        if len(matches) > 1:
            log.info(
                "%d HighLevel contacts share one email; using the first the search returned", len(matches)
            )
        return str(matches[0]["id"]) if matches else None

    async def _duplicate_email(self, email: str) -> str | None:
        params = {"locationId": self.location_id, "email": email}
        body = await self._request("GET", "/contacts/search/duplicate", params=params)
        contact = (body or {}).get("contact")
        if not isinstance(contact, dict) or not contact.get("id"):
            return None
        if contact.get("email") and normalise_email(str(contact["email"])) != email:
            return None  # matched on something else (a phone number); not this email's contact
        return str(contact["id"])

    async def create(self, people: Sequence[NewPerson]) -> list[Created]:
        """`POST /contacts/upsert`, one contact a request, with the first name. HighLevel's
        duplicate settings decide whether an email that matches another contact updates it; only
        emails the search did not find are sent here, so no existing contact is overwritten."""

        async def one(person: NewPerson) -> Created:
            body: dict[str, Any] = {"locationId": self.location_id, "email": person.email}
            if person.first_name:
                body["firstName"] = person.first_name
            try:
                answer = await self._request("POST", "/contacts/upsert", json=body)
            except AuthenticationError:
                raise
            except GaveUpError:
                raise
            except ApiError as exc:
                return Created(person.email, None, _body_messages(exc))
            contact = (answer or {}).get("contact") if isinstance(answer, dict) else None
            if not isinstance(contact, dict) or not contact.get("id"):
                return Created(person.email, None, "HighLevel did not say the new contact's id")
            return Created(person.email, str(contact["id"]))

        return await bounded(one, list(people), LOOKUP_CONCURRENCY)

    async def read_state(self, action: Action, items: Sequence[WorkItem]) -> dict[StateKey, str | None]:
        """Does each row's contact have its tag now: "yes"/"no", from `GET /contacts/{id}`.

        Rows whose contact does not exist (or whose email has no contact) are left out, which the
        Preview counts as "not found".
        """
        if action not in (Action.TAG, Action.UNTAG):
            return {}
        ready = await self._with_contact_ids(items, {})
        subjects = list(dict.fromkeys(i.subject for i in ready if i.subject))
        tag_lists = await bounded(self._contact_tags, subjects, LOOKUP_CONCURRENCY)
        by_subject = dict(zip(subjects, tag_lists, strict=True))
        state: dict[StateKey, str | None] = {}
        for item in ready:
            tags = by_subject.get(item.subject)
            if tags is not None:
                state[state_key(item)] = "yes" if _has(tags, item.target.name or item.target.id) else "no"
        return state

    async def state_before(self, action: Action, items: Sequence[WorkItem]) -> dict[StateKey, str | None]:
        """Before a write (`ReadsStateBeforeWrite`): "yes"/"no" for each contact id's tag, from the
        tag's members read once with the contact search (`MEMBERS_PAGE` a request) and kept current
        by our own writes. Search lags a few seconds behind changes made elsewhere; our own are noted
        as they happen."""
        if action not in (Action.TAG, Action.UNTAG):
            return {}
        state: dict[StateKey, str | None] = {}
        for name in dict.fromkeys(_tag_key(i.target) for i in items if i.target != ALL_TAGS):
            members = await self._tag_members.members(name)
            if members is None:
                continue
            for item in items:
                if (
                    item.target != ALL_TAGS
                    and _tag_key(item.target) == name
                    and CONTACT_ID_RE.match(item.subject)
                ):
                    state[state_key(item)] = "yes" if item.subject in members else "no"
        return state

    async def _list_tag_members(self, name: str) -> set[str] | None:
        """The ids of the contacts that have the tag; None when there are more than `MEMBERS_CAP` or
        the search cannot be used."""
        ids: set[str] = set()
        page = 1
        try:
            while True:
                body = await self._request(
                    "POST",
                    "/contacts/search",
                    json={
                        "locationId": self.location_id,
                        "pageLimit": MEMBERS_PAGE,
                        "page": page,
                        "filters": [{"field": "tags", "operator": "contains", "value": name}],
                    },
                )
                contacts = [c for c in ((body or {}).get("contacts") or []) if isinstance(c, dict)]
                for c in contacts:
                    tags = c.get("tags")
                    if c.get("id") and (not isinstance(tags, list) or _has(map(str, tags), name)):
                        ids.add(str(c["id"]))
                total = (body or {}).get("total")
                if len(ids) > MEMBERS_CAP or (isinstance(total, int) and total > MEMBERS_CAP):
                    return None
                if len(contacts) < MEMBERS_PAGE:
                    return ids
                page += 1
        except AuthenticationError:
            raise
        except (ApiError, GaveUpError):
            return None

    async def _contact_tags(self, contact_id: str) -> list[str] | None:
        try:
            body = await self._request("GET", f"/contacts/{contact_id}")
        except AuthenticationError:
            raise
        except ApiError:  # 400 (malformed id), 404, 422: unknown, not fatal
            return None
        contact = (body or {}).get("contact")
        if not isinstance(contact, dict):
            return None
        tags = contact.get("tags")
        return [str(t) for t in tags] if isinstance(tags, list) else []

    # -- writing ----------------------------------------------------------------------------------

    async def apply(
        self,
        action: Action,
        items: Sequence[WorkItem],
        value: str | None = None,
        *,
        remove_all_tags: bool = False,
    ) -> list[ItemResult]:
        """Tag or untag in bulk: one request per tag per chunk of `items_per_request` contacts.

        Removing every tag from the contacts (`removeAllTags: true`) happens only when asked: with
        `remove_all_tags=True`, or for items whose target is `core.planning.ALL_TAGS`, the target a
        job gets from `JobSpec.remove_all_tags` (set only after the user confirmed). Both go with
        UNTAG only; `previous` then holds each contact's old tags.
        """
        if not items:
            return []
        if action is Action.SET_FIELD:
            return await self._set_fields(items, value)
        if action not in (Action.TAG, Action.UNTAG):
            reason = self._caps.why_not(action) or "HighLevel does not offer this action."
            return [ItemResult(i, Outcome.FAILED, reason) for i in items]
        if remove_all_tags and action is not Action.UNTAG:
            raise ValueError("Removing all tags goes with the untag action only.")
        results: dict[tuple[int, str], ItemResult] = {}
        for item in items:
            if item.target == ALL_TAGS and action is Action.TAG:
                results[(item.row, item.target.id)] = ItemResult(item, Outcome.FAILED, "Choose a tag to add.")
        ready = await self._with_contact_ids(
            [i for i in items if (i.row, i.target.id) not in results], results
        )
        groups: dict[tuple[str, bool], list[WorkItem]] = {}
        for item in ready:
            everything = remove_all_tags or item.target == ALL_TAGS
            key = ("*", True) if everything else (item.target.name or item.target.id, False)
            groups.setdefault(key, []).append(item)
        size = self._caps.items_per_request
        for (tag, everything), group in groups.items():
            chunks: list[list[WorkItem]] = []
            for item in group:  # chunk by distinct contact ids: repeats ride along for free
                if not chunks or len({i.subject for i in chunks[-1]} | {item.subject}) > size:
                    chunks.append([])
                chunks[-1].append(item)
            for chunk in chunks:
                for r in await self._bulk(action, chunk, tag, everything):
                    results[(r.item.row, r.item.target.id)] = r
        return [results[(i.row, i.target.id)] for i in items]

    async def _set_fields(self, items: Sequence[WorkItem], value: str | None) -> list[ItemResult]:
        """Custom fields: one `PUT /contacts/{id}` per contact with `customFields`, after reading the
        contact (`GET /contacts/{id}`) so the undo can put each previous value back."""
        results: dict[tuple[int, str], ItemResult] = {}
        ready = await self._with_contact_ids(items, results)

        async def one(item: WorkItem) -> ItemResult:
            written = (item.value if item.value is not None else value) or ""
            try:
                body = await self._request("GET", f"/contacts/{item.subject}")
                contact = (body or {}).get("contact") or {}
                now = {
                    str(f.get("id")): f.get("value")
                    for f in contact.get("customFields") or []
                    if isinstance(f, dict)
                }
                before = now.get(item.target.id)
                previous = "" if before is None else str(before)
                if previous == written:
                    return ItemResult(item, Outcome.UNCHANGED, previous=previous)
                await self._request(
                    "PUT",
                    f"/contacts/{item.subject}",
                    json={"customFields": [{"id": item.target.id, "field_value": written}]},
                )
            except AuthenticationError:
                raise
            except GaveUpError:
                raise
            except ApiError as exc:
                return ItemResult(item, Outcome.FAILED, _with_note(_body_messages(exc), item.subject))
            return ItemResult(item, Outcome.SUCCEEDED, previous=previous)

        for r in await bounded(one, ready, LOOKUP_CONCURRENCY):
            results[(r.item.row, r.item.target.id)] = r
        return [results[(i.row, i.target.id)] for i in items]

    async def remove_all_tags(self, items: Sequence[WorkItem]) -> list[ItemResult]:
        """Remove every tag from the items' contacts (`removeAllTags: true`); only once the user confirmed."""
        return await self.apply(Action.UNTAG, items, remove_all_tags=True)

    async def _with_contact_ids(
        self, items: Sequence[WorkItem], results: dict[tuple[int, str], ItemResult]
    ) -> list[WorkItem]:
        """Items whose subject is an email (not looked up by the caller) get their contact id here;
        emails with no contact end SKIPPED and are never sent."""
        emails = [
            i.subject for i in items if EMAIL_RE.match(i.subject) and not CONTACT_ID_RE.match(i.subject)
        ]
        if not emails:
            return list(items)
        found = await self.resolve(emails)
        ready: list[WorkItem] = []
        for item in items:
            if item.subject not in found:
                ready.append(item)
                continue
            contact = found[item.subject]
            if contact is None:
                results[(item.row, item.target.id)] = ItemResult(item, Outcome.SKIPPED, NOT_FOUND)
            else:
                ready.append(WorkItem(item.row, item.identifier, contact, item.target))
        return ready

    async def _bulk(
        self, action: Action, items: Sequence[WorkItem], tag: str, remove_all: bool
    ) -> list[ItemResult]:
        kind = "add" if action is Action.TAG else "remove"
        body: dict[str, Any] = {
            "contacts": list(dict.fromkeys(i.subject for i in items)),
            "tags": [] if remove_all else [tag],
            "locationId": self.location_id,
        }
        if remove_all:
            body["removeAllTags"] = True
        try:
            answer = await self._request("POST", f"/contacts/bulk/tags/update/{kind}", json=body)
        except AuthenticationError:
            raise
        except GaveUpError:
            self._forget_members(items)  # the write may have landed before the answer was lost
            raise
        except ApiError as exc:  # 400, 404, 422: the whole request was refused; say so on every row
            reason = _body_messages(exc)
            return [ItemResult(i, Outcome.FAILED, _with_note(reason, i.subject)) for i in items]
        results = map_bulk_tag_results(action, items, answer, tag=tag, remove_all=remove_all)
        if remove_all:
            self._forget_members(items)
        else:
            for r in results:
                if r.outcome in (Outcome.SUCCEEDED, Outcome.UNCHANGED):
                    self._tag_members.note(_tag_key(r.item.target), r.item.subject, has=action is Action.TAG)
        return results

    def _forget_members(self, items: Sequence[WorkItem]) -> None:
        for name in {_tag_key(i.target) for i in items}:
            self._tag_members.forget(name)


def _tag_key(target: Target) -> str:
    """A tag's name as HighLevel keeps it (lower-cased), the key of its member list."""
    return (target.name or target.id).strip().lower()


def _contacts(answer: Any) -> list[dict[str, Any]]:
    """A search answer's contacts that have an id."""
    raw = answer.get("contacts") if isinstance(answer, dict) else None
    return [c for c in raw or [] if isinstance(c, dict) and c.get("id")]


def _tag_target(tag: dict[str, Any]) -> Target:
    name = str(tag.get("name") or "")
    return Target(TargetKind.TAG, name, name)
