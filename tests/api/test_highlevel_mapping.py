"""Reading HighLevel's bulk answers in the shapes the sources disagree on (no server needed for these)."""

from __future__ import annotations

import asyncio
import json

import httpx

from audience_manager.api.highlevel import (
    NO_ANSWER,
    HighLevel,
    bulk_succeeded,
    map_bulk_tag_results,
)
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.outcomes import Outcome
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.core.work import WorkItem

VIP = Target(TargetKind.TAG, "vip", "vip")
A, B, C = "A" * 20, "B" * 20, "C" * 20


def items(*subjects: str) -> list[WorkItem]:
    return [WorkItem(n + 1, s, s, VIP) for n, s in enumerate(subjects)]


def test_both_spellings_of_the_request_flag() -> None:
    assert bulk_succeeded({"succeded": True}) is True
    assert bulk_succeeded({"succeeded": False}) is False
    assert bulk_succeeded({"succeeded": True, "succeded": True}) is True
    assert bulk_succeeded({"errorCount": 0}) is None and bulk_succeeded("nonsense") is None


def test_answers_given_as_json_strings_are_read() -> None:
    body = {
        "succeeded": True,
        "responses": [
            json.dumps({"contactId": A, "type": "success", "tagsAdded": ["vip"], "oldTags": []}),
            "not json at all",
        ],
    }
    results = map_bulk_tag_results(Action.TAG, items(A, B), body, tag="vip")
    assert [(r.outcome, r.reason) for r in results] == [(Outcome.SUCCEEDED, ""), (Outcome.FAILED, NO_ANSWER)]


def test_without_tag_lists_old_tags_decide_and_silence_is_never_success() -> None:
    body = {
        "succeded": True,
        "responses": [
            {"contactId": A, "type": "success", "oldTags": ["VIP"]},
            {"contactId": B, "type": "success", "oldTags": ["other"]},
            {"contactId": C, "type": "success", "message": "Tags updated"},
        ],
    }
    tagged = map_bulk_tag_results(Action.TAG, items(A, B, C), body, tag="vip")
    assert [r.outcome for r in tagged] == [Outcome.UNCHANGED, Outcome.SUCCEEDED, Outcome.SUCCEEDED]
    untagged = map_bulk_tag_results(Action.UNTAG, items(A, B, C), body, tag="vip")
    assert [r.outcome for r in untagged] == [Outcome.SUCCEEDED, Outcome.UNCHANGED, Outcome.SUCCEEDED]
    nothing = map_bulk_tag_results(Action.TAG, items(A), {"succeded": False, "responses": []}, tag="vip")
    assert nothing[0].outcome is Outcome.FAILED and "reported the update failed" in nothing[0].reason


def test_previous_keeps_exactly_what_highlevel_said() -> None:
    entry = {"contactId": A, "type": "success", "oldTags": ["a", "b"], "tagsAdded": [], "tagsRemoved": ["b"]}
    [result] = map_bulk_tag_results(Action.UNTAG, items(A), {"responses": [entry]}, tag="b")
    assert json.loads(result.previous or "") == {"oldTags": ["a", "b"], "tagsAdded": [], "tagsRemoved": ["b"]}
    assert result.outcome is Outcome.SUCCEEDED


def test_rate_limit_headers_reach_the_budget() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        headers = {
            "X-RateLimit-Remaining": "40",
            "X-RateLimit-Daily-Remaining": "1234",
            "X-RateLimit-Max": "100",
        }
        return httpx.Response(200, json={"tags": []}, headers=headers)

    account = Account("S", PlatformKind.HIGHLEVEL, AuthKind.PRIVATE_TOKEN, location_id="L" * 20)
    client = HighLevel(account, Credentials("pit-mapping-test"), transport=httpx.MockTransport(answer))

    async def main() -> None:
        try:
            await client.list_targets(TargetKind.TAG)
        finally:
            await client.aclose()

    asyncio.run(main())
    budget = client.budget()
    assert budget.remaining == 40 and budget.daily_remaining == 1234
