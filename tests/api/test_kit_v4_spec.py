"""The spec check used by the Kit v4 tests catches what it should (so a clean run means something)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from .openapi_check import SpecCheckingTransport


def send(shared: Path, method: str, url: str, **kw: object) -> list[str]:
    checker = SpecCheckingTransport(httpx.MockTransport(lambda r: httpx.Response(200, json={})), shared)

    async def main() -> None:
        async with httpx.AsyncClient(transport=checker) as client:
            await client.request(method, url, **kw)  # type: ignore[arg-type]

    asyncio.run(main())
    return checker.problems


def test_good_requests_pass(shared_dir: Path) -> None:
    base = "http://127.0.0.1:1"
    assert send(shared_dir, "GET", f"{base}/v4/tags", params={"per_page": 1000, "after": "WzE0N10="}) == []
    body = {"taggings": [{"tag_id": 1, "subscriber_id": 2}]}
    assert send(shared_dir, "POST", f"{base}/v4/bulk/tags/subscribers", json=body) == []
    assert send(shared_dir, "DELETE", f"{base}/v4/bulk/tags/subscribers", json=body) == []
    values = {
        "custom_field_values": [{"subscriber_id": 1, "subscriber_custom_field_id": 2, "value": "x"}],
        "callback_url": None,
    }
    assert send(shared_dir, "POST", f"{base}/v4/bulk/custom_fields/subscribers", json=values) == []


def test_bad_requests_are_reported(shared_dir: Path) -> None:
    base = "http://127.0.0.1:1"
    assert send(shared_dir, "POST", f"{base}/v4/bulk/tags/subscribers", json={"taggings": [{"tag_id": "x"}]})
    assert send(shared_dir, "POST", f"{base}/v4/bulk/tags/subscriberz", json={})
    # the seed's schema: callback_url is required on bulk custom field values
    assert send(
        shared_dir,
        "POST",
        f"{base}/v4/bulk/custom_fields/subscribers",
        json={"custom_field_values": [{"subscriber_id": 1, "subscriber_custom_field_id": 2, "value": "x"}]},
    )
    assert send(
        shared_dir, "PUT", f"{base}/v4/subscribers/12", json={"fields": {"last_name": "x"}}
    )  # no email
