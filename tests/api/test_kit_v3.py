"""The Kit v3 (legacy) client against the sandbox over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs

import httpx
import pytest

from audience_manager.api import kit_v3
from audience_manager.api.errors import ApiError, AuthenticationError
from audience_manager.api.kit_v3 import NOT_FOUND_EMAIL, NOT_FOUND_ID, RATE, KitV3, kit_v3_messages
from audience_manager.api.pacing import RateLimiter
from audience_manager.api.platform import Platform, StateKey
from audience_manager.api.resolution import ResolutionMethod
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


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    requests: list[httpx.Request] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


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

    def client(self, *, key: str | None = None, secret: str | None = None) -> KitV3:
        creds = self.sandbox.credentials
        recorder = Recorder()
        self.recorders.append(recorder)
        account = Account("Legacy", PlatformKind.KIT_V3, AuthKind.LEGACY_KEY, base_url=self.base_url)
        return KitV3(
            account,
            Credentials(key or creds.kit_v3_key, creds.kit_v3_secret if secret is None else secret),
            transport=recorder,
            limiter=RateLimiter(RATE, clock=self.clock, sleep=self.sleep),
            retry=RetryPolicy(),
            timeout=10.0,
            sleep=self.sleep,
            clock=self.clock,
        )

    @property
    def requests(self) -> list[httpx.Request]:
        return [r for rec in self.recorders for r in rec.requests]

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = ManualClock()
    sandbox = Sandbox(subscribers=1200, contacts=10, clock=clock)
    with serve(sandbox, port=0) as base_url:
        yield Rig(sandbox, clock, base_url)


def run(client: KitV3, work: Callable[[KitV3], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def kit_tag(rig: Rig, n: int = 0) -> Target:
    t = list(rig.sandbox.state.kit.tags.values())[n]
    return Target(TargetKind.TAG, str(t.id), t.name)


def items(subjects: list[Any], target: Target, first_row: int = 1) -> list[WorkItem]:
    return [WorkItem(first_row + n, str(s), str(s), target) for n, s in enumerate(subjects)]


def apply_each(action: Action, batch: list[WorkItem]) -> Callable[[KitV3], Awaitable[list[ItemResult]]]:
    """What the runner does for a one-item-per-request platform."""

    async def work(client: KitV3) -> list[ItemResult]:
        done: list[ItemResult] = []
        for item in batch:
            done += await client.apply(action, [item])
        return done

    return work


def params_of(request: httpx.Request) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
    if request.content:
        merged.update(json.loads(request.content))
    return merged


def has_tag(rig: Rig, subscriber_id: int, tag: Target) -> bool:
    return subscriber_id in rig.sandbox.state.kit.taggings[int(tag.id)]


# -- who and what -----------------------------------------------------------------------------------


def test_capabilities(rig: Rig) -> None:
    client = rig.client()
    asyncio.run(client.aclose())
    assert isinstance(client, Platform)
    caps = client.capabilities
    assert caps.actions == {Action.TAG, Action.UNTAG, Action.ADD_TO_FORM}
    assert caps.identifiers == {IdentifierKind.SUBSCRIBER_ID, IdentifierKind.EMAIL}
    assert caps.items_per_request == 1 and (caps.rate.requests, caps.rate.per_seconds) == (120, 60.0)
    assert caps.ceiling_rows_per_second == pytest.approx(2.0)
    assert "v4 API key" in (caps.why_not(Action.SET_FIELD) or "")
    assert caps.can_read_membership and not caps.can_remove_all_tags


def test_whoami_with_the_secret(rig: Rig) -> None:
    info = run(rig.client(), lambda c: c.whoami())
    kit = rig.sandbox.state.kit
    assert (info.name, info.detail) == (kit.name, kit.primary_email)
    [request] = rig.requests
    assert request.url.path == "/v3/account"
    assert params_of(request)["api_secret"] == rig.sandbox.credentials.kit_v3_secret


def test_wrong_secret_and_missing_secret_are_authentication_errors(rig: Rig) -> None:
    with pytest.raises(AuthenticationError) as caught:
        run(rig.client(secret="not-the-secret"), lambda c: c.whoami())
    assert caught.value.status == 401
    assert caught.value.messages == ["Authorization Failed: API Secret not valid"]
    assert "not-the-secret" not in str(caught.value)
    sent = len(rig.requests)
    with pytest.raises(AuthenticationError) as missing:
        run(rig.client(secret=""), lambda c: c.whoami())
    assert "secret" in str(missing.value).lower() and len(rig.requests) == sent  # nothing sent


def test_wrong_key_ends_a_write(rig: Rig) -> None:
    email = rig.sandbox.known_emails(1)[0]
    client = rig.client(key="wrong-key")
    client._id_of[email] = "1"  # skip the lookup (it uses the secret, which is right)
    with pytest.raises(AuthenticationError) as caught:
        run(client, lambda c: c.apply(Action.TAG, items([email], kit_tag(rig))))
    assert caught.value.messages == ["Authorization Failed: API Key not valid"]


def test_list_tags_forms_and_no_fields(rig: Rig) -> None:
    async def work(c: KitV3) -> tuple[list[Target], list[Target], list[Target]]:
        return (
            await c.list_targets(TargetKind.TAG),
            await c.list_targets(TargetKind.FORM),
            await c.list_targets(TargetKind.FIELD),
        )

    tags, forms, fields = run(rig.client(), work)
    kit = rig.sandbox.state.kit
    assert {(t.id, t.name) for t in tags} == {(str(t.id), t.name) for t in kit.tags.values()}
    assert {f.id for f in forms} == {str(f.id) for f in kit.forms.values() if not f.archived}
    assert fields == [] and all(f.kind is TargetKind.FORM for f in forms)
    assert all(params_of(r)["api_key"] == rig.sandbox.credentials.kit_v3_key for r in rig.requests)


def test_create_one_tag_and_several_in_one_call(rig: Rig) -> None:
    async def work(c: KitV3) -> tuple[Target, list[Target]]:
        return await c.create_tag("Launch 2027"), await c.create_tags(["Alpha", "Beta", "Gamma"])

    one, several = run(rig.client(), work)
    kit = rig.sandbox.state.kit
    assert one.name == "Launch 2027" and int(one.id) in kit.tags
    assert [t.name for t in several] == ["Alpha", "Beta", "Gamma"]
    assert all(kit.tags[int(t.id)].name == t.name for t in several)
    assert rig.calls() == [("POST", "/v3/tags"), ("POST", "/v3/tags")]
    assert params_of(rig.requests[1])["tag"] == [{"name": "Alpha"}, {"name": "Beta"}, {"name": "Gamma"}]


def test_blank_tag_name_shows_kits_error_and_message(rig: Rig) -> None:
    with pytest.raises(ApiError) as caught:
        run(rig.client(), lambda c: c.create_tag(" "))
    assert caught.value.status == 422
    assert caught.value.messages == ["Unprocessable Entity: Name can't be blank"]


# -- emails and ids ---------------------------------------------------------------------------------


def test_resolve_by_email_address_and_cache(rig: Rig) -> None:
    sb = rig.sandbox
    active, cancelled = sb.known_emails(2), sb.known_emails(1, state="cancelled")
    asked = [active[0].upper(), active[1], cancelled[0], "nobody@nowhere.example"]

    async def work(c: KitV3) -> tuple[dict[str, str | None], dict[str, str | None]]:
        return await c.resolve(asked), await c.resolve(asked)

    first, second = run(rig.client(), work)
    by_email = {s.email_address.lower(): str(s.id) for s in sb.state.kit.subscribers.values()}
    assert (
        first
        == second
        == {
            asked[0]: by_email[active[0].lower()],
            asked[1]: by_email[active[1].lower()],
            asked[2]: by_email[cancelled[0].lower()],
            asked[3]: None,
        }
    )
    lookups = [r for r in rig.requests if r.url.path == "/v3/subscribers"]
    assert len(lookups) == 4  # the second resolve came from the cache
    assert params_of(lookups[0])["email_address"] == active[0].lower()
    assert "api_secret" in params_of(lookups[0])


def test_a_long_list_is_matched_against_the_listed_subscribers(rig: Rig) -> None:
    """Active and cancelled subscribers are listed 50 a page; other states are looked up one by one."""
    sb = rig.sandbox
    listed = sb.known_emails(150) + sb.known_emails(5, state="cancelled")
    other = sb.known_emails(2, state="inactive")
    asked = [*listed, *other, "nobody@nowhere.example"]

    async def work(c: KitV3) -> tuple[Any, dict[str, str | None]]:
        plan = await c.plan_resolution(asked)
        return plan, await c.resolve(asked, plan=plan)

    plan, found = run(rig.client(), work)
    by_email = {s.email_address.lower(): str(s.id) for s in sb.state.kit.subscribers.values()}
    assert plan.method is ResolutionMethod.LISTING and plan.requests < len(asked)
    assert found == {e: by_email.get(e.lower()) for e in asked}
    email_lookups = [r for r in rig.requests if "email_address" in params_of(r)]
    assert len(email_lookups) == 3  # the two inactive ones and the unknown one
    assert len([r for r in rig.requests if r.url.path == "/v3/subscribers"]) <= plan.requests + 3


# -- writing ----------------------------------------------------------------------------------------


def test_tag_by_email_and_by_id_and_never_create_people(rig: Rig) -> None:
    sb = rig.sandbox
    target = kit_tag(rig, 5)
    ids = [i for i in sb.known_subscriber_ids(40) if not has_tag(rig, i, target)][:2]
    email_id = next(i for i in sb.known_subscriber_ids(80)[40:] if not has_tag(rig, i, target))
    email = sb.state.kit.subscribers[email_id].email_address
    unknown_id = sb.unknown_subscriber_ids(1)[0]
    batch = items([*ids, email, unknown_id, "new.person@nowhere.example"], target)
    people = len(sb.state.kit.subscribers)

    results = run(rig.client(), apply_each(Action.TAG, batch))

    assert [r.outcome for r in results] == [Outcome.SUCCEEDED] * 3 + [Outcome.SKIPPED] * 2
    assert results[3].reason == NOT_FOUND_ID and results[4].reason == NOT_FOUND_EMAIL
    assert all(has_tag(rig, i, target) for i in [*ids, email_id])
    assert (
        len(sb.state.kit.subscribers) == people
        and sb.state.kit.find_email("new.person@nowhere.example") is None
    )
    subscribes = [r for r in rig.requests if r.url.path == f"/v3/tags/{target.id}/subscribe"]
    assert len(subscribes) == 3  # none for the unknown id or email
    assert [params_of(r)["email"] for r in subscribes] == [
        *(sb.state.kit.subscribers[i].email_address for i in ids),
        email,
    ]
    assert all(params_of(r)["api_key"] == sb.credentials.kit_v3_key for r in subscribes)


def test_untag_by_id_with_delete_and_by_email_with_unsubscribe(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long member list is not read by a write: the rows go out by id and by email, previous unknown."""
    monkeypatch.setattr(kit_v3, "AUTO_LIST_MAX_PAGES", 0)
    sb = rig.sandbox
    target = kit_tag(rig, 0)
    members = list(sb.state.kit.taggings[int(target.id)])
    by_id, by_email = members[0], members[1]
    email = sb.state.kit.subscribers[by_email].email_address
    batch = items([by_id, email, sb.unknown_subscriber_ids(1)[0], "nobody@nowhere.example"], target)

    results = run(rig.client(), apply_each(Action.UNTAG, batch))

    assert [(r.outcome, r.previous) for r in results[:2]] == [(Outcome.SUCCEEDED, None)] * 2
    assert not has_tag(rig, by_id, target) and not has_tag(rig, by_email, target)
    assert (results[2].outcome, results[2].reason) == (Outcome.SKIPPED, NOT_FOUND_ID)
    assert results[3].outcome is Outcome.SKIPPED and "no subscriber with this email" in results[3].reason
    calls = rig.calls()
    assert calls.count(("GET", f"/v3/tags/{target.id}/subscriptions")) == 1  # one peek, then not again
    writes = [r for r in rig.requests if not r.url.path.endswith("/subscriptions")]
    assert (writes[0].method, writes[0].url.path) == ("DELETE", f"/v3/subscribers/{by_id}/tags/{target.id}")
    assert (writes[1].method, writes[1].url.path) == ("POST", f"/v3/tags/{target.id}/unsubscribe")
    assert params_of(writes[0]) == {"api_secret": sb.credentials.kit_v3_secret}
    assert params_of(writes[1])["email"] == email  # by email: no lookup first


