"""The Kit v4 client against the sandbox over real loopback HTTP, every request checked against the spec."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from audience_manager.api.errors import AuthenticationError, GaveUpError
from audience_manager.api.kit_v4 import KitV4
from audience_manager.api.platform import Platform, StateKey
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.outcomes import Outcome
from audience_manager.core.platforms import AuthKind
from audience_manager.core.work import ItemResult, WorkItem

from .conftest import KitRig

T = TypeVar("T")


def run(kit: KitV4, work: Callable[[KitV4], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await work(kit)
        finally:
            await kit.aclose()

    return asyncio.run(main())


def items(subjects: list[int | str], target: Target, first_row: int = 1) -> list[WorkItem]:
    return [WorkItem(first_row + n, str(s), str(s), target) for n, s in enumerate(subjects)]


def tag(rig: KitRig, n: int = 0) -> Target:
    t = list(rig.sandbox.state.kit.tags.values())[n]
    return Target(TargetKind.TAG, str(t.id), t.name)


def outcomes(results: list[ItemResult]) -> list[tuple[int, Outcome, str]]:
    return [(r.item.row, r.outcome, r.reason) for r in results]


# -- who and what -----------------------------------------------------------------------------------


def test_capabilities_follow_the_credential(kit_rig: KitRig) -> None:
    oauth, key = kit_rig.kit(AuthKind.OAUTH), kit_rig.kit(AuthKind.API_KEY)
    asyncio.run(oauth.aclose())
    asyncio.run(key.aclose())
    assert isinstance(oauth, Platform)
    assert oauth.capabilities.items_per_request == 100 and oauth.capabilities.rate.requests == 600
    assert key.capabilities.items_per_request == 1 and key.capabilities.rate.requests == 120
    for caps in (oauth.capabilities, key.capabilities):
        assert caps.actions == set(Action)  # every action, Move tag included
        assert caps.identifiers == {IdentifierKind.SUBSCRIBER_ID, IdentifierKind.EMAIL}
        assert caps.can_read_membership and caps.rate.per_seconds == 60.0
    assert oauth.capabilities.ceiling_rows_per_second == pytest.approx(1000.0)
    assert key.capabilities.ceiling_rows_per_second == pytest.approx(2.0)


def test_whoami(kit_rig: KitRig) -> None:
    info = run(kit_rig.kit(AuthKind.API_KEY), lambda k: k.whoami())
    assert info.name == kit_rig.sandbox.state.kit.name
    assert info.detail == kit_rig.sandbox.state.kit.primary_email


def test_list_targets_pages_through_every_cursor(kit_rig: KitRig) -> None:
    kit_state = kit_rig.sandbox.state.kit
    for n in range(2300):
        kit_state.create_tag(f"Bulk tag {n:04}")
    expected = {str(t.id) for t in kit_state.tags.values()}

    async def work(kit: KitV4) -> tuple[list[Target], list[Target], list[Target]]:
        return (
            await kit.list_targets(TargetKind.TAG),
            await kit.list_targets(TargetKind.FORM),
            await kit.list_targets(TargetKind.FIELD),
        )

    tags, forms, fields = run(kit_rig.kit(), work)
    assert {t.id for t in tags} == expected and len(tags) == len(expected) > 2000
    assert sum(1 for m, p in kit_rig.seen if p == "/v4/tags") == 3  # 1000 + 1000 + the rest
    assert {f.id for f in forms} == {str(f) for f in kit_state.forms}
    assert {f.key for f in fields} == {c.key for c in kit_state.custom_fields.values()}
    assert all(f.kind == TargetKind.FIELD and f.name for f in fields)


def test_create_tag_new_and_existing(kit_rig: KitRig) -> None:
    async def work(kit: KitV4) -> tuple[Target, Target]:
        return await kit.create_tag("Spring launch"), await kit.create_tag("spring launch")

    made, again = run(kit_rig.kit(), work)
    assert made.name == "Spring launch" and again.id == made.id
    assert int(made.id) in kit_rig.sandbox.state.kit.tags


def test_resolve_finds_every_state_and_reports_unknowns(kit_rig: KitRig) -> None:
    sb = kit_rig.sandbox
    active = sb.known_emails(3)
    cancelled = sb.known_emails(1, state="cancelled")
    asked = [*active, cancelled[0].upper(), "nobody-here@example.com"]
    found = run(kit_rig.kit(AuthKind.API_KEY), lambda k: k.resolve(asked))
    by_email = {s.email_address: str(s.id) for s in sb.state.kit.subscribers.values()}
    assert found == {
        **{e: by_email[e] for e in active},
        cancelled[0].upper(): by_email[cancelled[0]],
        "nobody-here@example.com": None,
    }
    lookups = [u for u in kit_rig.urls if "/v4/subscribers?" in u]
    assert len(lookups) == len(asked) and all("status=all" in u for u in lookups)


# -- OAuth: bulk ------------------------------------------------------------------------------------


def test_bulk_tag_maps_every_failure_to_its_row_even_with_nulled_ids(kit_rig: KitRig) -> None:
    sb = kit_rig.sandbox
    good = sb.known_subscriber_ids(5)
    unknown = sb.unknown_subscriber_ids(2)
    target = tag(kit_rig)
    missing_tag = Target(TargetKind.TAG, "999999999", "Deleted meanwhile")
    batch = items([*good, *unknown], target)
    # The same subscriber with a second, missing, tag: one row succeeds, the other fails.
    batch.append(WorkItem(99, str(good[0]), str(good[0]), missing_tag))
    results = run(kit_rig.kit(), lambda k: k.apply(Action.TAG, batch))
    got = outcomes(results)
    assert got[:5] == [(r, Outcome.SUCCEEDED, "") for r in range(1, 6)]
    assert got[5:7] == [
        (6, Outcome.FAILED, "Subscriber does not exist"),
        (7, Outcome.FAILED, "Subscriber does not exist"),
    ]
    assert got[7] == (99, Outcome.FAILED, "Tag does not exist")
    assert all(int(target.id) in sb.state.kit.tags_of[s] for s in good)
    assert kit_rig.seen.count(("POST", "/v4/bulk/tags/subscribers")) == 1


def test_bulk_never_sends_more_than_100_items(kit_rig: KitRig) -> None:
    sb = kit_rig.sandbox
    ids = sb.known_subscriber_ids(250, state=None)
    had = set(sb.state.kit.taggings[int(tag(kit_rig, 1).id)])  # the seed tagged some already
    results = run(kit_rig.kit(), lambda k: k.apply(Action.TAG, items(ids, tag(kit_rig, 1))))
    assert [r.outcome for r in results] == [Outcome.UNCHANGED if i in had else Outcome.SUCCEEDED for i in ids]
    assert [r.previous for r in results] == ["yes" if i in had else "no" for i in ids]
    assert kit_rig.seen.count(("POST", "/v4/bulk/tags/subscribers")) == 3
    assert sb.stats.count("/v4/bulk/tags/subscribers", 202) == 0


def test_a_202_is_never_taken_for_success(kit_rig: KitRig) -> None:
    kit_rig.sandbox.kit_v4.sync_limit = 2  # a server that goes async earlier than documented
    ids = kit_rig.sandbox.known_subscriber_ids(3)
    results = run(kit_rig.kit(), lambda k: k.apply(Action.TAG, items(ids, tag(kit_rig))))
    assert {r.outcome for r in results} == {Outcome.FAILED}
    assert "background" in results[0].reason


def test_bulk_untag_reports_success_by_absence_from_failures(kit_rig: KitRig) -> None:
    sb = kit_rig.sandbox
    target = tag(kit_rig)
    good = sb.known_subscriber_ids(4)
    for s in good:
        sb.state.kit.tag(s, int(target.id), "2024-01-01T00:00:00Z")
    batch = items([*good, *sb.unknown_subscriber_ids(1)], target)
    results = run(kit_rig.kit(), lambda k: k.apply(Action.UNTAG, batch))
    assert outcomes(results) == [
        *((r, Outcome.SUCCEEDED, "") for r in range(1, 5)),
        (5, Outcome.FAILED, "Subscriber does not exist"),
    ]
    assert all(int(target.id) not in sb.state.kit.tags_of.get(s, {}) for s in good)
    assert ("DELETE", "/v4/bulk/tags/subscribers") in kit_rig.seen


def test_bulk_add_to_form_and_set_field(kit_rig: KitRig) -> None:
    sb = kit_rig.sandbox
    form_id = next(iter(sb.state.kit.forms))
    form = Target(TargetKind.FORM, str(form_id), "Form")
    field = next(iter(sb.state.kit.custom_fields.values()))
    target_field = Target(TargetKind.FIELD, str(field.id), field.label, key=field.key)
    good = sb.known_subscriber_ids(3)
    unknown = sb.unknown_subscriber_ids(1)

    async def work(kit: KitV4) -> tuple[list[ItemResult], list[ItemResult]]:
        added = await kit.apply(Action.ADD_TO_FORM, items([*good, *unknown], form))
        values = await kit.apply(Action.SET_FIELD, items([*good, *unknown], target_field), "Acme & Co")
        return added, values

    added, values = run(kit_rig.kit(), work)
    for results in (added, values):
        assert [r.outcome for r in results] == [Outcome.SUCCEEDED] * 3 + [Outcome.FAILED]
        assert results[3].reason == "Subscriber does not exist"
    assert all(s in sb.state.kit.form_members[form_id] for s in good)
    assert all(sb.state.kit.subscribers[s].fields[field.key] == "Acme & Co" for s in good)
    assert ("POST", "/v4/bulk/custom_fields/subscribers") in kit_rig.seen


def test_bulk_set_field_reads_the_old_values_from_the_listing_when_that_is_cheaper(kit_rig: KitRig) -> None:
    """An id audience: the values the undo needs come from the account's listing (1,000 a page),
    not one read a subscriber, so a bulk write of 100 costs a few requests, not 101."""
    sb = kit_rig.sandbox
    field = next(iter(sb.state.kit.custom_fields.values()))
    target_field = Target(TargetKind.FIELD, str(field.id), field.label, key=field.key)
    good = sb.known_subscriber_ids(60)
    sb.state.kit.subscribers[good[0]].fields[field.key] = "Old & Co"
    assert len(sb.state.kit.subscribers) <= 1000 * 10  # the listing is cheaper than 60 reads

    results = run(kit_rig.kit(), lambda kit: kit.apply(Action.SET_FIELD, items(good, target_field), "New"))
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED] * 60
    assert results[0].previous == "Old & Co"
    assert not any(p.startswith("/v4/subscribers/") for _, p in kit_rig.seen)
    assert [p for _, p in kit_rig.seen].count("/v4/bulk/custom_fields/subscribers") == 1


def test_bulk_set_field_does_not_write_a_value_it_could_not_read_first(kit_rig: KitRig) -> None:
    """One refused read fails its own row (retryable, not written: its undo could not restore it);
    the rest of the batch is written."""
    sb = kit_rig.sandbox
    field = next(iter(sb.state.kit.custom_fields.values()))
    target_field = Target(TargetKind.FIELD, str(field.id), field.label, key=field.key)
    good = sb.known_subscriber_ids(3)
    kit = kit_rig.kit()
    kit._size = 10**9  # a huge account: one read a subscriber
    read = kit._subscriber

    async def refusing(subject: str) -> dict[str, object] | None:
        if subject == str(good[1]):
            raise GaveUpError('Kit kept saying "too many requests" (8 times over 3 s).')
        return await read(subject)

    kit._subscriber = refusing  # type: ignore[method-assign]
    results = run(kit, lambda kit: kit.apply(Action.SET_FIELD, items(good, target_field), "New"))
    by_row = {r.item.row: r for r in results}
    assert [by_row[r].outcome for r in (1, 2, 3)] == [Outcome.SUCCEEDED, Outcome.FAILED, Outcome.SUCCEEDED]
    assert by_row[2].reason.startswith("Not written: its value could not be read first (Kit kept saying")
    assert sb.state.kit.subscribers[good[1]].fields.get(field.key) != "New"
    assert sb.state.kit.subscribers[good[0]].fields[field.key] == "New"


# -- API key: one row at a time ---------------------------------------------------------------------


def test_api_key_tags_one_row_at_a_time_and_never_calls_bulk(kit_rig: KitRig) -> None:
    sb = kit_rig.sandbox
    target = tag(kit_rig, 2)
    already, fresh = sb.known_subscriber_ids(2)
    sb.state.kit.tag(already, int(target.id), "2024-01-01T00:00:00Z")
    unknown = sb.unknown_subscriber_ids(1)[0]
    batch = items([fresh, already, unknown], target)

    async def work(kit: KitV4) -> tuple[list[ItemResult], list[ItemResult]]:
        tagged = await kit.apply(Action.TAG, batch)
        untagged = await kit.apply(Action.UNTAG, batch[:1])
        return tagged, untagged

    tagged, untagged = run(kit_rig.kit(AuthKind.API_KEY), work)
    assert [(r.outcome, r.reason, r.previous) for r in tagged] == [
        (Outcome.SUCCEEDED, "", "no"),
        (Outcome.UNCHANGED, "", "yes"),
        (Outcome.FAILED, f"Not Found: Kit has no subscriber {unknown}, or the tag no longer exists", None),
    ]
    assert untagged[0].outcome == Outcome.SUCCEEDED
    assert not any("/bulk/" in p for _, p in kit_rig.seen)


def test_api_key_form_and_field_keep_the_previous_value(kit_rig: KitRig) -> None:
    sb = kit_rig.sandbox
    form = Target(TargetKind.FORM, str(next(iter(sb.state.kit.forms))), "Form")
    field = next(iter(sb.state.kit.custom_fields.values()))
    target_field = Target(TargetKind.FIELD, str(field.id), field.label, key=field.key)
    sid = sb.known_subscriber_ids(1)[0]
    sb.state.kit.subscribers[sid].fields[field.key] = "Old value"

    async def work(kit: KitV4) -> tuple[list[ItemResult], list[ItemResult], list[ItemResult]]:
        form_first = await kit.apply(Action.ADD_TO_FORM, items([sid], form))
        form_again = await kit.apply(Action.ADD_TO_FORM, items([sid], form))
        value = await kit.apply(
            Action.SET_FIELD, items([sid, sb.unknown_subscriber_ids(1)[0]], target_field), "New"
        )
        return (
            form_first + form_again,
            value,
            await kit.apply(Action.SET_FIELD, items([sid], target_field), "New"),
        )

    forms, value, again = run(kit_rig.kit(AuthKind.API_KEY), work)
    assert [r.outcome for r in forms] == [Outcome.SUCCEEDED, Outcome.UNCHANGED]
    assert (value[0].outcome, value[0].previous) == (Outcome.SUCCEEDED, "Old value")
    assert value[1].outcome == Outcome.FAILED and value[1].reason.startswith(
        "Not Found: Kit has no subscriber"
    )
    assert (again[0].outcome, again[0].previous) == (Outcome.UNCHANGED, "New")
    assert sb.state.kit.subscribers[sid].fields[field.key] == "New"
    assert ("PUT", f"/v4/subscribers/{sid}") in kit_rig.seen


def test_bulk_with_an_api_key_is_refused_by_kit(kit_rig: KitRig) -> None:
    """Why the client never tries: Kit answers a key on /v4/bulk/* as no credential at all."""
    kit = kit_rig.kit(AuthKind.API_KEY)
    body = {"taggings": [{"tag_id": 1, "subscriber_id": 1}]}
    with pytest.raises(AuthenticationError) as info:
        run(kit, lambda k: k.transport.request("POST", "/v4/bulk/tags/subscribers", json=body))
    assert info.value.status == 401 and not info.value.expired


# -- reading state for preview and undo -------------------------------------------------------------


def test_read_state_for_tags_forms_and_fields(kit_rig: KitRig) -> None:
    sb = kit_rig.sandbox
    target = tag(kit_rig, 3)
    on, off = sb.known_subscriber_ids(2)
    sb.state.kit.tag(on, int(target.id), "2024-01-01T00:00:00Z")
    form_id = next(iter(sb.state.kit.forms))
    sb.state.kit.add_to_form(on, form_id, "2024-01-01T00:00:00Z", None)
    field = next(iter(sb.state.kit.custom_fields.values()))
    sb.state.kit.subscribers[on].fields[field.key] = "Here"
    sb.state.kit.subscribers[off].fields[field.key] = None
    ghost = sb.unknown_subscriber_ids(1)[0]

    form = Target(TargetKind.FORM, str(form_id), "F")
    field_target = Target(TargetKind.FIELD, str(field.id), "F", key=field.key)

    async def work(kit: KitV4) -> list[dict[StateKey, str | None]]:
        return [
            await kit.read_state(Action.TAG, items([on, off, ghost], target)),
            await kit.read_state(Action.ADD_TO_FORM, items([on, off], form)),
            await kit.read_state(Action.SET_FIELD, items([on, off], field_target)),
        ]

    tags, forms, fields = run(kit_rig.kit(), work)
    assert tags == {(1, target.id): "yes", (2, target.id): "no", (3, target.id): None}
    assert forms == {(1, form.id): "yes", (2, form.id): "no"}
    assert fields == {(1, field_target.id): "Here", (2, field_target.id): None}


def test_read_state_keeps_each_target_of_a_row_apart(kit_rig: KitRig) -> None:
    """One row, two tags: the subscriber has the first and not the second, and both are reported."""
    sb = kit_rig.sandbox
    first, second = tag(kit_rig, 3), tag(kit_rig, 4)
    sid = sb.known_subscriber_ids(1)[0]
    sb.state.kit.tag(sid, int(first.id), "2024-01-01T00:00:00Z")
    sb.state.kit.untag(sid, int(second.id))
    row = [*items([sid], first), *items([sid], second)]
    state = run(kit_rig.kit(), lambda kit: kit.read_state(Action.TAG, row))
    assert state == {(1, first.id): "yes", (1, second.id): "no"}


# -- what the network and the platform throw at us ---------------------------------------------------


def test_413_waits_for_the_bulk_queue_and_retries(kit_rig: KitRig) -> None:
    sb = kit_rig.sandbox
    sb.bulk_queue.budget_bytes = 4000
    sb.bulk_queue.enqueue(3900, lambda: None)  # someone else's big bulk job, done in 2 s
    ids = sb.known_subscriber_ids(10)
    results = run(kit_rig.kit(), lambda k: k.apply(Action.TAG, items(ids, tag(kit_rig))))
    assert {r.outcome for r in results} <= {Outcome.SUCCEEDED, Outcome.UNCHANGED}  # some had the tag
    assert sb.stats.count("/v4/bulk/tags/subscribers", 413) >= 1


def test_429_backs_off_until_the_window_passes(kit_rig: KitRig) -> None:
    sb = kit_rig.sandbox
    sb.kit_v4.oauth_window.limit = 3  # the server is stricter than the published 600/60 s
    ids = sb.known_subscriber_ids(50)

    async def work(kit: KitV4) -> list[ItemResult]:
        out: list[ItemResult] = []
        for n in range(5):
            out += await kit.apply(Action.TAG, items(ids[n * 10 : n * 10 + 10], tag(kit_rig), n * 10 + 1))
        return out

    start = kit_rig.clock.now
    results = run(kit_rig.kit(), work)
    assert {r.outcome for r in results} <= {Outcome.SUCCEEDED, Outcome.UNCHANGED} and len(results) == 50
    assert sb.stats.total_429 >= 1
    assert kit_rig.clock.now - start >= 60.0  # it waited for the server's window


def test_five_hundreds_then_recovery(kit_rig: KitRig) -> None:
    sb = kit_rig.sandbox
    sb.faults.status_rates = {503: 0.5}
    sb.faults.reseed(3)
    ids = sb.known_subscriber_ids(100)

    async def work(kit: KitV4) -> list[ItemResult]:
        out: list[ItemResult] = []
        for n in range(10):
            out += await kit.apply(Action.TAG, items(ids[n * 10 : n * 10 + 10], tag(kit_rig), n * 10 + 1))
        return out

    results = run(kit_rig.kit(), work)
    assert {r.outcome for r in results} <= {Outcome.SUCCEEDED, Outcome.UNCHANGED}  # some had the tag
    assert sb.stats.count("/v4/bulk/tags/subscribers", 503) >= 3


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"status_rates": {500: 1.0}}, "server error (HTTP 500"),
        # Over uvicorn a drop before the answer arrives as a bare 500; a drop mid-body as a broken connection.
        ({"drop_rate": 1.0}, ("failed or dropped", "server error (HTTP 500")),
        ({"html_error_rate": 1.0}, "server error (HTTP 502"),
        ({"malformed_rate": 1.0}, "instead of data"),
    ],
)
def test_persistent_faults_end_in_a_plain_reason(
    kit_rig: KitRig, fault: dict[str, object], words: str | tuple[str, ...]
) -> None:
    from audience_manager.api.errors import GaveUpError
    from audience_manager.api.transport import RetryPolicy

    for name, value in fault.items():
        setattr(kit_rig.sandbox.faults, name, value)
    kit = kit_rig.kit(retry=RetryPolicy(attempts=3))
    with pytest.raises(GaveUpError) as info:
        run(kit, lambda k: k.list_targets(TargetKind.TAG))
    assert any(w in info.value.reason for w in ((words,) if isinstance(words, str) else words))
    assert "Traceback" not in info.value.reason and "<html" not in info.value.reason


def test_timeouts_are_retried_then_given_up(kit_rig: KitRig) -> None:
    from audience_manager.api.errors import GaveUpError
    from audience_manager.api.transport import RetryPolicy

    kit_rig.sandbox.faults.latency = 0.3
    kit = kit_rig.kit(retry=RetryPolicy(attempts=2), timeout=0.1)
    with pytest.raises(GaveUpError, match="did not answer in time"):
        run(kit, lambda k: k.whoami())


def test_401_expired_vs_invalid(kit_rig: KitRig) -> None:
    kit_rig.sandbox.faults.expire_token_after = 1
    kit = kit_rig.kit()

    async def twice(k: KitV4) -> None:
        await k.whoami()
        await k.whoami()

    with pytest.raises(AuthenticationError) as expired:
        run(kit, twice)
    assert expired.value.expired and expired.value.messages == ["The access token expired"]

    kit_rig.sandbox.faults.expire_token_after = None
    with pytest.raises(AuthenticationError) as invalid:
        run(kit_rig.kit(token="sbx_kit_at_wrong"), lambda k: k.whoami())
    assert not invalid.value.expired and invalid.value.messages == ["The access token is invalid"]
    assert "sbx_kit_at_wrong" not in str(invalid.value)


def test_authentication_error_stops_a_bulk_batch(kit_rig: KitRig) -> None:
    ids = kit_rig.sandbox.known_subscriber_ids(3)
    with pytest.raises(AuthenticationError):
        run(kit_rig.kit(token="sbx_kit_at_wrong"), lambda k: k.apply(Action.TAG, items(ids, tag(kit_rig))))


@pytest.mark.parametrize("auth", [AuthKind.OAUTH, AuthKind.API_KEY])
def test_emails_given_as_subjects_are_looked_up_first(kit_rig: KitRig, auth: AuthKind) -> None:
    sb = kit_rig.sandbox
    email = sb.known_emails(1)[0]
    sid = sb.state.kit.find_email(email).id  # type: ignore[union-attr]
    target = tag(kit_rig, 4)
    batch = [
        WorkItem(1, email.upper(), email.upper(), target),
        WorkItem(2, "ghost@example.com", "ghost@example.com", target),
        WorkItem(3, "not an id", "not an id", target),
    ]
    results = run(kit_rig.kit(auth), lambda k: k.apply(Action.TAG, batch))
    assert [r.item for r in results] == batch
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED, Outcome.SKIPPED, Outcome.FAILED]
    assert "Not found" in results[1].reason
    assert int(target.id) in sb.state.kit.tags_of[sid]


def test_a_deleted_tag_among_several_is_found_by_asking_kit(kit_rig: KitRig) -> None:
    sb = kit_rig.sandbox
    a, b = sb.known_subscriber_ids(2)
    kept, gone = tag(kit_rig, 0), Target(TargetKind.TAG, "987654321", "Deleted meanwhile")
    batch = [
        WorkItem(1, str(a), str(a), kept),
        WorkItem(1, str(a), str(a), gone),
        WorkItem(2, str(b), str(b), kept),
        WorkItem(2, str(b), str(b), gone),
    ]
    results = run(kit_rig.kit(), lambda k: k.apply(Action.TAG, batch))
    assert [(r.item.target.id, r.outcome) for r in results] == [
        (kept.id, Outcome.SUCCEEDED),
        (gone.id, Outcome.FAILED),
        (kept.id, Outcome.SUCCEEDED),
        (gone.id, Outcome.FAILED),
    ]
    assert ("GET", f"/v4/tags/{gone.id}/subscribers") in kit_rig.seen


def test_open_platform_serves_the_demo_workspace_in_process() -> None:
    from audience_manager.api.clients import open_platform
    from audience_manager.sandbox import Sandbox
    from audience_manager.sandbox.demo import demo_workspace

    demo = demo_workspace(Sandbox(subscribers=50))
    for account, credentials in demo.accounts[:2]:  # Kit with OAuth, Kit with an API key
        platform = open_platform(account, credentials, transport=demo.transport)
        assert isinstance(platform, KitV4) and platform.capabilities.items_per_request in (1, 100)

        async def work(p: Platform = platform) -> str:
            try:
                return (await p.whoami()).name
            finally:
                await p.aclose()

        assert asyncio.run(work()) == demo.sandbox.state.kit.name
