"""Kit API v3 (legacy): tags and forms, one request per row, with an `api_key` and an `api_secret`.

v3 writes by email (`POST /v3/tags/{id}/subscribe`, `POST /v3/forms/{id}/subscribe`) and removes a
tag by subscriber id (`DELETE /v3/subscribers/{id}/tags/{tag_id}`) or by email
(`POST /v3/tags/{id}/unsubscribe`). The client translates between ids and emails as each call needs,
and remembers every pair it learns for the life of the client.

Never creating people: v3's subscribe *creates* a subscriber when the email is new (and Kit counts
them against the plan and may start automations for them). A marketer who tags "my list" expects
the people on it to be tagged, not new ones added. So before a write by email the client checks the
email belongs to a subscriber (`GET /v3/subscribers?email_address=`; answered from the cache when
`resolve` or a Preview already looked it up) and ends an unknown email SKIPPED with "not found",
without sending the write. That costs one lookup per email row not looked up before, or, for a long
list on a smaller account, a reading of the account's subscribers 50 a page (`plan_resolution`:
active and cancelled ones, the states v3 lists; emails not listed are then looked up one by one).

Knowing the state before: v3 answers a tag or untag the same whether or not it changed anything,
so a row's `previous` ("yes"/"no", what undo relies on to leave people who already had a tag alone)
comes from the tag's member list. A write reads that list by itself when it is short (up to
`AUTO_LIST_MAX_PAGES` pages); a Preview reads it whatever its length. The list is kept for a while
and updated by every write we make (`api.membership`). Without it `previous` is None (unknown).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import httpx

from audience_manager.api.concurrency import bounded
from audience_manager.api.errors import ApiError, AuthenticationError, NotFoundError
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
    unique_emails,
)
from audience_manager.api.transport import DEFAULT_TIMEOUT, RetryPolicy, Transport, messages_from
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.identifiers import EMAIL_RE, SUBSCRIBER_ID_RE, IdentifierKind, normalise_email
from audience_manager.core.outcomes import Outcome
from audience_manager.core.platforms import Capabilities, PlatformKind, RateLimit
from audience_manager.core.work import Created, ItemResult, NewPerson, WorkItem

RATE = RateLimit(120, 60.0)  # "120 requests over a rolling 60 second period", per api key
PAGE_SIZE = 50  # v3 subscription lists: fixed, 50 a page
# A write lists a tag's members by itself (to know each row's state before, for undo) only when that
# costs little: at most this many pages of 50 active subscribers. A Preview lists any size.
AUTO_LIST_MAX_PAGES = 40
# The subscriptions list shows one subscriber state at a time (active by default) and documents only
# active and cancelled; subscribers in the other states keep their tags too, so they are asked for
# as well, and a refusal of an undocumented state is tolerated.
DOCUMENTED_STATES = ("active", "cancelled")
SUBSCRIBER_STATES = (*DOCUMENTED_STATES, "inactive", "bounced", "complained")
LOOKUP_CONCURRENCY = 4
# What `GET /v3/subscribers` lists: active subscribers, or cancelled ones when sorted by cancelled_at.
LISTED_STATES: tuple[dict[str, str], ...] = ({}, {"sort_field": "cancelled_at"})

NOT_FOUND_EMAIL = (
    "Not found on Kit: no subscriber with this email. Not sent, because Kit would have added it as a new "
    "subscriber."
)
NOT_FOUND_ID = "Not found on Kit: no subscriber with this ID"
NOT_AN_IDENTIFIER = "“{}” is neither a Kit subscriber ID nor an email address."
MISSING = {
    Action.SET_FIELD: (
        "Kit's legacy API (v3) cannot set custom fields from Audience Manager. Connect this account with "
        "a Kit v4 API key (Settings → Developer in Kit) to set custom fields."
    ),
}


def kit_v3_messages(response: httpx.Response) -> list[str]:
    """v3 errors are `{"error": "Authorization Failed", "message": "API Key not present"}`: both halves."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return [text[:300]] if text and "<" not in text[:50] else []
    if isinstance(body, dict):
        error, message = body.get("error"), body.get("message")
        if isinstance(error, str) and isinstance(message, str) and error and message:
            return [message] if message.lower().startswith(error.lower()) else [f"{error}: {message}"]
    return messages_from(body, ("message", "error", "errors"))


