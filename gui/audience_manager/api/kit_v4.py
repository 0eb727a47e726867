"""Kit API v4: tags, forms and custom fields, in bulk with OAuth or one row at a time with an API key.

Kit only lets OAuth tokens call `/v4/bulk/*`, so the credential decides the whole strategy: OAuth
sends up to 100 items a request (Kit answers those synchronously, with per-item failures; more than
100 would be processed in the background with results posted to a callback URL we do not have),
an API key sends one request per row at a fifth of the rate.

Bulk failure items sometimes null the offending id ("Subscriber does not exist" comes back with
`subscriber_id: null`), so failures are mapped back to rows by elimination, not only by id; see
`map_bulk_results`.

Kit answers a tag or untag alike whether or not the subscriber had the tag, so before the first write
to a tag the client reads the tag's members (`GET /v4/tags/{id}/subscribers?status=all`, up to
`MEMBERS_CAP` members in `MEMBERS_MAX_REQUESTS` paced requests) and keeps that set current with its
own writes (`api.membership`). Each row's outcome (changed or already so) and `previous` come from
it, so an undo reverts exactly the rows the job changed. A longer tag falls back to what Kit's answer
shows: bulk tag judges `tagged_at` (see `mark_already_tagged`), untag reports no previous state.

Emails: Kit looks one email up per request (`GET /v4/subscribers?email_address=&status=all`). For a
long list `plan_resolution` asks the account's size once (`include_total_count=true`) and, when that
is cheaper, reads every subscriber 1,000 a request (`status=all`, cursor pages) and matches locally
(`api.resolution`). Every email -> id pair an answer shows (lookups, that reading, a tag's or form's
members read for the write) is remembered for the client's life.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from audience_manager.api.concurrency import bounded
from audience_manager.api.errors import (
    ApiError,
    AuthenticationError,
    ConnectionFailedError,
    GaveUpError,
    NotFoundError,
)
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
from audience_manager.api.transport import (
    DEFAULT_TIMEOUT,
    HeaderAuth,
    Reply,
    RetryPolicy,
    Transport,
    json_messages,
)
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.identifiers import IdentifierKind, normalise_email
from audience_manager.core.outcomes import Outcome
from audience_manager.core.platforms import AuthKind, Capabilities, PlatformKind, RateLimit
from audience_manager.core.work import Created, ItemResult, NewPerson, WorkItem

log = logging.getLogger(__name__)

BULK_LIMIT = 100  # Kit answers bulk requests synchronously only up to 100 items
PAGE_SIZE = 1000  # Kit's largest page
LOOKUP_CONCURRENCY = 16  # requests in flight for lookups; the limiter sets the pace
MEMBERS_CAP = 50_000  # a tag with more members is not read before writing (see the module doc)
MEMBERS_MAX_REQUESTS = 50  # pages read for one tag's members at most (1,000 a page)
SUBSCRIBER_MISSING = "subscriber does not exist"  # Kit's bulk failure for an unknown subscriber id

OAUTH_RATE = RateLimit(600, 60.0)
API_KEY_RATE = RateLimit(120, 60.0)

ALL_ACTIONS = frozenset({Action.TAG, Action.UNTAG, Action.ADD_TO_FORM, Action.SET_FIELD, Action.MOVE_TAG})
IDENTIFIERS = frozenset({IdentifierKind.SUBSCRIBER_ID, IdentifierKind.EMAIL})

# Kit v4 error bodies are {"errors": [...]}; the OAuth endpoints use error/error_description/message.
kit_messages = json_messages(("errors", "error_description", "message", "error"))

_LIST_PATHS: dict[TargetKind, tuple[str, str]] = {
    TargetKind.TAG: ("/v4/tags", "tags"),
    TargetKind.FORM: ("/v4/forms", "forms"),
    TargetKind.FIELD: ("/v4/custom_fields", "custom_fields"),
}


def kit_v4_capabilities(auth: AuthKind) -> Capabilities:
    bulk = auth == AuthKind.OAUTH
    return Capabilities(
        actions=ALL_ACTIONS,
        identifiers=IDENTIFIERS,
        items_per_request=BULK_LIMIT if bulk else 1,
        rate=OAUTH_RATE if bulk else API_KEY_RATE,
        can_create_tags=True,
        can_remove_all_tags=False,
        can_read_membership=True,
        creates_per_request=BULK_LIMIT if bulk else 1,
        state_with_resolution=frozenset({Action.SET_FIELD}),
        fields_in_one_request=not bulk,
    )


@dataclass(frozen=True)
class BulkFailure:
    """One entry of a bulk response's `failures`: the ids it echoed (either may be None) and why."""

    target: str | None
    subject: str | None
    reason: str


