"""Kit API v4 as the sandbox plays it: lists and cursors, single-row writes, bulk writes, auth, limits."""

from __future__ import annotations

from typing import Any

import pytest

from audience_manager.sandbox import ManualClock, Sandbox, SandboxLimits

from .sandbox_client import Api

QUEUE_FULL = (
    "This request exceeds your queued bulk requests limit. Please wait while we process your existing "
    "requests and try again later."
)


def _walk(api: Api, path: str, key: str, headers: dict[str, str], **params: object) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    query = dict(params)
    while True:
        body = api.get(path, headers=headers, params=query).json()
        items += body[key]
        if not body["pagination"]["has_next_page"]:
            return items
        query["after"] = body["pagination"]["end_cursor"]


# --------------------------------------------------------------------------------------------- lists


def test_tags_walk_forward_and_back_with_cursors(api: Api, sb: Sandbox, oauth: dict[str, str]) -> None:
    tags = _walk(api, "/v4/tags", "tags", oauth, per_page=7)
    assert sorted(t["id"] for t in tags) == sorted(sb.state.kit.tags)
    assert len({t["id"] for t in tags}) == len(tags)

    first = api.get("/v4/tags", headers=oauth, params={"per_page": 7}).json()
    second = api.get(
        "/v4/tags", headers=oauth, params={"per_page": 7, "after": first["pagination"]["end_cursor"]}
    )
    back = api.get(
        "/v4/tags",
        headers=oauth,
        params={"per_page": 7, "before": second.json()["pagination"]["start_cursor"]},
    ).json()
    assert back["tags"] == first["tags"]
    assert back["pagination"]["has_previous_page"] is False
    assert second.json()["pagination"]["has_previous_page"] is True


def test_page_size_defaults_to_500_and_caps_at_1000(api: Api, oauth: dict[str, str]) -> None:
    default = api.get("/v4/subscribers", headers=oauth).json()
    assert default["pagination"]["per_page"] == 500 and len(default["subscribers"]) == 500
    big = api.get("/v4/subscribers", headers=oauth, params={"per_page": 5000}).json()
    assert big["pagination"]["per_page"] == 1000
    assert "total_count" not in big["pagination"]
    counted = api.get("/v4/tags", headers=oauth, params={"include_total_count": "true"}).json()
    assert counted["pagination"]["total_count"] == len(counted["tags"])


def test_bad_cursor_is_refused(api: Api, oauth: dict[str, str]) -> None:
    response = api.get("/v4/tags", headers=oauth, params={"after": "not a cursor"})
    assert response.status_code == 422 and response.json()["errors"]


def test_forms_and_custom_fields_list(api: Api, sb: Sandbox, api_key: dict[str, str]) -> None:
    forms = api.get("/v4/forms", headers=api_key).json()["forms"]
    assert {f["id"] for f in forms} == {f.id for f in sb.state.kit.forms.values() if not f.archived}
    assert set(forms[0]) == {
        "id",
        "name",
        "created_at",
        "type",
        "format",
        "embed_js",
        "embed_url",
        "archived",
        "uid",
    }
    every = api.get("/v4/forms", headers=api_key, params={"status": "all"}).json()["forms"]
    assert len(every) == len(sb.state.kit.forms)
    fields = api.get("/v4/custom_fields", headers=api_key).json()["custom_fields"]
    assert {f["key"] for f in fields} >= {"last_name", "company"}
    assert all(f["name"].startswith("ck_field_") for f in fields)
    assert sb.double_opt_in_form_ids() and sb.double_opt_in_form_ids() <= set(sb.state.kit.forms)


