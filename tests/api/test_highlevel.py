"""The HighLevel client against the sandbox over real loopback HTTP.

Every bulk request body is validated against `UpdateTagsDTO` of HighLevel's contacts OpenAPI file.
That file lost the bulk endpoint's `{type}` path parameter in 2026 (the path still has the
placeholder, no parameter declares it); the allowed values `add` / `remove` are taken from HighLevel's
own page for the endpoint (seed 003) and the path is checked against the template with them.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from openapi_schema_validator import OAS30Validator

from audience_manager.api.errors import AuthenticationError, NotFoundError
from audience_manager.api.highlevel import (
    NO_ANSWER,
    NOT_FOUND,
    RATE,
    UNUSUAL_ID,
    HighLevel,
    contact_id_notes,
)
from audience_manager.api.pacing import RateLimiter
from audience_manager.api.platform import Platform
from audience_manager.api.transport import RetryPolicy
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.outcomes import Outcome
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.core.work import ItemResult, WorkItem
from audience_manager.sandbox import Faults, ManualClock, Sandbox
from audience_manager.sandbox.server import serve

T = TypeVar("T")
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
BULK_TEMPLATE = "/contacts/bulk/tags/update/{type}"


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    """Real HTTP, with every request kept for the assertions (method, path, headers, JSON body)."""

    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    requests: list[httpx.Request] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def bodies(self, path_start: str) -> list[tuple[str, Any]]:
        return [
            (r.url.path, json.loads(r.content)) for r in self.requests if r.url.path.startswith(path_start)
        ]


@dataclass
class Rig:
    sandbox: Sandbox
    clock: ManualClock
    base_url: str
    recorders: list[Recorder] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.clock.advance(seconds)
        await asyncio.sleep(0)

    def client(
        self,
        *,
        token: str | None = None,
        location: str | None = None,
        version: str = "2021-07-28",
        items_per_request: int = 100,
    ) -> HighLevel:
        creds = self.sandbox.credentials
        account = Account(
            "Studio",
            PlatformKind.HIGHLEVEL,
            AuthKind.PRIVATE_TOKEN,
            base_url=self.base_url,
            location_id=location or creds.highlevel_location,
            api_version=version,
        )
        recorder = Recorder()
        self.recorders.append(recorder)
        return HighLevel(
            account,
            Credentials(token or creds.highlevel_token),
            transport=recorder,
            items_per_request=items_per_request,
            limiter=RateLimiter(RATE, clock=self.clock, sleep=self.sleep),
            retry=RetryPolicy(),
            timeout=10.0,
            sleep=self.sleep,
        )

    @property
    def requests(self) -> list[httpx.Request]:
        return [r for rec in self.recorders for r in rec.requests]

    def bulk_bodies(self) -> list[tuple[str, Any]]:
        return [b for rec in self.recorders for b in rec.bodies("/contacts/bulk/")]


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = ManualClock()
    sandbox = Sandbox(subscribers=50, contacts=600, clock=clock)
    with serve(sandbox, port=0) as base_url:
        yield Rig(sandbox, clock, base_url)


def run(client: HighLevel, work: Callable[[HighLevel], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def tag(name: str) -> Target:
    return Target(TargetKind.TAG, name, name)


def items(subjects: list[str], target: Target, first_row: int = 1) -> list[WorkItem]:
    return [WorkItem(first_row + n, s, s, target) for n, s in enumerate(subjects)]


def outcomes(results: list[ItemResult]) -> list[tuple[int, Outcome, str]]:
    return [(r.item.row, r.outcome, r.reason) for r in results]


def contact_tags(rig: Rig, contact_id: str) -> list[str]:
    return list(rig.sandbox.state.highlevel.contacts[contact_id].tags)


# -- capabilities, headers, account -----------------------------------------------------------------


def test_capabilities(rig: Rig) -> None:
    client = rig.client()
    small = rig.client(items_per_request=25)
    asyncio.run(client.aclose())
    asyncio.run(small.aclose())
    assert isinstance(client, Platform)
    caps = client.capabilities
    assert caps.actions == {Action.TAG, Action.UNTAG, Action.MOVE_TAG, Action.SET_FIELD}
    assert caps.identifiers == {IdentifierKind.CONTACT_ID, IdentifierKind.EMAIL}
    assert caps.items_per_request == 100 and small.capabilities.items_per_request == 25
    assert (caps.rate.requests, caps.rate.per_seconds, caps.rate.daily) == (100, 10.0, 200_000)
    assert caps.ceiling_rows_per_second == pytest.approx(1000.0)
    assert caps.can_remove_all_tags and caps.can_read_membership and caps.can_create_tags
    assert "form" in (caps.why_not(Action.ADD_TO_FORM) or "").lower()
    assert caps.why_not(Action.SET_FIELD) is None


def test_whoami_sends_bearer_version_and_accept(rig: Rig) -> None:
    info = run(rig.client(), lambda c: c.whoami())
    location = rig.sandbox.state.highlevel.locations[rig.sandbox.credentials.highlevel_location]
    assert (info.name, info.detail) == (location.name, location.email)
    request = rig.requests[-1]
    assert request.url.path == f"/locations/{location.id}"
    assert request.headers["Authorization"] == f"Bearer {rig.sandbox.credentials.highlevel_token}"
    assert request.headers["Version"] == "2021-07-28"
    assert request.headers["Accept"] == "application/json"


def test_bad_token_is_an_authentication_error_with_highlevels_words(rig: Rig) -> None:
    with pytest.raises(AuthenticationError) as caught:
        run(rig.client(token="pit-wrong"), lambda c: c.whoami())
    assert caught.value.status == 401 and caught.value.messages == ["Invalid JWT"]
    assert "pit-wrong" not in str(caught.value)


def test_other_location_is_403_and_ends_the_job(rig: Rig) -> None:
    other = next(
        i for i in rig.sandbox.state.highlevel.locations if i != rig.sandbox.credentials.highlevel_location
    )
    with pytest.raises(AuthenticationError) as caught:
        run(rig.client(location=other), lambda c: c.whoami())
    assert caught.value.status == 403
    assert caught.value.messages == ["The token does not have access to this location."]
    with pytest.raises(AuthenticationError):
        contacts = rig.sandbox.known_contact_ids(2)
        run(rig.client(location=other), lambda c: c.apply(Action.TAG, items(contacts, tag("vip"))))


def test_unsupported_version_header_shows_the_400_message(rig: Rig) -> None:
    with pytest.raises(Exception) as caught:
        run(rig.client(version="2099-01-01"), lambda c: c.whoami())
    assert "Version header was not found or is not supported" in str(caught.value)
    assert rig.requests[-1].headers["Version"] == "2099-01-01"


def test_list_and_create_tags_address_tags_by_name(rig: Rig) -> None:
    async def work(c: HighLevel) -> tuple[list[Target], Target, list[Target], list[Target]]:
        listed = await c.list_targets(TargetKind.TAG)
        made = await c.create_tag("Spring Launch")
        return listed, made, await c.list_targets(TargetKind.FORM), await c.list_targets(TargetKind.FIELD)

    listed, made, forms, fields = run(rig.client(), work)
    location = rig.sandbox.state.highlevel.locations[rig.sandbox.credentials.highlevel_location]
    assert {t.name for t in listed} == {t.name for t in location.tags.values()} - {"spring launch"}
    assert len(listed) == 30
    assert all(t.id == t.name and t.kind is TargetKind.TAG for t in listed)
    assert made.id == made.name == "spring launch" and location.find_tag("spring launch") is not None
    assert forms == [] and [(f.name, f.key) for f in fields] == [
        ("Company", "contact.company"),
        ("Plan", "contact.plan"),
    ]


# -- bulk add / remove ------------------------------------------------------------------------------


def test_bulk_add_gives_every_row_its_own_answer(rig: Rig) -> None:
    sb = rig.sandbox
    known = sb.known_contact_ids(3)
    unknown, deleted, foreign = (
        sb.unknown_contact_ids(1),
        sb.deleted_contact_ids(1),
        sb.foreign_contact_ids(1),
    )
    for cid in known:
        assert "webinar 2026-03" not in contact_tags(rig, cid)
    subjects = [*known, unknown[0], deleted[0], foreign[0], "abcdef", known[0]]  # the last repeats row 1
    results = run(rig.client(), lambda c: c.apply(Action.TAG, items(subjects, tag("webinar 2026-03"))))

    assert [r.outcome for r in results] == [Outcome.SUCCEEDED] * 3 + [Outcome.FAILED] * 4 + [
        Outcome.SUCCEEDED
    ]
    reasons = [r.reason for r in results]
    assert reasons[3:6] == ["contact not found", "contact is deleted", "contact does not belong to location"]
    assert reasons[6].startswith("contact id is not a valid firebase id") and UNUSUAL_ID in reasons[6]
    for cid in known:
        assert "webinar 2026-03" in contact_tags(rig, cid)
    previous = json.loads(results[0].previous or "")
    assert previous["tagsAdded"] == ["webinar 2026-03"] and "webinar 2026-03" not in previous["oldTags"]
    assert results[7].previous == results[0].previous  # the repeated id maps to both rows
    [(path, body)] = rig.bulk_bodies()
    assert path == "/contacts/bulk/tags/update/add"
    assert body["contacts"] == subjects[:-1]  # each id once
    assert body["tags"] == ["webinar 2026-03"] and body["locationId"] == sb.credentials.highlevel_location
    assert "removeAllTags" not in body


def test_adding_again_is_unchanged_and_remove_touches_only_that_tag(rig: Rig) -> None:
    cid = rig.sandbox.known_contact_ids(1)[0]
    before = contact_tags(rig, cid)

    async def work(c: HighLevel) -> list[list[ItemResult]]:
        first = await c.apply(Action.TAG, items([cid], tag("hot")))
        again = await c.apply(Action.TAG, items([cid], tag("HOT")))
        removed = await c.apply(Action.UNTAG, items([cid], tag("hot")))
        removed_again = await c.apply(Action.UNTAG, items([cid], tag("hot")))
        return [first, again, removed, removed_again]

    first, again, removed, removed_again = run(rig.client(), work)
    had_hot = "hot" in before
    assert first[0].outcome is (Outcome.UNCHANGED if had_hot else Outcome.SUCCEEDED)
    assert (again[0].outcome, again[0].reason) == (Outcome.UNCHANGED, "Already had this tag")
    assert json.loads(again[0].previous or "")["tagsAdded"] == []
    assert removed[0].outcome is Outcome.SUCCEEDED
    assert json.loads(removed[0].previous or "")["tagsRemoved"] == ["hot"]
    assert (removed_again[0].outcome, removed_again[0].reason) == (Outcome.UNCHANGED, "Did not have this tag")
    assert contact_tags(rig, cid) == [t for t in before if t != "hot"]
    assert [p for p, _ in rig.bulk_bodies()] == [
        "/contacts/bulk/tags/update/add",
        "/contacts/bulk/tags/update/add",
        "/contacts/bulk/tags/update/remove",
        "/contacts/bulk/tags/update/remove",
    ]


def test_chunks_by_items_per_request_and_groups_by_tag(rig: Rig) -> None:
    contacts = rig.sandbox.known_contact_ids(120)
    batch = items(contacts, tag("vip")) + items(contacts[:10], tag("paid"), first_row=1000)
    results = run(rig.client(items_per_request=50), lambda c: c.apply(Action.TAG, batch))
    assert len(results) == 130 and [r.item for r in results] == batch
    assert all(r.outcome in (Outcome.SUCCEEDED, Outcome.UNCHANGED) for r in results)
    sizes = [(body["tags"], len(body["contacts"])) for _, body in rig.bulk_bodies()]
    assert sizes == [(["vip"], 50), (["vip"], 50), (["vip"], 20), (["paid"], 10)]
    for cid in contacts:
        assert "vip" in contact_tags(rig, cid)


def test_remove_all_tags_only_when_asked(rig: Rig) -> None:
    cids = [c for c in rig.sandbox.known_contact_ids(40) if contact_tags(rig, c)][:3]
    before = {c: contact_tags(rig, c) for c in cids}
    other = rig.sandbox.known_contact_ids(41)[-1]
    other_before = contact_tags(rig, other)

    async def work(c: HighLevel) -> tuple[list[ItemResult], list[ItemResult], list[ItemResult]]:
        plain = await c.apply(Action.UNTAG, items([other], tag("no such tag")))
        everything = await c.remove_all_tags(items(cids, tag("*")))
        again = await c.apply(Action.UNTAG, items(cids[:1], tag("*")), remove_all_tags=True)
        return plain, everything, again

    plain, everything, again = run(rig.client(), work)
    assert plain[0].outcome is Outcome.UNCHANGED and contact_tags(rig, other) == other_before
    assert all(r.outcome is Outcome.SUCCEEDED for r in everything)
    for r in everything:
        kept = json.loads(r.previous or "")
        assert kept["oldTags"] == before[r.item.subject] == kept["tagsRemoved"]
        assert contact_tags(rig, r.item.subject) == []
    assert (again[0].outcome, again[0].reason) == (Outcome.UNCHANGED, "Had no tags")
    bodies = [b for _, b in rig.bulk_bodies()]
    assert "removeAllTags" not in bodies[0]
    assert bodies[1]["removeAllTags"] is True and bodies[1]["tags"] == []
    with pytest.raises(ValueError):
        run(rig.client(), lambda c: c.apply(Action.TAG, items(cids, tag("x")), remove_all_tags=True))


def test_unusual_contact_ids_are_sent_not_rejected(rig: Rig) -> None:
    results = run(rig.client(), lambda c: c.apply(Action.TAG, items(["short-id", "x" * 21], tag("vip"))))
    [(_, body)] = rig.bulk_bodies()
    assert body["contacts"] == ["short-id", "x" * 21]
    assert all(r.outcome is Outcome.FAILED and UNUSUAL_ID in r.reason for r in results)
    note = contact_id_notes(["short-id", "x" * 21, *rig.sandbox.known_contact_ids(2)])
    assert len(note) == 1 and note[0].startswith("2 contact id(s)") and "“short-id”" in note[0]
    assert contact_id_notes(rig.sandbox.known_contact_ids(5)) == []


def test_a_422_fails_the_batch_rows_with_highlevels_message_list(rig: Rig) -> None:
    rig.sandbox.limits.highlevel_bulk_max = 5
    contacts = rig.sandbox.known_contact_ids(8)
    results = run(rig.client(), lambda c: c.apply(Action.TAG, items(contacts, tag("vip"))))
    assert {r.outcome for r in results} == {Outcome.FAILED}
    assert all(
        "contacts must contain no more than 5 elements" in r.reason and "422" in r.reason for r in results
    )


def test_whole_request_400_is_shown_on_every_row() -> None:
    """A 400 with a string `message` (HighLevel's BadRequestDTO), through a transport that answers it."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"statusCode": 400, "message": "LocationId can't be undefined"})

    account = Account("S", PlatformKind.HIGHLEVEL, AuthKind.PRIVATE_TOKEN, location_id="L" * 20)
    client = HighLevel(account, Credentials("pit-x"), transport=httpx.MockTransport(answer))
    results = run(client, lambda c: c.apply(Action.TAG, items(["A" * 20, "B" * 20], tag("vip"))))
    assert [r.outcome for r in results] == [Outcome.FAILED, Outcome.FAILED]
    assert all("LocationId can't be undefined" in r.reason and "HTTP 400" in r.reason for r in results)


# -- emails, state ----------------------------------------------------------------------------------


def test_resolve_searches_many_emails_in_one_or_group_and_caches(rig: Rig) -> None:
    contacts = rig.sandbox.state.highlevel.contacts
    known = rig.sandbox.known_contact_ids(2)
    emails = [contacts[c].email for c in known]
    asked = [emails[0].upper(), emails[1], "nobody@nowhere.example"]

    async def work(c: HighLevel) -> tuple[dict[str, str | None], dict[str, str | None]]:
        return await c.resolve(asked), await c.resolve(asked)

    first, second = run(rig.client(), work)
    assert first == second == {asked[0]: known[0], asked[1]: known[1], asked[2]: None}
    searches = [r for r in rig.requests if r.url.path == "/contacts/search"]
    assert len(searches) == 1 and all(r.method == "POST" for r in searches)  # the second: from memory
    body = json.loads(searches[0].content)
    assert body["locationId"] == rig.sandbox.credentials.highlevel_location and body["pageLimit"] >= 1
    wanted = [emails[0].lower(), emails[1], "nobody@nowhere.example"]
    assert body["filters"] == [
        {"group": "OR", "filters": [{"field": "email", "operator": "eq", "value": e} for e in wanted]}
    ]


def test_emails_given_to_apply_are_looked_up_and_unknown_ones_never_sent(rig: Rig) -> None:
    cid = rig.sandbox.known_contact_ids(1)[0]
    email = rig.sandbox.state.highlevel.contacts[cid].email
    batch = items([email, "nobody@nowhere.example"], tag("referral"))
    results = run(rig.client(), lambda c: c.apply(Action.TAG, batch))
    assert outcomes(results)[1] == (2, Outcome.SKIPPED, NOT_FOUND)
    assert results[0].outcome in (Outcome.SUCCEEDED, Outcome.UNCHANGED) and "referral" in contact_tags(
        rig, cid
    )
    # The result carries the contact id found, so the journal (and an undo) knows who was tagged.
    assert (results[0].item.row, results[0].item.identifier, results[0].item.subject) == (1, email, cid)
    [(_, body)] = rig.bulk_bodies()
    assert body["contacts"] == [cid]


def test_read_state_reads_each_contacts_tags(rig: Rig) -> None:
    sb = rig.sandbox
    cids = sb.known_contact_ids(30)
    with_tag = next(c for c in cids if contact_tags(rig, c))
    without = next(c for c in cids if "vip" not in contact_tags(rig, c))
    name = contact_tags(rig, with_tag)[0]
    batch = [
        WorkItem(1, with_tag, with_tag, tag(name.upper())),
        WorkItem(2, without, without, tag("vip")),
        WorkItem(3, sb.unknown_contact_ids(1)[0], sb.unknown_contact_ids(1)[0], tag("vip")),
        WorkItem(
            4,
            sb.state.highlevel.contacts[with_tag].email,
            sb.state.highlevel.contacts[with_tag].email,
            tag(name),
        ),
    ]
    state = run(rig.client(), lambda c: c.read_state(Action.TAG, batch))
    # Row 3's contact does not exist: left out.
    assert state == {(1, name.upper()): "yes", (2, "vip"): "no", (4, name): "yes"}
    assert sum(1 for r in rig.requests if r.url.path == f"/contacts/{with_tag}") == 1  # once per contact


def test_read_state_keeps_each_target_of_a_row_apart(rig: Rig) -> None:
    """One row, two tags: the contact has the first and not the second, and both are reported."""
    cid = next(c for c in rig.sandbox.known_contact_ids(30) if contact_tags(rig, c))
    had = contact_tags(rig, cid)[0]
    lacks = next(f"never-{n}" for n in range(100) if f"never-{n}" not in contact_tags(rig, cid))
    row = [*items([cid], tag(had)), *items([cid], tag(lacks))]
    state = run(rig.client(), lambda c: c.read_state(Action.TAG, row))
    assert state == {(1, had): "yes", (1, lacks): "no"}


# -- pacing ------------------------------------------------------------------------------------------


def test_rate_limit_headers_steer_the_limiter_so_nothing_is_throttled(rig: Rig) -> None:
    """Another app already used 95 of the location's 100 requests in this window: the client learns
    it from `X-RateLimit-Remaining` on its first answer and waits instead of running into 429s."""
    sb = rig.sandbox
    location = sb.credentials.highlevel_location
    for _ in range(95):
        assert sb.highlevel.burst.try_hit(location)
    contacts = sb.known_contact_ids(100)
    start = rig.clock()

    async def work(c: HighLevel) -> list[ItemResult]:
        done: list[ItemResult] = []
        for n in range(10):
            done += await c.apply(Action.TAG, items(contacts[n * 10 : n * 10 + 10], tag("warm"), n * 10 + 1))
        return done

    client = rig.client()
    results = run(client, work)
    assert sb.stats.total_429 == 0
    assert all(r.outcome in (Outcome.SUCCEEDED, Outcome.UNCHANGED) for r in results) and len(results) == 100
    assert rig.clock() - start >= 10.0  # it waited for the other app's requests to leave the window
    budget = client.budget()
    assert budget.limit == 100 and budget.window_seconds == 10.0
    assert budget.daily_remaining == sb.highlevel.daily.remaining(location)


def test_throttling_and_server_errors_lose_no_row(rig: Rig) -> None:
    rig.sandbox.faults = Faults(status_rates={429: 0.3, 502: 0.1}, seed=3)
    contacts = rig.sandbox.known_contact_ids(200)
    batches = [items(contacts[n : n + 20], tag("follow up"), n + 1) for n in range(0, 200, 20)]

    async def work(c: HighLevel) -> list[ItemResult]:
        done: list[ItemResult] = []
        for b in batches:
            done += await c.apply(Action.TAG, b)
        return done

    results = run(rig.client(), work)
    assert rig.sandbox.stats.total_429 > 0
    assert len(results) == 200 and all(r.outcome in (Outcome.SUCCEEDED, Outcome.UNCHANGED) for r in results)
    for cid in contacts:
        assert "follow up" in contact_tags(rig, cid)


def test_whoami_for_a_location_that_does_not_exist() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"statusCode": 404, "message": "Location not found"})

    account = Account("S", PlatformKind.HIGHLEVEL, AuthKind.PRIVATE_TOKEN, location_id="Z" * 20)
    client = HighLevel(account, Credentials("pit-x"), transport=httpx.MockTransport(answer))
    with pytest.raises(NotFoundError) as caught:
        run(client, lambda c: c.whoami())
    assert caught.value.messages == ["Location not found"] and "Z" * 20 in str(caught.value)


