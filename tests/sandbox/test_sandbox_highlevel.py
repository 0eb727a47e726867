"""HighLevel as the sandbox plays it: auth and Version header, location tags, contacts, search, bulk tags,
and the per-location limits with their headers."""

from __future__ import annotations

import re

import pytest

from audience_manager.sandbox import ManualClock, Sandbox, SandboxLimits

from .sandbox_client import Api

RATE_HEADERS = (
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
)


@pytest.fixture
def hl(sb: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sb.credentials.highlevel_token}", "Version": "2021-07-28"}


@pytest.fixture
def loc(sb: Sandbox) -> str:
    return sb.credentials.highlevel_location


def test_location_for_test_connection(api: Api, hl: dict[str, str], loc: str) -> None:
    answer = api.get(f"/locations/{loc}", headers=hl)
    assert answer.status_code == 200 and answer.json()["location"]["id"] == loc
    assert answer.json()["traceId"]
    assert all(h in answer.headers for h in RATE_HEADERS)
    other = api.get("/locations/AAAAAAAAAAAAAAAAAAAA", headers=hl)
    assert other.status_code == 403
    assert other.json()["message"] == "The token does not have access to this location."
    assert other.json()["statusCode"] == 403


def test_bad_token_and_missing_version(api: Api, hl: dict[str, str], loc: str) -> None:
    bad = api.get(f"/locations/{loc}", headers={**hl, "Authorization": "Bearer pit-wrong"})
    assert (
        bad.status_code == 401 and bad.json()["message"] == "Invalid JWT" and bad.json()["statusCode"] == 401
    )
    no_version = api.get(f"/locations/{loc}", headers={"Authorization": hl["Authorization"]})
    assert no_version.status_code == 400 and no_version.json()["statusCode"] == 400


def test_location_tags(api: Api, sb: Sandbox, hl: dict[str, str], loc: str) -> None:
    tags = api.get(f"/locations/{loc}/tags", headers=hl).json()["tags"]
    assert len(tags) == 30 and {"id", "name", "locationId"} <= set(tags[0])
    made = api.post(f"/locations/{loc}/tags", headers=hl, json={"name": "Spring Promo"})
    assert made.status_code == 200 and made.json()["tag"]["name"] == "spring promo"
    again = api.post(f"/locations/{loc}/tags", headers=hl, json={"name": "spring promo"}).json()
    assert again["tag"]["id"] == made.json()["tag"]["id"]
    blank = api.post(f"/locations/{loc}/tags", headers=hl, json={"name": ""})
    assert blank.status_code == 422 and blank.json()["error"] == "Unprocessable Entity"
    assert isinstance(blank.json()["message"], list)


def test_get_contact(api: Api, sb: Sandbox, hl: dict[str, str]) -> None:
    cid = sb.known_contact_ids(1)[0]
    contact = api.get(f"/contacts/{cid}", headers=hl).json()["contact"]
    assert contact["id"] == cid and isinstance(contact["tags"], list)
    assert re.fullmatch(r"[A-Za-z0-9]{20}", cid)
    assert api.get(f"/contacts/{sb.unknown_contact_ids(1)[0]}", headers=hl).status_code == 400
    assert api.get(f"/contacts/{sb.foreign_contact_ids(1)[0]}", headers=hl).status_code == 403


def test_search_by_email_and_paging(api: Api, sb: Sandbox, hl: dict[str, str], loc: str) -> None:
    target = sb.state.highlevel.contacts[sb.known_contact_ids(3)[2]]
    found = api.post(
        "/contacts/search",
        headers=hl,
        json={
            "locationId": loc,
            "pageLimit": 10,
            "filters": [{"field": "email", "operator": "eq", "value": target.email.upper()}],
        },
    ).json()
    assert [c["id"] for c in found["contacts"]] == [target.id] and found["total"] == 1 and found["traceId"]
    page = api.post(
        "/contacts/search", headers=hl, json={"locationId": loc, "pageLimit": 500, "page": 2}
    ).json()
    assert len(page["contacts"]) == 100 and page["total"] == 600


@pytest.mark.parametrize(
    "body", [{"pageLimit": 10}, {"locationId": "x"}, {"locationId": "x", "pageLimit": 501}]
)
def test_search_validation(api: Api, hl: dict[str, str], body: dict[str, object]) -> None:
    answer = api.post("/contacts/search", headers=hl, json=body)
    assert answer.status_code == 422
    assert answer.json()["statusCode"] == 422 and isinstance(answer.json()["message"], list)


def test_duplicate_lookup(api: Api, sb: Sandbox, hl: dict[str, str], loc: str) -> None:
    target = sb.state.highlevel.contacts[sb.known_contact_ids(1)[0]]
    found = api.get(
        "/contacts/search/duplicate", headers=hl, params={"locationId": loc, "email": target.email}
    )
    assert found.json()["contact"]["id"] == target.id
    none = api.get(
        "/contacts/search/duplicate", headers=hl, params={"locationId": loc, "email": "no@x.example"}
    )
    assert none.json()["contact"] is None