def map_bulk_results(
    items: Sequence[WorkItem],
    failures: Sequence[BulkFailure],
    confirmed: set[tuple[str, str]] | set[str] | None,
    *,
    unconfirmed_reason: str,
    absent: Iterable[str] = (),
    missing_targets: Iterable[str] = (),
) -> list[ItemResult]:
    """Give every item of one bulk request exactly one result.

    `confirmed` is what the response said succeeded: (target, subject) pairs, subject ids alone, or
    None when the endpoint only lists failures (bulk untag: everything not failed succeeded).
    `absent` are subjects known not to exist (checked after the response), the first choice for a
    failure whose subject id came back null; `missing_targets` likewise for a nulled target.
    Failures are matched in rounds, most certain first: both ids echoed; subject nulled (matched to
    an item of that target whose subject was not confirmed); target nulled (matched to an item of
    that subject, preferring a target that failed for every subscriber that had it in this batch);
    both nulled. Items nobody failed are succeeded if confirmed, else failed with
    `unconfirmed_reason`: a row is never reported done on silence.
    """
    pairs: dict[tuple[str, str], list[WorkItem]] = defaultdict(list)
    for item in items:
        pairs[(item.target.id, item.subject)].append(item)
    open_pairs = list(pairs)  # in request order
    reasons: dict[tuple[str, str], str] = {}

    def subject_confirmed(pair: tuple[str, str]) -> bool:
        if confirmed is None:
            return False
        return pair in confirmed or pair[1] in confirmed

    def take(pair: tuple[str, str], reason: str) -> None:
        reasons[pair] = reason
        open_pairs.remove(pair)

    exact = [f for f in failures if f.target is not None and f.subject is not None]
    no_subject = [f for f in failures if f.target is not None and f.subject is None]
    no_target = [f for f in failures if f.target is None and f.subject is not None]
    neither = [f for f in failures if f.target is None and f.subject is None]

    for f in exact:
        pair = (f.target or "", f.subject or "")
        if pair in open_pairs:
            take(pair, f.reason)

    gone = set(absent)
    # Subjects that failures with a nulled target name: leave them enough pairs for those failures,
    # or a failure would find nothing left and its row would be reported done (untag lists only failures).
    claims: dict[str, int] = defaultdict(int)
    for f in no_target:
        claims[f.subject or ""] += 1

    def spare(pair: tuple[str, str]) -> bool:
        return sum(1 for p in open_pairs if p[1] == pair[1]) > claims[pair[1]]

    for f in no_subject:
        candidates = [p for p in open_pairs if p[0] == f.target]
        missing = [p for p in candidates if p[1] in gone]
        unconfirmed = [p for p in candidates if not subject_confirmed(p)]
        unclaimed = [p for p in unconfirmed if spare(p)]
        chosen = (missing or unclaimed or unconfirmed or candidates)[:1]
        for pair in chosen:
            take(pair, f.reason)

    if no_target:
        fails: dict[str, int] = defaultdict(int)
        for f in no_target:
            fails[f.subject or ""] += 1
        bad = missing_targets_from(open_pairs, fails, known_missing=set(missing_targets))[0]
        for f in no_target:
            candidates = [p for p in open_pairs if p[1] == f.subject]
            if candidates:
                take(([p for p in candidates if p[0] in bad] or candidates)[0], f.reason)

    for f in neither:
        candidates = [p for p in open_pairs if not subject_confirmed(p)] or list(open_pairs)
        if candidates:
            take(candidates[0], f.reason)

    results: list[ItemResult] = []
    for item in items:
        pair = (item.target.id, item.subject)
        if pair in reasons:
            results.append(ItemResult(item, Outcome.FAILED, reasons[pair]))
        elif confirmed is None or subject_confirmed(pair):
            results.append(ItemResult(item, Outcome.SUCCEEDED))
        else:
            results.append(ItemResult(item, Outcome.FAILED, unconfirmed_reason))
    return results


def missing_targets_from(
    open_pairs: Sequence[tuple[str, str]],
    fails: Mapping[str, int],
    *,
    known_missing: set[str] = frozenset(),  # type: ignore[assignment]
) -> tuple[set[str], bool]:
    """Which targets do not exist, judged from "target does not exist" failures with the target nulled.

    A missing target fails for every subscriber that has it in the batch, so the answer is a set X
    of targets such that each subscriber has exactly as many targets in X as it got such failures.
    Returns (X, ambiguous): ambiguous when several sets fit (then ask the platform; `known_missing`
    is what it said and is preferred).
    """
    targets_of: dict[str, set[str]] = defaultdict(set)
    for target, subject in open_pairs:
        targets_of[subject].add(target)
    candidates = sorted({t for s in fails for t in targets_of.get(s, ())})
    if len(candidates) > 12:  # too many to try every set: take what we know
        return (known_missing & set(candidates)) or set(candidates), True
    solutions: list[set[str]] = []
    for size in range(len(candidates) + 1):
        for combo in itertools.combinations(candidates, size):
            chosen = set(combo)
            if all(len(ts & chosen) == fails.get(s, 0) for s, ts in targets_of.items()):
                solutions.append(chosen)
    if not solutions:
        return (known_missing & set(candidates)) or set(candidates), True
    solutions.sort(key=lambda x: (-len(x & known_missing), len(x)))
    return solutions[0], len(solutions) > 1


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def _reason(errors: Any) -> str:
    out: list[str] = []
    stack = [errors]
    while stack:
        value = stack.pop(0)
        if isinstance(value, str) and value:
            out.append(value)
        elif isinstance(value, list):
            stack[0:0] = value
    return "; ".join(out) or "Kit refused this row without saying why."


