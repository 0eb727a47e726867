"""The sandbox's bulk answers checked against the platforms' published OpenAPI documents.

Where a document's schema contradicts its own examples (which the sandbox follows, as the app's
design asks), the schema is widened here, one named patch per contradiction, so everything else is
still checked strictly.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.demo import SandboxTransport

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SPECS = SHARED / "specs"
KIT_HOST, HL_HOST = "https://api.kit.com", "https://services.leadconnectorhq.com"

pytestmark = pytest.mark.skipif(
    not (SPECS / "kit-v4.openapi.json").is_file(),
    reason=f"the platforms' OpenAPI documents are not at {SPECS} (they live next to the repository)",
)


def _load(name: str) -> dict[str, Any]:
    return dict(json.loads((SPECS / name).read_text()))


def _openapi(spec: dict[str, Any]) -> OpenAPI:
    return OpenAPI.from_dict(spec, base_uri=SPECS.as_uri() + "/", config=Config(spec_validator_cls=None))


def _response_schema(spec: dict[str, Any], path: str, method: str, status: str = "200") -> dict[str, Any]:
    schema = spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    assert isinstance(schema, dict)
    return schema


def _nullable(schema: dict[str, Any], *keys: str) -> None:
    for key in keys:
        schema["properties"][key]["nullable"] = True


@pytest.fixture(scope="module")
def kit_spec() -> OpenAPI:
    spec = copy.deepcopy(_load("kit-v4.openapi.json"))
    tagging = _response_schema(spec, "/v4/bulk/tags/subscribers", "post")["properties"]
    # Examples: "Tag does not exist" -> tag_id null; subscribers without a first name -> null.
    _nullable(tagging["failures"]["items"]["properties"]["tagging"], "tag_id")
    _nullable(tagging["subscribers"]["items"], "first_name")
    forms = _response_schema(spec, "/v4/bulk/forms/subscribers", "post")["properties"]
    # Example: "Form does not exist" -> form_id null. No referrer sent -> the sandbox answers null.
    _nullable(forms["failures"]["items"]["properties"]["subscription"], "form_id", "referrer")
    _nullable(forms["subscribers"]["items"], "first_name", "referrer")
    return _openapi(spec)


@pytest.fixture(scope="module")
def custom_fields_spec() -> OpenAPI:
    """The bulk custom-field endpoint (2026) is not in the JSON copy; its doc page embeds the YAML."""
    for page in sorted((SHARED / "seeds").glob("*.txt")):
        text = page.read_text()
        if "post /v4/bulk/custom_fields/subscribers" in text:
            block = re.search(r"````yaml[^\n]*\n(.*?)\n````", text, re.S)
            assert block is not None
            return _openapi(yaml.safe_load(block.group(1)))
    pytest.skip("no documentation page for POST /v4/bulk/custom_fields/subscribers next to the repository")


@pytest.fixture(scope="module")
def hl_spec() -> OpenAPI:
    spec = copy.deepcopy(_load("highlevel-contacts.openapi.json"))
    dto = spec["components"]["schemas"]["UpdateTagsResponseDTO"]
    # The spec types `responses` items as strings; its example (and the platform) send objects.
    dto["properties"]["responses"]["items"] = {
        "type": "object",
        "required": ["contactId", "message", "type"],
        "properties": {
            "contactId": {"type": "string"},
            "message": {"type": "string"},
            "type": {"type": "string", "enum": ["success", "error"]},
            "oldTags": {"type": "array", "items": {"type": "string"}},
            "tagsAdded": {"type": "array", "items": {"type": "string"}},
            "tagsRemoved": {"type": "array", "items": {"type": "string"}},
        },
    }
    return _openapi(spec)


def _call(
    sb: Sandbox, method: str, path: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=SandboxTransport(app=sb.app), base_url="http://t") as client:
            return await client.request(method, path, json=body, headers=headers)

    return asyncio.run(run())


def _check(
    api: OpenAPI,
    host: str,
    method: str,
    path: str,
    body: dict[str, Any],
    answer: httpx.Response,
    headers: dict[str, str],
) -> None:
    request = MockRequest(
        host,
        method.lower(),
        path,
        data=json.dumps(body).encode(),
        content_type="application/json",
        headers=headers,
    )
    response = MockResponse(
        answer.content,
        status_code=answer.status_code,
        content_type=answer.headers["content-type"].split(";")[0],
    )
    api.validate_response(request, response)


@pytest.fixture
def small() -> Sandbox:
    return Sandbox(subscribers=300, contacts=60)


def _kit_bulk_cases(sb: Sandbox) -> list[tuple[str, str, dict[str, Any]]]:
    known, unknown = sb.known_subscriber_ids(3), sb.unknown_subscriber_ids(1)[0]
    tag_id, form_id = next(iter(sb.state.kit.tags)), next(iter(sb.state.kit.forms))
    taggings = [{"tag_id": tag_id, "subscriber_id": s} for s in [*known, unknown]] + [
        {"tag_id": 77, "subscriber_id": known[0]}
    ]
    additions = [
        {"form_id": form_id, "subscriber_id": s, "referrer": "https://a.example/?utm_source=x"}
        for s in [*known, unknown]
    ] + [{"form_id": 3, "subscriber_id": known[1]}]
    many = [{"tag_id": tag_id, "subscriber_id": s} for s in sb.known_subscriber_ids(101)]
    return [
        ("POST", "/v4/bulk/tags/subscribers", {"taggings": taggings, "callback_url": None}),
        ("DELETE", "/v4/bulk/tags/subscribers", {"taggings": taggings, "callback_url": None}),
        ("POST", "/v4/bulk/forms/subscribers", {"additions": additions, "callback_url": None}),
        ("POST", "/v4/bulk/tags/subscribers", {"taggings": many, "callback_url": None}),  # 202
        ("POST", "/v4/bulk/tags/subscribers", {"taggings": []}),  # 422
        ("POST", "/v4/bulk/forms/subscribers", {"additions": []}),  # 422
    ]


def test_kit_bulk_answers_match_the_spec(small: Sandbox, kit_spec: OpenAPI) -> None:
    headers = {"Authorization": f"Bearer {small.credentials.kit_oauth_token}"}
    statuses = []
    for method, path, body in _kit_bulk_cases(small):
        answer = _call(small, method, path, body, headers)
        statuses.append(answer.status_code)
        _check(kit_spec, KIT_HOST, method, path, body, answer, headers)
    assert statuses == [200, 200, 200, 202, 422, 422]
    small.bulk_queue.budget_bytes = 10
    body = {"taggings": [{"tag_id": 1, "subscriber_id": 2}]}
    full = _call(small, "POST", "/v4/bulk/tags/subscribers", body, headers)
    assert full.status_code == 413
    _check(kit_spec, KIT_HOST, "POST", "/v4/bulk/tags/subscribers", body, full, headers)
    wrong = _call(small, "POST", "/v4/bulk/tags/subscribers", body, {"Authorization": "Bearer nope"})
    _check(kit_spec, KIT_HOST, "POST", "/v4/bulk/tags/subscribers", body, wrong, headers)


def test_the_check_itself_catches_a_wrong_body(small: Sandbox, kit_spec: OpenAPI) -> None:
    body = {"taggings": [{"tag_id": 1, "subscriber_id": 2}]}
    request = MockRequest(
        KIT_HOST,
        "post",
        "/v4/bulk/tags/subscribers",
        data=json.dumps(body).encode(),
        content_type="application/json",
    )
    bad = MockResponse(
        b'{"subscribers": [{"id": "x"}], "failures": []}', status_code=200, content_type="application/json"
    )
    with pytest.raises(Exception, match=r"InvalidData|not valid"):
        kit_spec.validate_response(request, bad)


def test_kit_bulk_custom_fields_match_the_doc_page(small: Sandbox, custom_fields_spec: OpenAPI) -> None:
    headers = {"Authorization": f"Bearer {small.credentials.kit_oauth_token}"}
    sid, field_id = small.known_subscriber_ids(1)[0], next(iter(small.state.kit.custom_fields))
    body = {
        "callback_url": None,
        "custom_field_values": [
            {"subscriber_id": sid, "subscriber_custom_field_id": field_id, "value": "Smith"},
            {
                "subscriber_id": small.unknown_subscriber_ids(1)[0],
                "subscriber_custom_field_id": field_id,
                "value": "J",
            },
            {"subscriber_id": sid, "subscriber_custom_field_id": 999_999, "value": "T"},
        ],
    }
    answer = _call(small, "POST", "/v4/bulk/custom_fields/subscribers", body, headers)
    assert answer.status_code == 200
    _check(custom_fields_spec, KIT_HOST, "POST", "/v4/bulk/custom_fields/subscribers", body, answer, headers)


def test_highlevel_bulk_tags_match_the_spec(small: Sandbox, hl_spec: OpenAPI) -> None:
    headers = {"Authorization": f"Bearer {small.credentials.highlevel_token}", "Version": "2021-07-28"}
    contacts = [
        *small.known_contact_ids(2),
        "abcdef",
        *small.deleted_contact_ids(1),
        *small.foreign_contact_ids(1),
    ]
    for kind in ("add", "remove"):
        body = {
            "contacts": contacts,
            "tags": ["vip"],
            "locationId": small.credentials.highlevel_location,
            "removeAllTags": False,
        }
        answer = _call(small, "POST", f"/contacts/bulk/tags/update/{kind}", body, headers)
        assert answer.status_code == 201
        _check(hl_spec, HL_HOST, "POST", f"/contacts/bulk/tags/update/{kind}", body, answer, headers)


def test_the_highlevel_check_catches_a_wrong_body(hl_spec: OpenAPI) -> None:
    body = {"contacts": [], "tags": ["a"], "locationId": "x"}
    request = MockRequest(
        HL_HOST,
        "post",
        "/contacts/bulk/tags/update/add",
        data=json.dumps(body).encode(),
        content_type="application/json",
    )
    bad = MockResponse(
        b'{"succeded": "yes", "responses": [{"contactId": 1}]}',
        status_code=201,
        content_type="application/json",
    )
    with pytest.raises(Exception, match=r"InvalidData|not valid"):
        hl_spec.validate_response(request, bad)