def test_subscriber_lookup_by_email_and_status(api: Api, sb: Sandbox, oauth: dict[str, str]) -> None:
    email = sb.known_emails(1)[0]
    found = api.get("/v4/subscribers", headers=oauth, params={"email_address": email.upper()}).json()
    assert [s["email_address"] for s in found["subscribers"]] == [email]

    cancelled_id = sb.cancelled_subscriber_ids(1)[0]
    cancelled = sb.state.kit.subscribers[cancelled_id].email_address
    hidden = api.get("/v4/subscribers", headers=oauth, params={"email_address": cancelled}).json()
    assert hidden["subscribers"] == []
    shown = api.get(
        "/v4/subscribers", headers=oauth, params={"email_address": cancelled, "status": "all"}
    ).json()
    assert shown["subscribers"][0]["state"] == "cancelled"

    active = _walk(api, "/v4/subscribers", "subscribers", oauth, per_page=1000)
    assert all(s["state"] == "active" for s in active)
    assert len(active) == sum(1 for s in sb.state.kit.subscribers.values() if s.state == "active")
    assert api.get("/v4/subscribers", headers=oauth, params={"sort_field": "cancelled_at"}).status_code == 422


def test_get_subscriber_and_not_found(api: Api, sb: Sandbox, oauth: dict[str, str]) -> None:
    sid = sb.cancelled_subscriber_ids(1)[0]
    assert api.get(f"/v4/subscribers/{sid}", headers=oauth).json()["subscriber"]["id"] == sid
    missing = api.get(f"/v4/subscribers/{sb.unknown_subscriber_ids(1)[0]}", headers=oauth)
    assert missing.status_code == 404 and missing.json() == {"errors": ["Not Found"]}


def test_account(api: Api, api_key: dict[str, str]) -> None:
    body = api.get("/v4/account", headers=api_key).json()
    assert body["user"]["email"] and body["account"]["plan_type"] and body["account"]["primary_email_address"]


# -------------------------------------------------------------------------------------- single rows


def test_create_tag_new_existing_blank(api: Api, api_key: dict[str, str]) -> None:
    created = api.post("/v4/tags", headers=api_key, json={"name": "Spring launch"})
    assert created.status_code == 201
    again = api.post("/v4/tags", headers=api_key, json={"name": "spring launch"})
    assert again.status_code == 200 and again.json()["tag"]["id"] == created.json()["tag"]["id"]
    blank = api.post("/v4/tags", headers=api_key, json={"name": "  "})
    assert blank.status_code == 422 and blank.json() == {"errors": ["Name can't be blank"]}


def test_tag_untag_one_subscriber(api: Api, sb: Sandbox, api_key: dict[str, str]) -> None:
    sid = sb.known_subscriber_ids(1)[0]
    tag_id = api.post("/v4/tags", headers=api_key, json={"name": "Fresh"}).json()["tag"]["id"]
    first = api.post(f"/v4/tags/{tag_id}/subscribers/{sid}", headers=api_key, json={})
    assert first.status_code == 201 and first.json()["subscriber"]["tagged_at"]
    assert api.post(f"/v4/tags/{tag_id}/subscribers/{sid}", headers=api_key).status_code == 200
    tags = api.get(f"/v4/subscribers/{sid}/tags", headers=api_key).json()["tags"]
    assert tag_id in [t["id"] for t in tags]
    members = api.get(f"/v4/tags/{tag_id}/subscribers", headers=api_key).json()["subscribers"]
    assert [m["id"] for m in members] == [sid]

    assert api.delete(f"/v4/tags/{tag_id}/subscribers/{sid}", headers=api_key).status_code == 204
    assert sid not in sb.state.kit.taggings[tag_id]
    missing = api.post(f"/v4/tags/{tag_id}/subscribers/{sb.unknown_subscriber_ids(1)[0]}", headers=api_key)
    assert missing.status_code == 404 and missing.json() == {"errors": ["Not Found"]}
    assert api.delete(f"/v4/tags/999/subscribers/{sid}", headers=api_key).status_code == 404


def test_tag_by_email(api: Api, sb: Sandbox, api_key: dict[str, str]) -> None:
    tag_id = next(iter(sb.state.kit.tags))
    email = sb.known_emails(1)[0]
    assert api.post(
        f"/v4/tags/{tag_id}/subscribers", headers=api_key, json={"email_address": email}
    ).status_code in (200, 201)
    gone = api.request(
        "DELETE", f"/v4/tags/{tag_id}/subscribers", headers=api_key, json={"email_address": email}
    )
    assert gone.status_code == 204
    nobody = api.post(
        f"/v4/tags/{tag_id}/subscribers", headers=api_key, json={"email_address": "no@x.example"}
    )
    assert nobody.status_code == 404