def test_bulk_add_and_remove_with_every_row_error(
    api: Api, sb: Sandbox, hl: dict[str, str], loc: str
) -> None:
    good = sb.known_contact_ids(2)
    contacts = [
        *good,
        "abcdef",
        sb.deleted_contact_ids(1)[0],
        sb.foreign_contact_ids(1)[0],
        sb.unknown_contact_ids(1)[0],
    ]
    answer = api.post(
        "/contacts/bulk/tags/update/add",
        headers=hl,
        json={"contacts": contacts, "tags": ["Webinar X"], "locationId": loc, "removeAllTags": False},
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["succeded"] is True and body["succeeded"] is True and body["errorCount"] == 4
    rows = {r["contactId"]: r for r in body["responses"]}
    assert rows[good[0]]["type"] == "success" and rows[good[0]]["tagsAdded"] == ["webinar x"]
    assert rows["abcdef"]["message"] == "contact id is not a valid firebase id"
    assert rows[contacts[3]]["message"] == "contact is deleted"
    assert rows[contacts[4]]["message"] == "contact does not belong to location"
    assert "webinar x" in sb.state.highlevel.contacts[good[0]].tags
    again = api.post(
        "/contacts/bulk/tags/update/add",
        headers=hl,
        json={"contacts": good[:1], "tags": ["webinar x"], "locationId": loc},
    ).json()
    assert again["responses"][0]["tagsAdded"] == [] and "webinar x" in again["responses"][0]["oldTags"]

    removed = api.post(
        "/contacts/bulk/tags/update/remove",
        headers=hl,
        json={"contacts": good[:1], "tags": ["Webinar X"], "locationId": loc},
    ).json()
    assert removed["responses"][0]["tagsRemoved"] == ["webinar x"]
    cleared = api.post(
        "/contacts/bulk/tags/update/remove",
        headers=hl,
        json={"contacts": good[1:], "tags": [], "locationId": loc, "removeAllTags": True},
    ).json()
    assert sb.state.highlevel.contacts[good[1]].tags == [] and cleared["errorCount"] == 0


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("add", {"tags": ["a"]}),
        ("add", {"contacts": ["x"], "tags": "a"}),
        ("add", {"contacts": ["x"], "tags": ["a"], "removeAllTags": True}),
        ("sideways", {"contacts": ["x"], "tags": ["a"]}),
    ],
)
def test_bulk_validation(api: Api, hl: dict[str, str], loc: str, kind: str, body: dict[str, object]) -> None:
    answer = api.post(f"/contacts/bulk/tags/update/{kind}", headers=hl, json={"locationId": loc, **body})
    assert answer.status_code == 422 and answer.json()["error"] == "Unprocessable Entity"


def test_bulk_for_another_location_is_forbidden(api: Api, hl: dict[str, str]) -> None:
    answer = api.post(
        "/contacts/bulk/tags/update/add",
        headers=hl,
        json={"contacts": [], "tags": ["a"], "locationId": "BBBBBBBBBBBBBBBBBBBB"},
    )
    assert answer.status_code == 403


def test_burst_limit_and_headers(api: Api, hl: dict[str, str], loc: str, clock: ManualClock) -> None:
    answers = [api.get(f"/locations/{loc}/tags", headers=hl) for _ in range(101)]
    assert [a.status_code for a in answers[:100]] == [200] * 100
    assert answers[0].headers["X-RateLimit-Remaining"] == "99"
    assert answers[99].headers["X-RateLimit-Remaining"] == "0"
    assert answers[0].headers["X-RateLimit-Max"] == "100"
    assert answers[0].headers["X-RateLimit-Interval-Milliseconds"] == "10000"
    refused = answers[100]
    assert refused.status_code == 429
    assert refused.json()["statusCode"] == 429 and refused.json()["message"] == "Too Many Requests"
    clock.advance(10.01)
    assert api.get(f"/locations/{loc}/tags", headers=hl).status_code == 200


def test_daily_budget(clock: ManualClock) -> None:
    import asyncio

    import httpx

    from audience_manager.sandbox.demo import SandboxTransport  # in-process only: no need for a server

    sb = Sandbox(subscribers=20, contacts=20, clock=clock, limits=SandboxLimits(highlevel_daily=3))
    headers = {"Authorization": f"Bearer {sb.credentials.highlevel_token}", "Version": "2021-07-28"}

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=SandboxTransport(app=sb.app), base_url="http://t") as client:
            return [
                await client.get(f"/locations/{sb.credentials.highlevel_location}", headers=headers)
                for _ in range(4)
            ]

    answers = asyncio.run(run())
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[2].headers["X-RateLimit-Daily-Remaining"] == "0"
    assert answers[0].headers["X-RateLimit-Limit-Daily"] == "3"
    clock.advance(86_400)
    assert asyncio.run(run())[0].status_code == 200