# -- the OpenAPI contract ----------------------------------------------------------------------------


@pytest.fixture
def contacts_spec() -> dict[str, Any]:
    path = SHARED / "specs" / "highlevel-contacts.openapi.json"
    if not path.is_file():
        pytest.skip(f"HighLevel's OpenAPI file is not next to the project ({path} is missing)")
    spec: dict[str, Any] = json.loads(path.read_text())
    return spec


def type_values() -> set[str]:
    """The `{type}` values from HighLevel's page for the endpoint (the spec no longer declares them)."""
    page = next((SHARED / "seeds").glob("003_*")).read_text()
    match = re.search(
        r"\*\*type\*\* stringrequired\s+\*\*Possible values:\*\* \\\[ `(\w+)`, `(\w+)`\\\]", page
    )
    assert match, "the bulk tags page no longer lists the type values"
    return set(match.groups())


def test_every_bulk_request_matches_the_spec(rig: Rig, contacts_spec: dict[str, Any]) -> None:
    operation = contacts_spec["paths"][BULK_TEMPLATE]["post"]
    assert not any(p["in"] == "path" for p in operation.get("parameters", []))  # the known spec gap
    schema = contacts_spec["components"]["schemas"]["UpdateTagsDTO"]
    validator = OAS30Validator(schema)
    versions = next(p for p in operation["parameters"] if p["name"] == "Version")["schema"]["enum"]
    path_re = re.compile("^" + BULK_TEMPLATE.replace("{type}", "(?P<type>[^/]+)") + "$")
    allowed = type_values()
    assert allowed == {"add", "remove"}

    sb = rig.sandbox
    contacts = sb.known_contact_ids(30)

    async def work(c: HighLevel) -> None:
        await c.apply(Action.TAG, items(contacts, tag("vip")))
        await c.apply(Action.UNTAG, items(contacts[:10], tag("vip")))
        await c.remove_all_tags(items(contacts[10:12], tag("*")))
        await c.apply(Action.TAG, items([*sb.unknown_contact_ids(1), "bad id"], tag("new one")))

    run(rig.client(items_per_request=20), work)
    bulk = [r for r in rig.requests if r.url.path.startswith("/contacts/bulk/")]
    assert len(bulk) == 5
    for request in bulk:
        match = path_re.match(request.url.path)
        assert match and match["type"] in allowed and request.method == "POST"
        assert request.headers["Version"] in versions
        assert request.headers["Content-Type"] == "application/json"
        body = json.loads(request.content)
        errors = [e.message for e in validator.iter_errors(body)]
        assert errors == [], f"{request.url.path}: {errors}"
        assert set(body) <= set(schema["properties"])
        if body.get("removeAllTags"):
            assert match["type"] == "remove" and isinstance(body["removeAllTags"], bool)