def test_a_short_member_list_makes_previous_exact_for_every_state(rig: Rig) -> None:
    """Tagging reads a short tag's members first (all subscriber states), so undo knows who had it."""
    sb = rig.sandbox
    kit = sb.state.kit
    target = kit_tag(rig, 30)
    tag_id = int(target.id)
    inactive = next(
        s for s in kit.subscribers.values() if s.state == "inactive" and s.id not in kit.taggings[tag_id]
    )
    kit.tag(inactive.id, tag_id, "2026-01-01T00:00:00Z")  # had it already, in a state v3 does not document
    newcomer = next(i for i in sb.known_subscriber_ids(100) if i not in kit.taggings[tag_id])
    tagged = run(rig.client(), apply_each(Action.TAG, items([inactive.id, newcomer], target)))
    assert [(r.outcome, r.previous) for r in tagged] == [
        (Outcome.UNCHANGED, "yes"),
        (Outcome.SUCCEEDED, "no"),
    ]
    untagged = run(rig.client(), apply_each(Action.UNTAG, items([newcomer, newcomer], target)))
    assert [(r.outcome, r.previous) for r in untagged] == [
        (Outcome.SUCCEEDED, "yes"),
        (Outcome.UNCHANGED, "no"),
    ]
    assert not has_tag(rig, newcomer, target) and has_tag(rig, inactive.id, target)