def test_add_to_form(api: Api, sb: Sandbox, api_key: dict[str, str]) -> None:
    sid = sb.known_subscriber_ids(5)[-1]
    form_id = next(iter(sb.state.kit.forms))
    sb.state.kit.form_members[form_id].pop(sid, None)
    referrer = "https://shop.example/?utm_source=news&utm_medium=email"
    added = api.post(f"/v4/forms/{form_id}/subscribers/{sid}", headers=api_key, json={"referrer": referrer})
    assert added.status_code == 201
    assert added.json()["subscriber"]["referrer_utm_parameters"]["source"] == "news"
    assert api.post(f"/v4/forms/{form_id}/subscribers/{sid}", headers=api_key).status_code == 200
    assert api.post(f"/v4/forms/1/subscribers/{sid}", headers=api_key).status_code == 404


def test_update_subscriber_fields(api: Api, sb: Sandbox, api_key: dict[str, str]) -> None:
    sid, other = sb.known_subscriber_ids(2)
    email = sb.state.kit.subscribers[sid].email_address
    ok = api.put(
        f"/v4/subscribers/{sid}",
        headers=api_key,
        json={"email_address": email, "fields": {"company": "Acme", "Last name": "Doe", "nope": "x"}},
    )
    assert ok.status_code == 200
    assert ok.json()["subscriber"]["fields"]["company"] == "Acme"
    assert sb.state.kit.subscribers[sid].fields["last_name"] == "Doe"
    taken = api.put(
        f"/v4/subscribers/{sid}",
        headers=api_key,
        json={"email_address": sb.state.kit.subscribers[other].email_address},
    )
    assert taken.status_code == 422 and taken.json() == {"errors": ["Email address has already been taken"]}
    assert (
        api.put("/v4/subscribers/1", headers=api_key, json={"email_address": "a@b.example"}).status_code
        == 404
    )


# --------------------------------------------------------------------------------------------- bulk


def test_bulk_tag_reports_each_failure_like_the_docs(api: Api, sb: Sandbox, oauth: dict[str, str]) -> None:
    known, unknown = sb.known_subscriber_ids(3), sb.unknown_subscriber_ids(1)[0]
    tag_id = next(iter(sb.state.kit.tags))
    taggings = [{"tag_id": tag_id, "subscriber_id": s} for s in [*known, unknown]]
    taggings.append({"tag_id": 12, "subscriber_id": known[0]})
    response = api.post(
        "/v4/bulk/tags/subscribers", headers=oauth, json={"taggings": taggings, "callback_url": None}
    )
    assert response.status_code == 200
    body = response.json()
    assert [s["id"] for s in body["subscribers"]] == known
    assert body["failures"] == [
        {"errors": ["Subscriber does not exist"], "tagging": {"tag_id": tag_id, "subscriber_id": None}},
        {"errors": ["Tag does not exist"], "tagging": {"tag_id": None, "subscriber_id": known[0]}},
    ]
    assert all(s in sb.state.kit.taggings[tag_id] for s in known)


def test_bulk_tag_keeps_the_first_tagged_at_for_existing_taggings(
    api: Api, sb: Sandbox, oauth: dict[str, str]
) -> None:
    tag_id, members = next((t, m) for t, m in sb.state.kit.taggings.items() if m)
    sid, tagged_at = next(iter(members.items()))
    body = api.post(
        "/v4/bulk/tags/subscribers",
        headers=oauth,
        json={"taggings": [{"tag_id": tag_id, "subscriber_id": sid}]},
    ).json()
    assert body["subscribers"][0]["tagged_at"] == tagged_at and body["failures"] == []