def test_response_schema_quirks_are_read_both_ways(contacts_spec: dict[str, Any]) -> None:
    """The spec's own example (items typed string, shown as objects; `succeded` spelled wrong)."""
    from audience_manager.api.highlevel import map_bulk_tag_results

    example = contacts_spec["components"]["schemas"]["UpdateTagsResponseDTO"]["properties"]["responses"][
        "example"
    ]
    body = {"succeded": True, "errorCount": 3, "responses": example}
    ids = ["qFSqySFkVvNzOSqgGqFi", "abcdef", "3ualbhnV7j3n3a9r2moD", "Missing0000000000000"]
    results = map_bulk_tag_results(Action.TAG, items(ids, tag("tag-1")), body, tag="tag-1")
    assert outcomes(results)[0][1] is Outcome.FAILED  # the example answers that id twice: error wins
    assert "contact is deleted" in results[0].reason and results[0].previous is not None
    assert outcomes(results)[1][1:] == (
        Outcome.FAILED,
        f"contact id is not a valid firebase id ({UNUSUAL_ID})",
    )
    assert outcomes(results)[2][1:] == (Outcome.FAILED, "contact does not belong to location")
    assert outcomes(results)[3][1:] == (Outcome.FAILED, NO_ANSWER)


def test_a_remove_all_tags_job_runs_end_to_end_through_the_runner(rig: Rig) -> None:
    """`JobSpec.remove_all_tags` reaches the client as the planning's ALL_TAGS target."""
    from audience_manager.core.audience import Audience, AudienceRow
    from audience_manager.core.job_spec import JobSpec
    from audience_manager.core.planning import ALL_TAGS
    from audience_manager.jobs.runner import Runner

    cids = [c for c in rig.sandbox.known_contact_ids(60) if contact_tags(rig, c)][:5]
    email = rig.sandbox.state.highlevel.contacts[cids[0]].email
    rows = [AudienceRow(n + 1, c, IdentifierKind.CONTACT_ID) for n, c in enumerate(cids[1:])]
    rows.append(AudienceRow(10, email, IdentifierKind.EMAIL))
    spec = JobSpec("Studio", Action.UNTAG, (), Audience(rows=rows), remove_all_tags=True)
    outcomes_ = run(rig.client(), lambda c: Runner(c, spec).run())
    assert [(o.row, o.outcome) for o in outcomes_] == [(r.row, Outcome.SUCCEEDED) for r in rows]
    assert all(contact_tags(rig, c) == [] for c in cids)
    bodies = [b for _, b in rig.bulk_bodies()]
    assert len(bodies) == 1 and bodies[0]["removeAllTags"] is True and bodies[0]["tags"] == []
    refused = run(rig.client(), lambda c: c.apply(Action.TAG, items(cids[:1], ALL_TAGS)))
    assert (refused[0].outcome, refused[0].reason) == (Outcome.FAILED, "Choose a tag to add.")