def test_a_tag_that_does_not_exist_fails_the_row_with_kits_words(rig: Rig) -> None:
    sb = rig.sandbox
    gone = Target(TargetKind.TAG, "999999999", "Deleted tag")
    sid = sb.known_subscriber_ids(1)[0]
    results = run(rig.client(), apply_each(Action.TAG, items([sid], gone)))
    untag = run(rig.client(), apply_each(Action.UNTAG, items([sid], gone)))
    expected = "Not Found: The entity you were trying to find doesn't exist"
    assert (results[0].outcome, results[0].reason) == (Outcome.FAILED, expected)
    assert untag[0].outcome is Outcome.FAILED and untag[0].reason.startswith(expected)


def test_add_to_form_by_email_and_no_custom_fields(rig: Rig) -> None:
    sb = rig.sandbox
    form_id = next(f.id for f in sb.state.kit.forms.values() if not f.archived)
    form = Target(TargetKind.FORM, str(form_id), "form")
    sid = next(i for i in sb.known_subscriber_ids(50) if i not in sb.state.kit.form_members[form_id])
    results = run(rig.client(), apply_each(Action.ADD_TO_FORM, items([sid], form)))
    assert results[0].outcome is Outcome.SUCCEEDED and sid in sb.state.kit.form_members[form_id]
    assert rig.calls()[-1] == ("POST", f"/v3/forms/{form_id}/subscribe")
    field_target = Target(TargetKind.FIELD, "1", "Company", key="company")
    refused = run(rig.client(), lambda c: c.apply(Action.SET_FIELD, items([sid], field_target), "ACME"))
    assert refused[0].outcome is Outcome.FAILED and "v4 API key" in refused[0].reason