def kit_v3_capabilities() -> Capabilities:
    return Capabilities(
        actions=frozenset({Action.TAG, Action.UNTAG, Action.ADD_TO_FORM, Action.MOVE_TAG}),
        identifiers=frozenset({IdentifierKind.SUBSCRIBER_ID, IdentifierKind.EMAIL}),
        items_per_request=1,
        rate=RATE,
        missing=dict(MISSING),
        can_create_tags=True,
        can_remove_all_tags=False,
        can_read_membership=True,
        cannot_create=(
            "Creating subscribers is not offered with Kit API v3 yet; connect the account with "
            "Kit API v4 (OAuth or API key) to create the people who are not there yet."
        ),
    )


def _member_key(subject: str) -> str:
    """How a subject is kept in a member set: members are listed by id and by lower-cased email."""
    return subject if subject.isdigit() else normalise_email(subject)


def _yes_no(members: set[str] | None, subject: str) -> str | None:
    return None if members is None else ("yes" if _member_key(subject) in members else "no")


def _is_id(text: str) -> bool:
    return bool(SUBSCRIBER_ID_RE.match(text))


def _is_email(text: str) -> bool:
    return bool(EMAIL_RE.match(text))


def _reason(exc: ApiError) -> str:
    return "; ".join(exc.messages) or f"Kit refused this row (HTTP {exc.status})."