def test_bulk_untag(api: Api, sb: Sandbox, oauth: dict[str, str]) -> None:
    tag_id, members = next((t, m) for t, m in sb.state.kit.taggings.items() if len(m) >= 2)
    sids = list(members)[:2]
    taggings = [{"tag_id": tag_id, "subscriber_id": s} for s in [*sids, sb.unknown_subscriber_ids(1)[0]]]
    response = api.request("DELETE", "/v4/bulk/tags/subscribers", headers=oauth, json={"taggings": taggings})
    assert response.status_code == 200
    assert response.json() == {
        "failures": [
            {"errors": ["Subscriber does not exist"], "tagging": {"tag_id": tag_id, "subscriber_id": None}}
        ]
    }
    assert not any(s in sb.state.kit.taggings[tag_id] for s in sids)


def test_bulk_forms_and_custom_fields(api: Api, sb: Sandbox, oauth: dict[str, str]) -> None:
    sid = sb.known_subscriber_ids(1)[0]
    form_id = next(iter(sb.state.kit.forms))
    forms = api.post(
        "/v4/bulk/forms/subscribers",
        headers=oauth,
        json={
            "additions": [
                {
                    "form_id": form_id,
                    "subscriber_id": sid,
                    "referrer": "https://x.example/?utm_campaign=spring",
                },
                {"form_id": 3, "subscriber_id": sid},
            ]
        },
    ).json()
    assert forms["subscribers"][0]["id"] == sid
    assert forms["failures"][0]["errors"] == ["Form does not exist"]
    assert forms["failures"][0]["subscription"]["form_id"] is None
    assert sid in sb.state.kit.form_members[form_id]

    field_id = next(iter(sb.state.kit.custom_fields))
    values = api.post(
        "/v4/bulk/custom_fields/subscribers",
        headers=oauth,
        json={
            "callback_url": None,
            "custom_field_values": [
                {"subscriber_id": sid, "subscriber_custom_field_id": field_id, "value": "Smith"},
                {
                    "subscriber_id": sb.unknown_subscriber_ids(1)[0],
                    "subscriber_custom_field_id": field_id,
                    "value": "J",
                },
                {"subscriber_id": sid, "subscriber_custom_field_id": 999_999, "value": "T"},
            ],
        },
    ).json()
    assert values["custom_field_values"] == [
        {"subscriber_id": sid, "subscriber_custom_field_id": field_id, "value": "Smith"}
    ]
    assert [f["errors"] for f in values["failures"]] == [
        ["Subscriber does not exist"],
        ["Custom field does not exist"],
    ]
    assert values["failures"][0]["custom_field_value"]["subscriber_id"] is None
    key = sb.state.kit.custom_fields[field_id].key
    assert sb.state.kit.subscribers[sid].fields[key] == "Smith"


@pytest.mark.parametrize(
    ("path", "method", "key", "message"),
    [
        ("/v4/bulk/tags/subscribers", "POST", "taggings", "No taggings included for processing"),
        ("/v4/bulk/tags/subscribers", "DELETE", "taggings", "No taggings included for processing"),
        ("/v4/bulk/forms/subscribers", "POST", "additions", "No additions included for processing"),
        (
            "/v4/bulk/custom_fields/subscribers",
            "POST",
            "custom_field_values",
            "No custom field values included for processing",
        ),
    ],
)
def test_bulk_refuses_empty_lists_and_api_keys(
    api: Api, oauth: dict[str, str], api_key: dict[str, str], path: str, method: str, key: str, message: str
) -> None:
    empty = api.request(method, path, headers=oauth, json={key: []})
    assert empty.status_code == 422 and empty.json() == {"errors": [message]}
    assert api.request(method, path, headers=oauth, json={key: "x"}).status_code == 422
    with_key = api.request(method, path, headers=api_key, json={key: [{}]})
    assert with_key.status_code == 401 and with_key.json() == {"errors": ["The access token is invalid"]}