def test_read_state_pages_the_tags_subscriptions_and_makes_previous_exact(rig: Rig) -> None:
    sb = rig.sandbox
    target = kit_tag(rig, 0)  # the most common tag: more than one page of 50
    members = sb.state.kit.taggings[int(target.id)]
    active_members = [s for s in members if sb.state.kit.subscribers[s].state == "active"]
    cancelled_members = [s for s in members if sb.state.kit.subscribers[s].state == "cancelled"]
    assert len(active_members) > 50 and cancelled_members
    outsider = next(i for i in sb.known_subscriber_ids(400) if i not in members)
    unknown = sb.unknown_subscriber_ids(1)[0]
    batch = items([active_members[0], cancelled_members[0], outsider, unknown], target)

    async def work(
        c: KitV3,
    ) -> tuple[dict[StateKey, str | None], list[ItemResult], dict[StateKey, str | None]]:
        await c.resolve(["nobody@nowhere.example"])
        await c._lookup_id(str(unknown))  # known missing: left out of the state
        state = await c.read_state(Action.TAG, batch)
        results = await apply_each(Action.TAG, batch[:3])(c)
        return state, results, await c.read_state(Action.TAG, batch)

    state, results, after = run(rig.client(), work)
    t = target.id
    assert state == {(1, t): "yes", (2, t): "yes", (3, t): "no"}
    assert [(r.outcome, r.previous) for r in results] == [
        (Outcome.UNCHANGED, "yes"),
        (Outcome.UNCHANGED, "yes"),
        (Outcome.SUCCEEDED, "no"),
    ]
    assert after == {(1, t): "yes", (2, t): "yes", (3, t): "yes"}  # our own write kept the list current
    pages = [params_of(r) for r in rig.requests if r.url.path.endswith("/subscriptions")]
    active_pages = -(-len(active_members) // 50)
    assert [p["page"] for p in pages if p["subscriber_state"] == "active"] == [
        str(n) for n in range(1, active_pages + 1)
    ]
    assert len(pages) == active_pages + 4  # plus one page for each other state; listed once


def test_read_state_keeps_each_target_of_a_row_apart(rig: Rig) -> None:
    """One row, two tags: the subscriber has the first and not the second, and both are reported."""
    kit = rig.sandbox.state.kit
    first, second = kit_tag(rig, 30), kit_tag(rig, 31)
    sid = rig.sandbox.known_subscriber_ids(1)[0]
    kit.tag(sid, int(first.id), "2024-01-01T00:00:00Z")
    kit.untag(sid, int(second.id))
    row = [*items([sid], first), *items([sid], second)]
    state = run(rig.client(), lambda c: c.read_state(Action.TAG, row))
    assert state == {(1, first.id): "yes", (1, second.id): "no"}


def test_requests_are_paced_to_120_a_minute_without_a_429(rig: Rig) -> None:
    target = kit_tag(rig, 3)
    ids = rig.sandbox.known_subscriber_ids(130)
    start = rig.clock()
    results = run(rig.client(), apply_each(Action.UNTAG, items(ids, target)))
    assert len(results) == 130 and rig.sandbox.stats.total_429 == 0
    assert rig.clock() - start >= 60.0  # 130 requests need a second window


def test_error_bodies_are_read_in_both_halves() -> None:
    def response(body: object, status: int = 422) -> httpx.Response:
        return httpx.Response(status, json=body)

    assert kit_v3_messages(response({"error": "Authorization Failed", "message": "API Key not present"})) == [
        "Authorization Failed: API Key not present"
    ]
    assert kit_v3_messages(response({"error": "Not Found"})) == ["Not Found"]
    assert kit_v3_messages(response({"message": "Email address is invalid"})) == ["Email address is invalid"]
    assert kit_v3_messages(httpx.Response(429, text="Retry later")) == ["Retry later"]


def test_throttling_and_server_errors_lose_no_row(rig: Rig) -> None:
    rig.sandbox.faults = Faults(status_rates={429: 0.3, 500: 0.1}, seed=5)
    target = kit_tag(rig, 7)
    ids = [i for i in rig.sandbox.known_subscriber_ids(60) if not has_tag(rig, i, target)][:20]
    results = run(rig.client(), apply_each(Action.TAG, items(ids, target)))
    assert rig.sandbox.stats.total_429 > 0 and rig.sandbox.stats.count(status=500) > 0
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED] * len(ids)
    assert all(has_tag(rig, i, target) for i in ids)