def test_a_refused_search_falls_back_to_the_duplicate_lookup(rig: Rig) -> None:
    """If HighLevel rejects the search body (documented only second-hand), emails are still found."""

    class RefuseSearch(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()
            self.paths: list[str] = []

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            self.paths.append(request.url.path)
            if request.url.path == "/contacts/search":
                body = {"statusCode": 422, "message": ["property filters should not exist"]}
                return httpx.Response(422, json=body)
            return await self.inner.handle_async_request(request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    sb = rig.sandbox
    known = sb.known_contact_ids(2)
    emails = [sb.state.highlevel.contacts[c].email for c in known]
    transport = RefuseSearch()
    account = Account(
        "Studio",
        PlatformKind.HIGHLEVEL,
        AuthKind.PRIVATE_TOKEN,
        base_url=rig.base_url,
        location_id=sb.credentials.highlevel_location,
    )
    client = HighLevel(account, Credentials(sb.credentials.highlevel_token), transport=transport)
    asked = [*emails, "nobody@nowhere.example"]

    async def work(c: HighLevel) -> tuple[dict[str, str | None], int, dict[str, str | None]]:
        first = await c.resolve(asked)
        searches = transport.paths.count("/contacts/search")
        return first, searches, await c.resolve(["another.one@nowhere.example"])

    found, searches, later = run(client, work)
    assert found == {emails[0]: known[0], emails[1]: known[1], "nobody@nowhere.example": None}
    assert later == {"another.one@nowhere.example": None}
    assert 1 <= searches <= 3  # lookups already in flight when the first refusal came back
    assert transport.paths.count("/contacts/search") == searches  # then never asked again
    assert transport.paths.count("/contacts/search/duplicate") == 4