class KitV3:
    """A Kit account over the legacy API v3. One instance per account; close it with `aclose()`."""

    kind = PlatformKind.KIT_V3

    def __init__(
        self,
        account: Account,
        credentials: Credentials,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        auth: httpx.Auth | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account = account
        self._key = credentials.token
        self._secret = credentials.secret
        self._caps = kit_v3_capabilities()
        self._http = Transport(
            account.base_url,
            limiter=limiter or limiter_for(credentials.token, RATE, scope="kit-v3"),
            messages=kit_v3_messages,
            platform_name="Kit",
            secrets=credentials.secrets(),
            auth=auth,  # v3 sends its keys as parameters; `auth` only for a caller's own scheme
            transport=transport,
            timeout=timeout,
            retry=retry,
            is_expired=lambda _messages: False,  # v3 keys do not expire
            sleep=sleep,
        )
        self._id_of: dict[str, str | None] = {}  # lower-cased email -> subscriber id (None: no one)
        self._email_of: dict[str, str | None] = {}  # subscriber id -> email (None: no one)
        # Who has each tag (is on each form): ids and emails. A write lists a short tag by itself
        # (`AUTO_LIST_MAX_PAGES`); forms and longer tags only when a Preview reads them.
        self._members = {
            TargetKind.TAG: Memberships(self._list_short_tag, clock=clock),
            TargetKind.FORM: Memberships(lambda t: self._list_members(TargetKind.FORM, t), clock=clock),
        }

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

    def _secret_params(self) -> dict[str, str]:
        if not self._secret:
            raise AuthenticationError(
                401,
                ["The API secret is missing"],
                hint="Kit v3 needs the API secret as well as the API key for this; add it to the account.",
            )
        return {"api_secret": self._secret}

    # -- reading ----------------------------------------------------------------------------------

    async def whoami(self) -> AccountInfo:
        body = (await self._http.get("/v3/account", params=self._secret_params())).body or {}
        email = str(body.get("primary_email_address") or "")
        return AccountInfo(name=str(body.get("name") or email or "Kit account"), detail=email)

    async def list_targets(self, kind: TargetKind) -> list[Target]:
        if kind is TargetKind.FIELD:
            return []  # v3 custom fields cannot be set from here (see `capabilities.missing`)
        key = "tags" if kind is TargetKind.TAG else "forms"
        body = (await self._http.get(f"/v3/{key}", params={"api_key": self._key})).body or {}
        return [
            Target(kind, str(r["id"]), str(r.get("name") or ""))
            for r in body.get(key) or []
            if isinstance(r, dict) and r.get("id") is not None
        ]

    async def create_tag(self, name: str) -> Target:
        body = (
            await self._http.request("POST", "/v3/tags", json={"api_key": self._key, "tag": {"name": name}})
        ).body
        tag = body[0] if isinstance(body, list) and body else body
        if not isinstance(tag, dict) or tag.get("id") is None:
            raise ApiError(200, ["Kit did not return the new tag"])
        return Target(TargetKind.TAG, str(tag["id"]), str(tag.get("name") or name))

    async def create_tags(self, names: Sequence[str]) -> list[Target]:
        """Several tags in one request (v3 takes `tag` as a list); in the order Kit returns them."""
        if not names:
            return []
        payload = {"api_key": self._key, "tag": [{"name": n} for n in names]}
        body = (await self._http.request("POST", "/v3/tags", json=payload)).body
        tags = body if isinstance(body, list) else [body]
        return [
            Target(TargetKind.TAG, str(t["id"]), str(t.get("name") or ""))
            for t in tags
            if isinstance(t, dict) and t.get("id") is not None
        ]

    async def plan_resolution(self, emails: Sequence[str]) -> ResolutionPlan:
        """One lookup per email, or the account's active and cancelled subscribers read 50 a page
        (their counts from each list's first page, `total_subscribers`), whichever is cheaper."""
        todo = [e for e in unique_emails(emails) if e not in self._id_of]
        if not todo:
            return nothing_to_resolve()
        probes = len(LISTED_STATES)
        if len(todo) <= probes:
            return lookups(len(todo))
        counted = [await self._listed_size(extra) for extra in LISTED_STATES]
        sizes = [size for size in counted if size is not None]
        if len(sizes) < len(counted):  # Kit did not say how many: the listing cannot be priced
            return lookups(len(todo), probe_requests=probes)
        pages = sum(max(1, -(-size // PAGE_SIZE)) for size in sizes)
        listed = listing(len(todo), sum(sizes), PAGE_SIZE, "subscribers", probe_requests=probes)
        listed = replace(listed, requests=pages + probes)  # two lists, each at least one page
        return cheapest([lookups(len(todo), probe_requests=probes), listed])

    async def _listed_size(self, extra: dict[str, str]) -> int | None:
        params = {**self._secret_params(), **extra, "page": 1}
        body = (await self._http.get("/v3/subscribers", params=params)).body or {}
        total = body.get("total_subscribers") if isinstance(body, dict) else None
        return total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None

    async def resolve(
        self,
        emails: Sequence[str],
        *,
        plan: ResolutionPlan | None = None,
        progress: ResolveProgress | None = None,
    ) -> dict[str, str | None]:
        """Email -> subscriber id as `plan` says; without one, one paced
        `GET /v3/subscribers?email_address=` per email not yet known. A fresh plan asks
        Kit again about every email."""
        report = progress or no_progress
        if plan is not None and plan.fresh:
            for email in emails:
                self._id_of.pop(normalise_email(email), None)
        known = answered_before(emails, self._id_of)
        if known:
            report(0, None, known)
        rest = [e for e in emails if e not in known]
        found: dict[str, str | None] = {}
        if rest and plan is not None and plan.method is ResolutionMethod.LISTING:
            found = await self._match_listing(rest, report)
        missing = [e for e in rest if e not in found]
        if missing:
            todo = unique_emails(missing)
            done = 0

            async def one(email: str) -> None:
                nonlocal done
                subject = await self._lookup_email(email)
                done += 1
                report(done, len(todo), {e: subject for e in missing if normalise_email(e) == email})

            await bounded(one, todo, LOOKUP_CONCURRENCY)
            found |= {e: self._id_of.get(normalise_email(e)) for e in missing}
        return {**known, **found}

    async def _match_listing(self, emails: Sequence[str], report: ResolveProgress) -> dict[str, str | None]:
        """Found emails only: an email not listed may be a subscriber in a state v3 does not list."""
        matcher = EmailMatcher(emails)
        read = 0
        total = 0
        for extra in LISTED_STATES:
            page, pages = 1, 1
            while page <= pages and not matcher.complete:
                params = {**self._secret_params(), **extra, "page": page}
                body = (await self._http.get("/v3/subscribers", params=params)).body or {}
                pages = int(body.get("total_pages") or 1)
                if page == 1:
                    total += int(body.get("total_subscribers") or 0)
                subscribers = [s for s in body.get("subscribers") or [] if isinstance(s, dict)]
                for subscriber in subscribers:
                    self._remember(subscriber)
                pairs = [(str(s.get("email_address") or ""), str(s.get("id"))) for s in subscribers]
                read += len(subscribers)
                report(read, total, matcher.take(pairs))
                page += 1
        return matcher.answers(complete_listing=False)

    async def _lookup_email(self, email: str) -> str | None:
        if email in self._id_of:
            return self._id_of[email]
        params = {**self._secret_params(), "email_address": email}
        body = (await self._http.get("/v3/subscribers", params=params)).body or {}
        for subscriber in body.get("subscribers") or []:
            if (
                isinstance(subscriber, dict)
                and normalise_email(str(subscriber.get("email_address") or "")) == email
            ):
                self._remember(subscriber)
                return self._id_of[email]
        self._id_of[email] = None
        return None

    async def _lookup_id(self, subscriber_id: str) -> str | None:
        if subscriber_id in self._email_of:
            return self._email_of[subscriber_id]
        try:
            body = (
                await self._http.get(f"/v3/subscribers/{subscriber_id}", params=self._secret_params())
            ).body
        except NotFoundError:
            self._email_of[subscriber_id] = None
            return None
        subscriber = (body or {}).get("subscriber") if isinstance(body, dict) else None
        if not isinstance(subscriber, dict) or not subscriber.get("email_address"):
            self._email_of[subscriber_id] = None
            return None
        self._remember(subscriber)
        return self._email_of[subscriber_id]

    def _remember(self, subscriber: dict[str, Any]) -> None:
        sid, email = subscriber.get("id"), subscriber.get("email_address")
        if sid is None or not email:
            return
        self._id_of[normalise_email(str(email))] = str(sid)
        self._email_of[str(sid)] = str(email)

    async def create(self, people: Sequence[NewPerson]) -> list[Created]:
        """Not offered yet with this client (`capabilities.creates_per_request` is 0)."""
        reason = self.capabilities.cannot_create
        return [Created(p.email, None, reason) for p in people]

    async def read_state(self, action: Action, items: Sequence[WorkItem]) -> dict[StateKey, str | None]:
        """Is each row's subscriber on the tag (form) now: "yes"/"no", from the paged subscriptions lists.

        Rows whose subscriber an earlier lookup did not find are left out (the Preview's "not found").
        The lists are kept for `MEMBERSHIP_TTL` and updated by our own writes, so a Preview that
        reads them first makes the run's `previous` (and so its undo) exact.
        """
        kind = action.target_kind
        if kind is TargetKind.FIELD:
            return {}
        targets = list(dict.fromkeys(i.target.id for i in items))
        lists = await bounded(lambda t: self._all_members(kind, t), targets, LOOKUP_CONCURRENCY)
        by_target = dict(zip(targets, lists, strict=True))
        state: dict[StateKey, str | None] = {}
        for item in items:
            if self._known_missing(item.subject):
                continue  # left out: the Preview counts it as not found
            state[state_key(item)] = _yes_no(by_target.get(item.target.id), item.subject)
        return state

    async def state_before(self, action: Action, items: Sequence[WorkItem]) -> dict[StateKey, str | None]:
        """Before a write (`ReadsStateBeforeWrite`): "yes"/"no" from the tag's member list, the one
        the write reads anyway (a short tag is listed once, then kept current by our writes)."""
        if action not in (Action.TAG, Action.UNTAG):
            return {}
        return {state_key(i): await self._state_before(i.target.id, i.subject.strip()) for i in items}

    def _known_missing(self, subject: str) -> bool:
        """A lookup already showed no subscriber has this id or email (costs no request)."""
        if _is_id(subject):
            return subject in self._email_of and self._email_of[subject] is None
        email = normalise_email(subject)
        return email in self._id_of and self._id_of[email] is None

    async def _all_members(self, kind: TargetKind, target_id: str) -> set[str] | None:
        """Who is on the tag (form) whatever the list's length (a Preview pays for it); the writes
        that follow use what it read."""
        return await self._members[kind].read(target_id, lambda t: self._list_members(kind, t))

    async def _list_short_tag(self, tag_id: str) -> set[str] | None:
        return await self._list_members(TargetKind.TAG, tag_id, max_pages=AUTO_LIST_MAX_PAGES)

    async def _list_members(
        self, kind: TargetKind, target_id: str, *, max_pages: int | None = None
    ) -> set[str] | None:
        """The ids and lower-cased emails of who is on the tag (form), listed page by page.

        None when the list is unknown (404) or longer than `max_pages` pages of active subscribers.
        """
        members: set[str] = set()
        path = f"/v3/{'tags' if kind is TargetKind.TAG else 'forms'}/{target_id}/subscriptions"
        try:
            for state in SUBSCRIBER_STATES:
                page, pages = 1, 1
                while page <= pages:
                    params = {**self._secret_params(), "page": page, "subscriber_state": state}
                    try:
                        body = (await self._http.get(path, params=params)).body or {}
                    except NotFoundError:
                        raise
                    except ApiError:
                        if state in DOCUMENTED_STATES:
                            raise
                        break  # Kit does not take this state here: the documented ones still count
                    pages = int(body.get("total_pages") or 1)
                    if max_pages is not None and state == "active" and pages > max_pages:
                        return None
                    for subscription in body.get("subscriptions") or []:
                        subscriber = (subscription or {}).get("subscriber") or {}
                        if subscriber.get("id") is None:
                            continue
                        self._remember(subscriber)
                        members.add(str(subscriber["id"]))
                        if subscriber.get("email_address"):
                            members.add(normalise_email(str(subscriber["email_address"])))
                    page += 1
        except NotFoundError:
            return None
        return members

    async def members(self, target: Target, status: str = "active") -> AsyncIterator[MemberPage]:
        """`GET /v3/tags/{id}/subscriptions` (`/v3/forms/{id}/subscriptions`), 50 a page, one
        `subscriber_state` at a time ("all": each state in turn; an undocumented one Kit refuses is
        left out)."""
        path = f"/v3/{'tags' if target.kind is TargetKind.TAG else 'forms'}/{target.id}/subscriptions"
        for state in SUBSCRIBER_STATES if status == "all" else (status,):
            page, pages = 1, 1
            while page <= pages:
                params = {**self._secret_params(), "page": page, "subscriber_state": state}
                try:
                    body = (await self._http.get(path, params=params)).body or {}
                except NotFoundError:
                    raise
                except ApiError:
                    if state in DOCUMENTED_STATES or status != "all":
                        raise
                    break
                pages = int(body.get("total_pages") or 1)
                people: list[tuple[str, str]] = []
                for subscription in body.get("subscriptions") or []:
                    subscriber = (subscription or {}).get("subscriber") or {}
                    if subscriber.get("id") is None:
                        continue
                    self._remember(subscriber)
                    people.append((str(subscriber["id"]), str(subscriber.get("email_address") or "")))
                total = body.get("total_subscriptions")
                yield MemberPage(people, total if isinstance(total, int) and status != "all" else None)
                page += 1

    async def _state_before(self, target_id: str, subject: str) -> str | None:
        """ "yes"/"no" before a tag write, listing a short tag's members first if need be."""
        return _yes_no(await self._members[TargetKind.TAG].members(target_id), subject)

    def _known(self, kind: TargetKind, target_id: str, subject: str) -> str | None:
        """ "yes"/"no" when a fresh membership list says; None when we do not know."""
        return _yes_no(self._members[kind].known(target_id), subject)

    def _note_change(
        self, kind: TargetKind, target_id: str, sid: str | None, email: str | None, on: bool
    ) -> None:
        for key in (sid, normalise_email(email) if email else None):
            if key:
                self._members[kind].note(target_id, key, has=on)

    # -- writing ----------------------------------------------------------------------------------

    async def apply(
        self, action: Action, items: Sequence[WorkItem], value: str | None = None
    ) -> list[ItemResult]:
        """One request per item (v3 has no bulk); per-row refusals come back as failed results."""
        return [await self._apply_one(action, item) for item in items]

    async def _apply_one(self, action: Action, item: WorkItem) -> ItemResult:
        if action not in self._caps.actions:
            return ItemResult(item, Outcome.FAILED, self._caps.why_not(action) or "")
        subject = item.subject.strip()
        if not (_is_id(subject) or _is_email(subject)):
            return ItemResult(item, Outcome.FAILED, NOT_AN_IDENTIFIER.format(subject))
        try:
            if action is Action.UNTAG:
                return await self._untag(item, subject)
            return await self._subscribe(action, item, subject)
        except AuthenticationError:
            raise
        except ApiError as exc:  # 404 (no such tag or form), 422, 403 (subscriber limit): this row only
            return ItemResult(item, Outcome.FAILED, _reason(exc))

    async def _subscribe(self, action: Action, item: WorkItem, subject: str) -> ItemResult:
        """Tag or add to form: by email, and only for a subscriber who exists (see the module doc)."""
        if _is_id(subject):
            sid: str | None = subject
            email = await self._lookup_id(subject)
            if email is None:
                return ItemResult(item, Outcome.SKIPPED, NOT_FOUND_ID)
        else:
            email = subject
            sid = await self._lookup_email(normalise_email(subject))
            if sid is None:
                return ItemResult(item, Outcome.SKIPPED, NOT_FOUND_EMAIL)
        kind = action.target_kind
        before = (
            await self._state_before(item.target.id, sid or subject)
            if kind is TargetKind.TAG
            else self._known(kind, item.target.id, sid or subject)
        )
        path = f"/v3/{'tags' if kind is TargetKind.TAG else 'forms'}/{item.target.id}/subscribe"
        body = (await self._http.request("POST", path, json={"api_key": self._key, "email": email})).body
        subscriber = (
            ((body or {}).get("subscription") or {}).get("subscriber") if isinstance(body, dict) else None
        )
        if isinstance(subscriber, dict):
            self._remember(subscriber)
        self._note_change(kind, item.target.id, sid, email, on=True)
        if before == "yes":
            return ItemResult(
                item,
                Outcome.UNCHANGED,
                "Already had this tag" if kind is TargetKind.TAG else "Already on this form",
                previous="yes",
            )
        return ItemResult(item, Outcome.SUCCEEDED, previous=before)

    async def _untag(self, item: WorkItem, subject: str) -> ItemResult:
        """By id (`DELETE /v3/subscribers/{id}/tags/{tag}`) when we know it, else by email
        (`POST /v3/tags/{tag}/unsubscribe`): one request either way, and neither creates anyone.

        Kit answers 200 whether or not the subscriber had the tag, so `previous` (and "unchanged")
        come from the tag's member list (see the module doc). A 404 means the subscriber or the tag
        is unknown; a lookup (only then) says which.
        """
        tag_id = item.target.id
        if _is_id(subject):
            sid: str | None = subject
            email = self._email_of.get(subject)
        else:
            email = subject
            sid = self._id_of.get(normalise_email(subject))
        before = await self._state_before(tag_id, sid or subject)
        try:
            if sid is not None:
                await self._http.request(
                    "DELETE", f"/v3/subscribers/{sid}/tags/{tag_id}", params=self._secret_params()
                )
            else:
                payload = {**self._secret_params(), "email": email}
                await self._http.request("POST", f"/v3/tags/{tag_id}/unsubscribe", json=payload)
        except NotFoundError as exc:
            if _is_id(subject):
                if await self._lookup_id(subject) is None:
                    return ItemResult(item, Outcome.SKIPPED, NOT_FOUND_ID)
            elif await self._lookup_email(normalise_email(subject)) is None:
                return ItemResult(item, Outcome.SKIPPED, NOT_FOUND_ID.replace("ID", "email"))
            return ItemResult(item, Outcome.FAILED, f"{_reason(exc)} (the tag may have been deleted in Kit)")
        self._note_change(TargetKind.TAG, tag_id, sid, email, on=False)
        if before == "no":
            return ItemResult(item, Outcome.UNCHANGED, "Did not have this tag", previous="no")
        return ItemResult(item, Outcome.SUCCEEDED, previous=before)