def test_bulk_over_100_is_queued_then_applied(
    api: Api, sb: Sandbox, clock: ManualClock, oauth: dict[str, str]
) -> None:
    sids = sb.known_subscriber_ids(150)
    tag_id = api.post("/v4/tags", headers=oauth, json={"name": "Big batch"}).json()["tag"]["id"]
    response = api.post(
        "/v4/bulk/tags/subscribers",
        headers=oauth,
        json={"taggings": [{"tag_id": tag_id, "subscriber_id": s} for s in sids]},
    )
    assert response.status_code == 202 and response.json() == {}
    assert sb.state.kit.taggings[tag_id] == {}
    clock.advance(sb.limits.kit_bulk_hold_seconds + 0.1)
    api.get("/v4/account", headers=oauth)  # the queue moves on the next request
    assert len(sb.state.kit.taggings[tag_id]) == 150


def test_bulk_413_when_the_queued_budget_is_used_up(api: Api, sb: Sandbox, oauth: dict[str, str]) -> None:
    sb.bulk_queue.budget_bytes = 8_000
    sids = sb.known_subscriber_ids(101)
    tag_id = next(iter(sb.state.kit.tags))
    payload = {"taggings": [{"tag_id": tag_id, "subscriber_id": s} for s in sids]}
    assert api.post("/v4/bulk/tags/subscribers", headers=oauth, json=payload).status_code == 202
    full = api.post("/v4/bulk/tags/subscribers", headers=oauth, json=payload)
    assert full.status_code == 413 and full.json() == {"errors": [QUEUE_FULL]}
    sb.bulk_queue.drain(force=True)
    assert api.post("/v4/bulk/tags/subscribers", headers=oauth, json=payload).status_code == 202


# ------------------------------------------------------------------------------------ auth, limits


def test_missing_or_wrong_credentials(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-Kit-Api-Key": "kit_wrong"}):
        response = api.get("/v4/tags", headers=headers)
        assert response.status_code == 401 and response.json() == {"errors": ["The access token is invalid"]}


def test_token_expires_after_n_uses(api: Api, sb: Sandbox, oauth: dict[str, str]) -> None:
    sb.faults.expire_token_after = 2
    assert [api.get("/v4/account", headers=oauth).status_code for _ in range(2)] == [200, 200]
    expired = api.get("/v4/account", headers=oauth)
    assert expired.status_code == 401 and expired.json() == {"errors": ["The access token expired"]}


def test_api_key_limit_is_120_per_rolling_minute(
    api: Api, clock: ManualClock, api_key: dict[str, str]
) -> None:
    statuses = []
    for _ in range(121):
        statuses.append(api.get("/v4/account", headers=api_key).status_code)
        clock.advance(0.1)
    assert statuses[:120] == [200] * 120
    assert statuses[120] == 429
    refused = api.get("/v4/account", headers=api_key)
    assert refused.text == "Retry later" and refused.headers["content-type"].startswith("text/plain")
    assert "retry-after" not in refused.headers
    clock.advance(60 - 12 + 0.2)  # the first hits leave the window, a few at a time: rolling, not fixed
    assert api.get("/v4/account", headers=api_key).status_code == 200


def test_oauth_limit_is_600_and_limits_can_be_lifted(api: Api, sb: Sandbox, oauth: dict[str, str]) -> None:
    codes = [api.get("/v4/account", headers=oauth).status_code for _ in range(601)]
    assert codes.count(200) == 600 and codes[-1] == 429
    assert sb.stats.total_429 == 1
    sb.enforce_limits = False
    assert api.get("/v4/account", headers=oauth).status_code == 200


def test_stats_count_by_template(api: Api, sb: Sandbox, oauth: dict[str, str]) -> None:
    sb.stats.reset()
    for sid in sb.known_subscriber_ids(3):
        api.get(f"/v4/subscribers/{sid}", headers=oauth)
    api.get("/v4/subscribers/1", headers=oauth)
    assert sb.stats.requests[("/v4/subscribers/{id}", 200)] == 3
    assert sb.stats.count("/v4/subscribers/{id}", 404) == 1
    assert sb.stats.total == 4


def test_limits_are_configurable() -> None:
    sb = Sandbox(
        subscribers=50, contacts=10, clock=ManualClock(), limits=SandboxLimits(kit_api_key_per_minute=2)
    )
    assert sb.kit_v4.key_window.limit == 2