class KitV4:
    """A Kit account over API v4. One instance per account; close it with `aclose()`."""

    kind = PlatformKind.KIT_V4

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
    ) -> None:
        if account.auth not in (AuthKind.OAUTH, AuthKind.API_KEY):
            raise ValueError(f"Kit API v4 signs in with OAuth or a v4 API key, not {account.auth.value}.")
        self.account = account
        self._caps = kit_v4_capabilities(account.auth)
        if auth is None:
            header = (
                {"Authorization": f"Bearer {credentials.token}"}
                if account.auth == AuthKind.OAUTH
                else {"X-Kit-Api-Key": credentials.token}
            )
            auth = HeaderAuth(header)
        self._http = Transport(
            account.base_url,
            limiter=limiter or limiter_for(credentials.token, self._caps.rate, scope="kit-v4"),
            messages=kit_messages,
            platform_name="Kit",
            secrets=credentials.secrets(),
            auth=auth,
            transport=transport,
            timeout=timeout,
            retry=retry,
            sleep=sleep,
        )
        # What lookups taught us, so a field update need not fetch the subscriber again.
        self._emails: dict[str, str] = {}  # subscriber id -> email address
        self._fields: dict[str, dict[str, Any]] = {}  # subscriber id -> custom field values
        self._size: int | None = None  # subscribers in the account, asked once (see _listing_is_cheaper)
        # Every email -> id pair any answer showed (lookups, listings, a tag's or form's members), so
        # an email whose subscriber was already read costs no request.
        self._directory: dict[str, str] = {}
        self._tag_members = Memberships(self._list_tag_members)

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

    # -- reading ----------------------------------------------------------------------------------

    async def whoami(self) -> AccountInfo:
        body = (await self._http.get("/v4/account")).body or {}
        account = body.get("account") or {}
        user = body.get("user") or {}
        email = account.get("primary_email_address") or user.get("email") or ""
        return AccountInfo(name=account.get("name") or email or "Kit account", detail=email)

    async def list_targets(self, kind: TargetKind) -> list[Target]:
        path, key = _LIST_PATHS[kind]
        params = {"status": "all"} if kind == TargetKind.FORM else {}
        targets: list[Target] = []
        async for record in self._pages(path, key, params):
            targets.append(self._target(kind, record))
        return targets

    async def _pages(
        self, path: str, key: str, params: dict[str, Any] | None = None, *, max_pages: int | None = None
    ) -> Any:
        """Every record of a cursor-paged list (see `_bodies`)."""
        async for body in self._bodies(path, params, max_pages=max_pages):
            for record in body.get(key) or []:
                yield record

    async def _bodies(
        self, path: str, params: dict[str, Any] | None = None, *, max_pages: int | None = None
    ) -> Any:
        """Every page of a cursor-paged list: `after=end_cursor` until `has_next_page` is false.

        With `max_pages`, raises `_TooLong` rather than asking for one more page."""
        after: str | None = None
        seen_cursors: set[str] = set()
        pages = 0
        while True:
            if max_pages is not None and pages >= max_pages:
                raise _TooLong
            pages += 1
            query: dict[str, Any] = {**(params or {}), "per_page": PAGE_SIZE}
            if after:
                query["after"] = after
            body = (await self._http.get(path, params=query)).body or {}
            yield body if isinstance(body, dict) else {}
            page = (body.get("pagination") if isinstance(body, dict) else None) or {}
            after = page.get("end_cursor")
            if not page.get("has_next_page") or not after or after in seen_cursors:
                return
            seen_cursors.add(after)

    @staticmethod
    def _target(kind: TargetKind, record: dict[str, Any]) -> Target:
        if kind == TargetKind.FIELD:
            return Target(
                kind,
                str(record["id"]),
                record.get("label") or record.get("key") or "",
                key=record.get("key") or "",
            )
        count = record.get("subscriber_count")
        return Target(
            kind,
            str(record["id"]),
            record.get("name") or "",
            subscriber_count=count if isinstance(count, int) else None,
        )

    async def members(self, target: Target, status: str = "active") -> AsyncIterator[MemberPage]:
        """`GET /v4/tags/{id}/subscribers` (`/v4/forms/{id}/subscribers`), `status` filtered,
        1,000 a cursor page; the emails it shows are kept, so writing to them needs no lookups."""
        where = "tags" if target.kind is TargetKind.TAG else "forms"
        async for body in self._bodies(f"/v4/{where}/{target.id}/subscribers", {"status": status}):
            people: list[tuple[str, str]] = []
            for record in body.get("subscribers") or []:
                if isinstance(record, dict) and record.get("id") is not None:
                    email = str(record.get("email_address") or "")
                    people.append((str(record["id"]), email))
                    if email:
                        self._directory[normalise_email(email)] = str(record["id"])
            total = target.subscriber_count if status in ("all", "active") else None
            yield MemberPage(people, total)

    async def create_tag(self, name: str) -> Target:
        body = (await self._http.request("POST", "/v4/tags", json={"name": name})).body or {}
        tag = body.get("tag") or {}
        return Target(TargetKind.TAG, str(tag["id"]), tag.get("name") or name)

    async def plan_resolution(self, emails: Sequence[str]) -> ResolutionPlan:
        """One lookup per email, or the whole account read 1,000 subscribers a request, whichever
        costs fewer requests; the account's size comes from one `include_total_count` request."""
        todo = [e for e in unique_emails(emails) if e not in self._directory]
        if not todo:
            return nothing_to_resolve()
        if len(todo) == 1:
            return lookups(1)  # asking the account's size would cost as much
        total = await self._account_size()
        if total is None:
            return lookups(len(todo), probe_requests=1)
        return cheapest(
            [
                lookups(len(todo), probe_requests=1),
                listing(len(todo), total, PAGE_SIZE, "subscribers", probe_requests=1),
            ]
        )

    async def _account_size(self) -> int | None:
        """Subscribers in any state: `GET /v4/subscribers?status=all&include_total_count=true`."""
        params = {"status": "all", "per_page": 1, "include_total_count": "true"}
        body = (await self._http.get("/v4/subscribers", params=params)).body or {}
        total = ((body.get("pagination") if isinstance(body, dict) else None) or {}).get("total_count")
        return total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None

    async def resolve(
        self,
        emails: Sequence[str],
        *,
        plan: ResolutionPlan | None = None,
        progress: ResolveProgress | None = None,
    ) -> dict[str, str | None]:
        """Email -> subscriber id, as `plan` says (see `plan_resolution`); without a plan, emails an
        earlier answer showed cost nothing and the rest are looked up one by one. A fresh
        plan asks Kit about every email again (for an id Kit has since refused)."""
        report = progress or no_progress
        fresh = plan is not None and plan.fresh
        known: dict[str, str | None] = {}
        if not fresh:
            known = answered_before(emails, self._directory)
            if known:
                report(0, None, known)
        rest = [e for e in emails if e not in known]
        if not rest:
            return known
        if plan is not None and plan.method is ResolutionMethod.LISTING:
            return {**known, **await self._match_listing(rest, report, plan.population)}
        return {**known, **await self._look_up_each(rest, report)}

    async def _look_up_each(self, emails: Sequence[str], report: ResolveProgress) -> dict[str, str | None]:
        done = 0

        async def one(email: str) -> str | None:
            nonlocal done
            wanted = normalise_email(email)
            body = (
                await self._http.get("/v4/subscribers", params={"email_address": wanted, "status": "all"})
            ).body or {}
            found: str | None = None
            for subscriber in body.get("subscribers") or []:
                if normalise_email(str(subscriber.get("email_address", ""))) == wanted:
                    self._remember(subscriber)
                    found = str(subscriber["id"])
                    break
            done += 1
            report(done, len(emails), {email: found})
            return found

        found = await bounded(one, list(emails), LOOKUP_CONCURRENCY)
        return dict(zip(emails, found, strict=True))

    async def _match_listing(
        self, emails: Sequence[str], report: ResolveProgress, total: int | None = None
    ) -> dict[str, str | None]:
        """Read every subscriber (any state), 1,000 a request, matching `emails` as pages arrive;
        stops early once every email is found. An email the whole account lacks is None."""
        matcher = EmailMatcher(emails)
        read = 0
        params = {"status": "all"}  # the count came with the plan; asking again slows every page
        async for body in self._bodies("/v4/subscribers", params):
            page = [
                s for s in body.get("subscribers") or [] if isinstance(s, dict) and s.get("id") is not None
            ]
            pairs = []
            for subscriber in page:
                if subscriber.get("email_address"):
                    pairs.append((str(subscriber["email_address"]), str(subscriber["id"])))
            found = matcher.take(pairs)
            if found:  # kept only for the emails asked: the rest of the account is not ours to hold
                keys = {normalise_email(e) for e in found}
                for subscriber in page:
                    if normalise_email(str(subscriber.get("email_address") or "")) in keys:
                        self._remember(subscriber)
            count = (body.get("pagination") or {}).get("total_count")
            total = count if isinstance(count, int) else total
            read += len(page)
            report(read, total, found)
            if matcher.complete:
                return matcher.answers(complete_listing=False)
        return matcher.answers(complete_listing=True)

    def _remember(self, subscriber: dict[str, Any]) -> None:
        sid = str(subscriber.get("id"))
        if subscriber.get("email_address"):
            self._emails[sid] = str(subscriber["email_address"])
            self._directory[normalise_email(str(subscriber["email_address"]))] = sid
        if isinstance(subscriber.get("fields"), dict):
            self._fields[sid] = dict(subscriber["fields"])

    async def read_state(self, action: Action, items: Sequence[WorkItem]) -> dict[StateKey, str | None]:
        """Now: "yes"/"no" for tag and form membership, the field's value for set-field; None if unknown."""
        if action in (Action.TAG, Action.UNTAG):
            subjects = sorted({i.subject for i in items if i.subject.isdigit()})
            tag_sets = await bounded(self._subscriber_tags, subjects, LOOKUP_CONCURRENCY)
            by_subject = dict(zip(subjects, tag_sets, strict=True))
            return {
                state_key(i): None
                if by_subject.get(i.subject) is None
                else _yes(i.target.id in (by_subject[i.subject] or ()))
                for i in items
            }
        if action == Action.ADD_TO_FORM:
            forms = sorted({i.target.id for i in items})
            members = await bounded(self._form_members, forms, LOOKUP_CONCURRENCY)
            by_form = dict(zip(forms, members, strict=True))
            return {
                state_key(i): None
                if by_form.get(i.target.id) is None
                else _yes(i.subject in (by_form[i.target.id] or ()))
                for i in items
            }
        subjects = sorted({i.subject for i in items if i.subject.isdigit()})
        found = await bounded(self._subscriber, subjects, LOOKUP_CONCURRENCY)
        fields = {s: (sub or {}).get("fields") for s, sub in zip(subjects, found, strict=True)}
        state: dict[StateKey, str | None] = {}
        for i in items:
            values = fields.get(i.subject)
            value = values.get(i.target.key) if isinstance(values, dict) else None
            state[state_key(i)] = None if value is None else str(value)
        return state

    async def state_before(self, action: Action, items: Sequence[WorkItem]) -> dict[StateKey, str | None]:
        """Before a write (`ReadsStateBeforeWrite`): tag membership from the member lists the write
        reads anyway (one listing per tag, kept current by our writes); a field's value from the
        subscriber the per-row write reads anyway. Not for bulk set-field: that would cost a read per
        row for a write of a hundred."""
        if action in (Action.TAG, Action.UNTAG):
            before = await self._members_before([i for i in items if i.subject.isdigit()])
            return {
                state_key(i): _yes(before[(i.target.id, i.subject)])
                for i in items
                if (i.target.id, i.subject) in before
            }
        if action != Action.SET_FIELD or self._caps.items_per_request > 1:
            return {}
        state: dict[StateKey, str | None] = {}
        for item in items:
            if not item.subject.isdigit():
                continue
            if item.subject not in self._fields and await self._subscriber(item.subject) is None:
                continue
            value = self._fields.get(item.subject, {}).get(item.target.key)
            state[state_key(item)] = "" if value is None else str(value)  # read: empty is known
        return state

    async def _subscriber_tags(self, subject: str) -> set[str] | None:
        try:
            return {str(t["id"]) async for t in self._pages(f"/v4/subscribers/{subject}/tags", "tags")}
        except NotFoundError:
            return None

    async def _list_tag_members(self, tag_id: str) -> set[str] | None:
        """Every subscriber (any state) who has the tag; None when it has more than `MEMBERS_CAP`,
        is gone, or cannot be read now (the write then reports what Kit's answer shows)."""
        ids: set[str] = set()
        try:
            async for record in self._pages(
                f"/v4/tags/{tag_id}/subscribers",
                "subscribers",
                {"status": "all"},
                max_pages=MEMBERS_MAX_REQUESTS,
            ):
                if isinstance(record, dict) and record.get("id") is not None:
                    ids.add(str(record["id"]))
                    if record.get("email_address"):  # read anyway: its members cost no lookup
                        self._directory[normalise_email(str(record["email_address"]))] = str(record["id"])
                    if len(ids) > MEMBERS_CAP:
                        return None
        except AuthenticationError:
            raise  # GaveUpError too: nothing is written, the runner reports the batch as not sent
        except (_TooLong, ApiError):
            return None
        return ids

    async def _members_before(self, items: Sequence[WorkItem]) -> dict[tuple[str, str], bool]:
        """(tag id, subscriber id) -> whether the subscriber has the tag now, for the items whose
        tag's members are known (read first if need be; a tag Kit says is longer than the cap is not
        read at all)."""
        before: dict[tuple[str, str], bool] = {}
        for target in {i.target.id: i.target for i in items}.values():
            count = target.subscriber_count
            if count is not None and count > MEMBERS_CAP and self._tag_members.known(target.id) is None:
                continue
            members = await self._tag_members.members(target.id)
            if members is None:
                continue
            for item in items:
                if item.target.id == target.id:
                    before[(target.id, item.subject)] = item.subject in members
        return before

    def _judge_membership(
        self, action: Action, results: list[ItemResult], before: Mapping[tuple[str, str], bool]
    ) -> list[ItemResult]:
        """Outcome and previous state of each written row from the members known before the write;
        the member sets follow what the write did."""
        out: list[ItemResult] = []
        tagging = action == Action.TAG
        for r in results:
            key = (r.item.target.id, r.item.subject)
            had = before.get(key)
            if had is None or r.outcome not in (Outcome.SUCCEEDED, Outcome.UNCHANGED):
                out.append(r)
                continue
            self._tag_members.note(key[0], key[1], has=tagging)
            changed = had != tagging
            outcome = Outcome.SUCCEEDED if changed else Outcome.UNCHANGED
            out.append(replace(r, outcome=outcome, previous=_yes(had)))
        return out

    def _forget_members(self, items: Sequence[WorkItem]) -> None:
        """A write whose effect is unknown (no usable answer): read those tags again before trusting them."""
        for target_id in {i.target.id for i in items}:
            self._tag_members.forget(target_id)

    async def _form_members(self, form_id: str) -> set[str] | None:
        ids: set[str] = set()
        try:
            async for s in self._pages(f"/v4/forms/{form_id}/subscribers", "subscribers", {"status": "all"}):
                ids.add(str(s["id"]))
                if s.get("email_address"):  # read anyway: its members cost no lookup
                    self._directory[normalise_email(str(s["email_address"]))] = str(s["id"])
        except NotFoundError:
            return None
        return ids

    async def _subscriber(self, subject: str) -> dict[str, Any] | None:
        try:
            body = (await self._http.get(f"/v4/subscribers/{subject}")).body or {}
        except NotFoundError:
            return None
        subscriber = body.get("subscriber")
        if isinstance(subscriber, dict):
            self._remember(subscriber)
            return subscriber
        return None

    # -- writing ----------------------------------------------------------------------------------

    async def apply(
        self, action: Action, items: Sequence[WorkItem], value: str | None = None
    ) -> list[ItemResult]:
        """Write one batch. Subjects are subscriber ids; an email as subject is looked up first.

        Kit's write endpoints take ids only, but the capabilities list emails as an identifier the
        user may give, so a caller may hand emails straight through: they are resolved here (one
        paced lookup each) and an unknown email ends SKIPPED, never sent.
        """
        if not items:
            return []
        results: dict[int, ItemResult] = {}
        originals: dict[int, WorkItem] = {}  # id(sent item) -> the caller's item
        sendable: list[WorkItem] = []
        emails = sorted({i.subject for i in items if not i.subject.isdigit() and "@" in i.subject})
        found = await self.resolve(emails) if emails else {}
        for item in items:
            subject = item.subject if item.subject.isdigit() else found.get(item.subject)
            if subject is not None:
                sent = item if subject == item.subject else replace(item, subject=subject)
                originals[id(sent)] = item
                sendable.append(sent)
            elif item.subject in found:
                results[id(item)] = ItemResult(
                    item, Outcome.SKIPPED, "Not found on Kit: no subscriber with this email"
                )
            else:
                reason = f"“{item.subject or item.identifier}” is not a Kit subscriber id or email address."
                results[id(item)] = ItemResult(item, Outcome.FAILED, reason)
        written: list[ItemResult] = []
        if sendable and self._caps.items_per_request > 1:
            for start in range(0, len(sendable), BULK_LIMIT):
                written += await self._apply_bulk(action, sendable[start : start + BULK_LIMIT], value)
        elif sendable and action == Action.SET_FIELD and len({i.subject for i in sendable}) < len(sendable):
            written = await self._set_fields_together(sendable, value)  # one PUT a subscriber
        elif sendable:
            written = await bounded(lambda i: self._apply_one(action, i, value), sendable, LOOKUP_CONCURRENCY)
        for r in written:
            item = originals[id(r.item)]
            results[id(item)] = r if r.item is item else replace(r, item=item)
        return [results[id(i)] for i in items]

    async def create(self, people: Sequence[NewPerson]) -> list[Created]:
        """OAuth: `POST /v4/bulk/subscribers`, 100 a request, per-item failures ("Email address is
        invalid"); API key: `POST /v4/subscribers`, one each. Both upsert (an existing subscriber's
        first name is overwritten): only emails not found are sent here."""
        if not people:
            return []
        if self._caps.creates_per_request > 1:
            out: list[Created] = []
            for start in range(0, len(people), BULK_LIMIT):
                out += await self._create_bulk(people[start : start + BULK_LIMIT])
            return out
        return await bounded(self._create_one, list(people), LOOKUP_CONCURRENCY)

    @staticmethod
    def _new_subscriber(person: NewPerson) -> dict[str, Any]:
        body: dict[str, Any] = {"email_address": person.email, "state": "active"}
        if person.first_name:
            body["first_name"] = person.first_name
        return body

    async def _create_bulk(self, people: Sequence[NewPerson]) -> list[Created]:
        payload = {"subscribers": [self._new_subscriber(p) for p in people], "callback_url": None}
        try:
            reply = await self._http.request("POST", "/v4/bulk/subscribers", json=payload)
        except AuthenticationError:
            raise
        except GaveUpError:
            raise
        except ApiError as exc:
            reason = _reason(exc.messages) or str(exc)
            return [Created(p.email, None, reason) for p in people]
        if reply.status == 202:
            reason = "Kit queued the creation for background processing; retry the row."
            return [Created(p.email, None, reason) for p in people]
        body = reply.body if isinstance(reply.body, dict) else {}
        made: dict[str, str] = {}
        for sub in body.get("subscribers") or []:
            if isinstance(sub, dict) and sub.get("email_address") and sub.get("id") is not None:
                self._remember(sub)
                made[normalise_email(str(sub["email_address"]))] = str(sub["id"])
        failed = [f for f in body.get("failures") or [] if isinstance(f, dict)]
        reason = _reason(failed[0].get("errors")) if len(failed) == 1 else ""
        out: list[Created] = []
        for p in people:
            subject = made.get(normalise_email(p.email))
            if subject is not None:
                out.append(Created(p.email, subject))
            else:
                why = reason or (
                    "; ".join(sorted({_reason(f.get("errors")) for f in failed})) or "Kit did not create it"
                )
                out.append(Created(p.email, None, why))
        return out

    async def _create_one(self, person: NewPerson) -> Created:
        try:
            reply = await self._http.request("POST", "/v4/subscribers", json=self._new_subscriber(person))
        except AuthenticationError:
            raise
        except GaveUpError:
            raise
        except ApiError as exc:
            return Created(person.email, None, _reason(exc.messages) or str(exc))
        sub = (reply.body or {}).get("subscriber") if isinstance(reply.body, dict) else None
        if not isinstance(sub, dict) or sub.get("id") is None:
            return Created(person.email, None, "Kit did not say the new subscriber's id")
        self._remember(sub)
        return Created(person.email, str(sub["id"]))

    async def _apply_bulk(
        self, action: Action, items: Sequence[WorkItem], value: str | None
    ) -> list[ItemResult]:
        tags = action in (Action.TAG, Action.UNTAG)
        before = await self._members_before(items) if tags else {}
        unread: dict[str, ApiError | GaveUpError] = {}
        if action == Action.SET_FIELD:
            unread = await self._fields_before(items)
        not_read = [
            ItemResult(i, Outcome.FAILED, f"Not written: its value could not be read first ({why})")
            for i in items
            if (why := unread.get(i.subject)) is not None
        ]
        items = [i for i in items if i.subject not in unread]
        if not items:
            # Nothing could be read: the platform is refusing, and the runner must see it as such.
            gave_up = next((e for e in unread.values() if isinstance(e, GaveUpError)), None)
            if gave_up is not None:
                raise gave_up
            return not_read
        if tags:
            path = "/v4/bulk/tags/subscribers"
            payload: dict[str, Any] = {
                "taggings": [{"tag_id": int(i.target.id), "subscriber_id": int(i.subject)} for i in items]
            }
            method = "POST" if action == Action.TAG else "DELETE"
        elif action == Action.ADD_TO_FORM:
            path, method = "/v4/bulk/forms/subscribers", "POST"
            payload = {
                "additions": [{"form_id": int(i.target.id), "subscriber_id": int(i.subject)} for i in items]
            }
        else:
            path, method = "/v4/bulk/custom_fields/subscribers", "POST"
            payload = {
                "custom_field_values": [
                    {
                        "subscriber_id": int(i.subject),
                        "subscriber_custom_field_id": int(i.target.id),
                        "value": (i.value if i.value is not None else value) or "",
                    }
                    for i in items
                ],
                "callback_url": None,
            }
        try:
            sent_at = datetime.now(UTC)
            reply = await self._http.request(method, path, json=payload)
        except NotFoundError as exc:
            return [
                ItemResult(i, Outcome.FAILED, _reason(exc.messages) if exc.messages else "Not Found")
                for i in items
            ]
        except AuthenticationError:
            raise
        except GaveUpError:
            if tags:
                self._forget_members(items)  # the write may have landed before the answer was lost
            raise
        except ApiError as exc:
            if tags:
                self._forget_members(items)
            return [ItemResult(i, Outcome.FAILED, _reason(exc.messages) or str(exc)) for i in items]
        if reply.status == 202:
            if tags:
                self._forget_members(items)
            reason = (
                "Kit queued this batch for background processing and did not report each row; "
                "check the subscriber in Kit or retry the row."
            )
            return [ItemResult(i, Outcome.FAILED, reason) for i in items]
        failures, confirmed = self._read_bulk_reply(action, reply)
        absent: set[str] = set()
        if confirmed is None:
            absent = await self._absent_subjects(items, failures)
        missing = await self._missing_targets(action, items, failures)
        results = map_bulk_results(
            items,
            failures,
            confirmed,
            missing_targets=missing,
            unconfirmed_reason="Kit did not confirm this row; retry it.",
            absent=absent,
        )
        results = [
            replace(r, subject_missing=True)
            if r.outcome is Outcome.FAILED and SUBSCRIBER_MISSING in r.reason.lower()
            else r
            for r in results
        ]
        if tags:
            results = self._judge_membership(action, results, before)
        if action == Action.SET_FIELD:
            results = self._judge_fields(results, value)
        if action == Action.TAG:
            # Tags too long to read: judge who already had it by `tagged_at`, as Kit's answer shows.
            unjudged = [k for k, r in enumerate(results) if (r.item.target.id, r.item.subject) not in before]
            if unjudged:
                judged = mark_already_tagged([results[k] for k in unjudged], reply.body, sent_at)
                for k, r in zip(unjudged, judged, strict=True):
                    results[k] = r
        return not_read + results

    async def _fields_before(self, items: Sequence[WorkItem]) -> dict[str, ApiError | GaveUpError]:
        """Each subscriber's fields before a bulk write, so its undo restores them: known from the
        listing or lookup that resolved it, else read, from the account's listing when that costs
        fewer requests than one read a subscriber. Returns the subscribers that could not be read,
        with why: a write its undo could not restore is not made (the row fails and can be retried),
        and one refused read does not sink the batch."""
        unknown = await self._fields_from_listing(sorted({i.subject for i in items}))
        unread: dict[str, ApiError | GaveUpError] = {}

        async def read(subject: str) -> None:
            try:
                await self._subscriber(subject)
            except (AuthenticationError, ConnectionFailedError):
                raise
            except (GaveUpError, ApiError) as exc:
                unread[subject] = exc

        await bounded(read, unknown, LOOKUP_CONCURRENCY)
        return unread

    async def read_ahead(self, action: Action, subjects: Sequence[str]) -> None:
        """A set-field job (`ReadsAheadOfWrites`): every old value (and, for the API key's PUT, the
        email) from one account listing when that is cheaper than a read a subscriber, so the
        batches write without reading."""
        if action is Action.SET_FIELD:
            await self._fields_from_listing(subjects)

    async def _fields_from_listing(self, subjects: Sequence[str]) -> list[str]:
        """Remember the fields of `subjects` from the account's listing when that costs fewer
        requests than reading each; returns those still unknown (to read one by one)."""
        unknown = [s for s in subjects if s not in self._fields]
        if len(unknown) > 1:
            try:
                if await self._listing_is_cheaper(len(unknown)):
                    await self._remember_from_listing(set(unknown))
            except (AuthenticationError, ConnectionFailedError):
                raise
            except (GaveUpError, ApiError) as exc:
                log.info("Reading the subscribers' fields from the listing failed (%s); reading each", exc)
        return [s for s in unknown if s not in self._fields]

    async def _listing_is_cheaper(self, wanted: int) -> bool:
        """Whether reading the whole account, 1,000 a page, costs fewer requests than `wanted` reads
        (the account's size is asked once a session)."""
        if self._size is None:
            self._size = await self._account_size()
        return self._size is not None and -(-self._size // PAGE_SIZE) < wanted

    async def _remember_from_listing(self, wanted: set[str]) -> None:
        """Keep the fields of `wanted` from the account's listing (only theirs: the rest of the
        account is not ours to hold), stopping once all are seen."""
        left = set(wanted)
        async for body in self._bodies("/v4/subscribers", {"status": "all"}):
            for subscriber in body.get("subscribers") or []:
                if isinstance(subscriber, dict) and str(subscriber.get("id")) in left:
                    self._remember(subscriber)
                    left.discard(str(subscriber["id"]))
            if not left:
                return

    def _judge_fields(self, results: list[ItemResult], value: str | None) -> list[ItemResult]:
        """The previous value of each written field (from `_fields_before`), and unchanged when the
        field already held the value; the cache then holds the new value."""
        out: list[ItemResult] = []
        for r in results:
            item = r.item
            written = (item.value if item.value is not None else value) or ""
            fields = self._fields.get(item.subject)
            if r.outcome is not Outcome.SUCCEEDED or fields is None:
                out.append(r)
                continue
            before = fields.get(item.target.key)
            previous = "" if before is None else str(before)
            fields[item.target.key] = written
            outcome = Outcome.UNCHANGED if previous == written else Outcome.SUCCEEDED
            out.append(replace(r, outcome=outcome, previous=previous))
        return out

    async def _absent_subjects(self, items: Sequence[WorkItem], failures: Sequence[BulkFailure]) -> set[str]:
        """Which subscribers do not exist, when a list-only-failures reply nulled their ids ambiguously.

        Bulk untag says "Subscriber does not exist" with `subscriber_id: null` and lists no successes,
        so with several candidates for one target we ask Kit about each (only then: it costs requests).
        """
        nulled: dict[str, int] = defaultdict(int)
        for f in failures:
            if f.subject is None and f.target is not None:
                nulled[f.target] += 1
        named = {(f.target, f.subject) for f in failures}
        to_check: set[str] = set()
        for target, count in nulled.items():
            candidates = {
                i.subject for i in items if i.target.id == target and (target, i.subject) not in named
            }
            if len(candidates) > count:
                to_check |= candidates - set(self._emails)  # a subscriber we have looked up exists
        ordered = sorted(to_check)
        found = await bounded(self._subscriber, ordered, LOOKUP_CONCURRENCY)
        return {s for s, sub in zip(ordered, found, strict=True) if sub is None}

    async def _missing_targets(
        self, action: Action, items: Sequence[WorkItem], failures: Sequence[BulkFailure]
    ) -> set[str]:
        """Which tags or forms are gone, when "does not exist" failures nulled the target ambiguously.

        Only asked when the reply alone fits more than one answer (several targets per subscriber),
        one cheap request per candidate (a one-item page of its subscribers: 404 when it is gone).
        """
        fails: dict[str, int] = defaultdict(int)
        for f in failures:
            if f.target is None and f.subject is not None:
                fails[f.subject] += 1
        if not fails or action == Action.SET_FIELD:
            return set()
        named = {(f.target, f.subject) for f in failures if f.target is not None}
        pairs = [(i.target.id, i.subject) for i in items if (i.target.id, i.subject) not in named]
        guess, ambiguous = missing_targets_from(pairs, fails)
        if not ambiguous:
            return guess
        candidates = sorted({t for t, s in pairs if s in fails})
        base = "/v4/forms" if action == Action.ADD_TO_FORM else "/v4/tags"

        async def gone(target: str) -> bool:
            try:
                await self._http.get(f"{base}/{target}/subscribers", params={"per_page": 1})
            except NotFoundError:
                return True
            return False

        answers = await bounded(gone, candidates, LOOKUP_CONCURRENCY)
        return {t for t, is_gone in zip(candidates, answers, strict=True) if is_gone}

    def _read_bulk_reply(
        self, action: Action, reply: Reply
    ) -> tuple[list[BulkFailure], set[tuple[str, str]] | set[str] | None]:
        body = reply.body if isinstance(reply.body, dict) else {}
        failures: list[BulkFailure] = []
        confirmed: set[tuple[str, str]] | set[str] | None
        if action in (Action.TAG, Action.UNTAG):
            for f in body.get("failures") or []:
                echo = (f or {}).get("tagging") or {}
                failures.append(
                    BulkFailure(
                        _id(echo.get("tag_id")), _id(echo.get("subscriber_id")), _reason(f.get("errors"))
                    )
                )
            confirmed = (
                None
                if action == Action.UNTAG
                else {str(s.get("id")) for s in body.get("subscribers") or [] if s}
            )
        elif action == Action.ADD_TO_FORM:
            for f in body.get("failures") or []:
                echo = (f or {}).get("subscription") or {}
                failures.append(
                    BulkFailure(
                        _id(echo.get("form_id")), _id(echo.get("subscriber_id")), _reason(f.get("errors"))
                    )
                )
            confirmed = {str(s.get("id")) for s in body.get("subscribers") or [] if s}
        else:
            for f in body.get("failures") or []:
                echo = (f or {}).get("custom_field_value") or {}
                failures.append(
                    BulkFailure(
                        _id(echo.get("subscriber_custom_field_id")),
                        _id(echo.get("subscriber_id")),
                        _reason(f.get("errors")),
                    )
                )
            confirmed = {
                (str(v.get("subscriber_custom_field_id")), str(v.get("subscriber_id")))
                for v in body.get("custom_field_values") or []
                if v
            }
        return failures, confirmed

    async def _apply_one(self, action: Action, item: WorkItem, value: str | None) -> ItemResult:
        tag_or_form = item.target.id
        try:
            if action == Action.TAG:
                reply = await self._http.request(
                    "POST", f"/v4/tags/{tag_or_form}/subscribers/{item.subject}", json={}
                )
                self._tag_members.note(tag_or_form, item.subject, has=True)
                return _created_or_unchanged(item, reply)  # 201/200 say it exactly
            if action == Action.UNTAG:
                before = await self._members_before([item])
                await self._http.request("DELETE", f"/v4/tags/{tag_or_form}/subscribers/{item.subject}")
                # Kit answers 204 whether or not the tag was there: the members read before say which.
                return self._judge_membership(action, [ItemResult(item, Outcome.SUCCEEDED)], before)[0]
            if action == Action.ADD_TO_FORM:
                reply = await self._http.request(
                    "POST", f"/v4/forms/{tag_or_form}/subscribers/{item.subject}", json={}
                )
                return _created_or_unchanged(item, reply)
            return await self._set_field(item, (item.value if item.value is not None else value) or "")
        except NotFoundError as exc:
            return ItemResult(item, Outcome.FAILED, _not_found(exc, item), subject_missing=True)
        except AuthenticationError:
            raise
        except GaveUpError:
            if action in (Action.TAG, Action.UNTAG):
                self._forget_members([item])  # the write may have landed before the answer was lost
            raise
        except ApiError as exc:
            if action in (Action.TAG, Action.UNTAG):
                self._forget_members([item])
            return ItemResult(item, Outcome.FAILED, _reason(exc.messages) if exc.messages else str(exc))

    async def _set_fields_together(self, items: Sequence[WorkItem], value: str | None) -> list[ItemResult]:
        """API key: each subscriber's fields in one `PUT /v4/subscribers/{id}` (`fields: {key: value}`)."""
        by_subject: dict[str, list[WorkItem]] = defaultdict(list)
        for item in items:
            by_subject[item.subject].append(item)

        async def one(group: list[WorkItem]) -> list[ItemResult]:
            subject = group[0].subject
            try:
                email = self._emails.get(subject)
                fields = self._fields.get(subject)
                if email is None or fields is None:
                    subscriber = await self._subscriber(subject)
                    if subscriber is None:
                        return [ItemResult(i, Outcome.FAILED, _not_found(None, i)) for i in group]
                    email = str(subscriber.get("email_address", ""))
                    fields = self._fields.get(subject, {})
                wanted = {i.target.key: (i.value if i.value is not None else value) or "" for i in group}
                previous = {
                    k: (("" if k in fields else None) if fields.get(k) is None else str(fields.get(k)))
                    for k in wanted
                }
                body = {"email_address": email, "fields": wanted}
                reply = await self._http.request("PUT", f"/v4/subscribers/{subject}", json=body)
            except NotFoundError as exc:
                return [
                    ItemResult(i, Outcome.FAILED, _not_found(exc, i), subject_missing=True) for i in group
                ]
            except AuthenticationError:
                raise
            except GaveUpError:
                raise
            except ApiError as exc:
                reason = _reason(exc.messages) if exc.messages else str(exc)
                return [ItemResult(i, Outcome.FAILED, reason) for i in group]
            updated = (reply.body or {}).get("subscriber") if isinstance(reply.body, dict) else None
            if isinstance(updated, dict):
                self._remember(updated)
            else:
                self._fields.setdefault(subject, {}).update(wanted)
            return [
                ItemResult(
                    i,
                    Outcome.UNCHANGED
                    if previous[i.target.key] == wanted[i.target.key]
                    else Outcome.SUCCEEDED,
                    previous=previous[i.target.key],
                )
                for i in group
            ]

        groups = await bounded(one, list(by_subject.values()), LOOKUP_CONCURRENCY)
        return [r for group in groups for r in group]

    async def _set_field(self, item: WorkItem, value: str) -> ItemResult:
        key = item.target.key
        email = self._emails.get(item.subject)
        fields = self._fields.get(item.subject)
        if email is None or fields is None:
            subscriber = await self._subscriber(item.subject)
            if subscriber is None:
                return ItemResult(item, Outcome.FAILED, _not_found(None, item))
            email = str(subscriber.get("email_address", ""))
            fields = self._fields.get(item.subject, {})
        before = fields.get(key)
        # A field Kit lists as null is empty (restoring "" clears it); one it does not list is unknown.
        previous = ("" if key in fields else None) if before is None else str(before)
        body = {"email_address": email, "fields": {key: value}}
        reply = await self._http.request("PUT", f"/v4/subscribers/{item.subject}", json=body)
        updated = (reply.body or {}).get("subscriber") if isinstance(reply.body, dict) else None
        if isinstance(updated, dict):
            self._remember(updated)
        else:
            self._fields.setdefault(item.subject, {})[key] = value
        outcome = Outcome.UNCHANGED if previous == value else Outcome.SUCCEEDED
        return ItemResult(item, outcome, previous=previous)


class _TooLong(Exception):
    """A paged list ran past the pages the caller allowed."""


# How far our clock may be ahead of Kit's, and how far apart Kit's timestamps of one request may be.
CLOCK_SKEW = timedelta(seconds=60)
ONE_REQUEST = timedelta(seconds=5)


def mark_already_tagged(results: list[ItemResult], body: Any, sent_at: datetime) -> list[ItemResult]:
    """Bulk tag answers every subscriber alike; its `tagged_at` tells who already had the tag.

    A tagging older than this request (by more than the clock skew), or clearly older than the newest
    tagging of the same answer, was there before: "unchanged", previous "yes". The others were made
    by this request: "succeeded", previous "no". Undo relies on it to leave those subscribers tagged.
    """
    stamps: dict[str, datetime] = {}
    for sub in (body or {}).get("subscribers") or [] if isinstance(body, dict) else []:
        if not isinstance(sub, dict):
            continue
        try:
            stamps[str(sub.get("id"))] = datetime.fromisoformat(
                str(sub.get("tagged_at")).replace("Z", "+00:00")
            )
        except ValueError:
            continue
    if not stamps:
        return results
    newest = max(stamps.values())
    # `tagged_at` does not say which tag: judge only subscribers sent with a single tag.
    targets_of: dict[str, set[str]] = defaultdict(set)
    for r in results:
        targets_of[r.item.subject].add(r.item.target.id)
    out: list[ItemResult] = []
    for r in results:
        at = stamps.get(r.item.subject)
        if r.outcome is not Outcome.SUCCEEDED or at is None or len(targets_of[r.item.subject]) > 1:
            out.append(r)
        elif at.tzinfo is not None and (at < sent_at - CLOCK_SKEW or at < newest - ONE_REQUEST):
            out.append(replace(r, outcome=Outcome.UNCHANGED, previous="yes"))
        else:
            out.append(replace(r, previous="no"))
    return out


def _created_or_unchanged(item: WorkItem, reply: Reply) -> ItemResult:
    """Kit: 201 = it was not there and now is; 200 = it was already there."""
    if reply.status == 201:
        return ItemResult(item, Outcome.SUCCEEDED, previous="no")
    return ItemResult(item, Outcome.UNCHANGED, previous="yes")


def _not_found(exc: NotFoundError | None, item: WorkItem) -> str:
    """Kit's own words ("Not Found"), and what they mean for this row."""
    said = _reason(exc.messages) if exc is not None and exc.messages else "Not Found"
    what = {TargetKind.TAG: "tag", TargetKind.FORM: "form", TargetKind.FIELD: "custom field"}[
        item.target.kind
    ]
    if item.target.kind == TargetKind.FIELD:
        return f"{said}: Kit has no subscriber {item.subject}"
    return f"{said}: Kit has no subscriber {item.subject}, or the {what} no longer exists"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
