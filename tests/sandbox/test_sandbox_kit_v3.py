"""Kit API v3 (legacy) as the sandbox plays it, over the same account as v4."""

from __future__ import annotations

from audience_manager.sandbox import ManualClock, Sandbox

from .sandbox_client import Api


def _key(sb: Sandbox) -> dict[str, str]:
    return {"api_key": sb.credentials.kit_v3_key}


def _secret(sb: Sandbox) -> dict[str, str]:
    return {"api_secret": sb.credentials.kit_v3_secret}


def test_account_needs_the_secret(api: Api, sb: Sandbox) -> None:
    assert api.get("/v3/account", params=_secret(sb)).json()["primary_email_address"]
    refused = api.get("/v3/account", params=_key(sb))
    assert refused.status_code == 401
    assert refused.json() == {"error": "Authorization Failed", "message": "API Secret not present"}


def test_missing_and_wrong_keys(api: Api) -> None:
    missing = api.get("/v3/tags")
    assert missing.status_code == 401 and missing.json()["message"] == "API Key not present"
    assert api.get("/v3/tags", params={"api_key": "nope"}).json()["message"] == "API Key not valid"


def test_tags_list_and_create_single_and_many(api: Api, sb: Sandbox) -> None:
    tags = api.get("/v3/tags", params=_secret(sb)).json()["tags"]  # the secret works wherever the key does
    assert {t["id"] for t in tags} == set(sb.state.kit.tags)
    one = api.post("/v3/tags", json={**_key(sb), "tag": {"name": "From v3"}}).json()
    assert one["name"] == "From v3" and one["state"] == "available"
    many = api.post("/v3/tags", json={**_key(sb), "tag": [{"name": "A v3"}, {"name": "B v3"}]}).json()
    assert [t["name"] for t in many] == ["A v3", "B v3"]
    blank = api.post("/v3/tags", json={**_key(sb), "tag": {"name": ""}})
    assert blank.status_code == 422 and set(blank.json()) == {"error", "message"}


def test_tag_by_email_creates_the_subscriber_and_v4_sees_it(api: Api, sb: Sandbox) -> None:
    tag_id = next(iter(sb.state.kit.tags))
    answer = api.post(f"/v3/tags/{tag_id}/subscribe", json={**_key(sb), "email": "Brand.New@Example.com"})
    assert answer.status_code == 200
    subscription = answer.json()["subscription"]
    assert subscription["subscribable_type"] == "tag" and subscription["subscribable_id"] == tag_id
    new_id = subscription["subscriber"]["id"]
    v4 = api.get(f"/v4/subscribers/{new_id}/tags", headers={"X-Kit-Api-Key": sb.credentials.kit_api_key})
    assert [t["id"] for t in v4.json()["tags"]] == [tag_id]
    again = api.post(f"/v3/tags/{tag_id}/subscribe", json={**_key(sb), "email": "brand.new@example.com"})
    assert again.json()["subscription"]["id"] == subscription["id"]
    assert api.post(f"/v3/tags/{tag_id}/subscribe", json=_key(sb)).status_code == 422
    assert api.post("/v3/tags/1/subscribe", json={**_key(sb), "email": "x@y.example"}).status_code == 404


def test_untag_by_email_and_by_id(api: Api, sb: Sandbox) -> None:
    tag_id, members = next((t, m) for t, m in sb.state.kit.taggings.items() if len(m) >= 2)
    first, second = list(members)[:2]
    email = sb.state.kit.subscribers[first].email_address
    by_email = api.post(f"/v3/tags/{tag_id}/unsubscribe", json={**_secret(sb), "email": email})
    assert by_email.status_code == 200 and by_email.json()["id"] == tag_id
    assert first not in sb.state.kit.taggings[tag_id]
    assert api.post(f"/v3/tags/{tag_id}/unsubscribe", json={**_key(sb), "email": email}).status_code == 401
    by_id = api.delete(f"/v3/subscribers/{second}/tags/{tag_id}", params=_secret(sb))
    assert by_id.status_code == 200 and second not in sb.state.kit.taggings[tag_id]
    gone = api.delete(f"/v3/subscribers/{sb.unknown_subscriber_ids(1)[0]}/tags/{tag_id}", params=_secret(sb))
    assert gone.status_code == 404 and gone.json()["error"] == "Not Found"


def test_subscriptions_are_paged_by_50(api: Api, sb: Sandbox) -> None:
    tag_id, members = max(sb.state.kit.taggings.items(), key=lambda kv: len(kv[1]))
    active = [s for s in members if sb.state.kit.subscribers[s].state == "active"]
    first = api.get(f"/v3/tags/{tag_id}/subscriptions", params=_secret(sb)).json()
    assert first["total_subscriptions"] == len(active)
    assert len(first["subscriptions"]) == min(50, len(active))
    assert first["total_pages"] == -(-len(active) // 50)
    seen = []
    for page in range(1, first["total_pages"] + 1):
        body = api.get(f"/v3/tags/{tag_id}/subscriptions", params={**_secret(sb), "page": page}).json()
        seen += [s["subscriber"]["id"] for s in body["subscriptions"]]
    assert sorted(seen) == sorted(active)


def test_subscribers_by_email_and_by_id(api: Api, sb: Sandbox) -> None:
    email = sb.known_emails(1)[0]
    body = api.get("/v3/subscribers", params={**_secret(sb), "email_address": email.upper()}).json()
    assert body["total_subscribers"] == 1 and body["subscribers"][0]["email_address"] == email
    sid = body["subscribers"][0]["id"]
    assert api.get(f"/v3/subscribers/{sid}", params=_secret(sb)).json()["subscriber"]["id"] == sid
    assert api.get("/v3/subscribers/1", params=_secret(sb)).status_code == 404


def test_forms_and_form_subscribe(api: Api, sb: Sandbox) -> None:
    forms = api.get("/v3/forms", params=_key(sb)).json()["forms"]
    assert forms and {"id", "name", "url", "embed_js"} <= set(forms[0])
    double = next(iter(sb.double_opt_in_form_ids()))
    answer = api.post(
        f"/v3/forms/{double}/subscribe", json={**_key(sb), "email": "confirm.me@example.org"}
    ).json()
    assert answer["subscription"]["subscribable_type"] == "form"
    assert answer["subscription"]["state"] == "inactive"  # not confirmed yet
    assert api.post("/v3/forms/5/subscribe", json={**_key(sb), "email": "a@b.example"}).status_code == 404


def test_rate_limit_120_per_rolling_minute(api: Api, sb: Sandbox, clock: ManualClock) -> None:
    codes = [api.get("/v3/tags", params=_key(sb)).status_code for _ in range(121)]
    assert codes[:120] == [200] * 120 and codes[120] == 429
    clock.advance(60.01)
    assert api.get("/v3/tags", params=_secret(sb)).status_code == 200
