"""`Platform.members` on the sandbox over loopback HTTP (paging, the status filter, every client),
and `read_platform_audience` combining members with progress and Cancel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from audience_manager.api.highlevel import HighLevel
from audience_manager.api.kit_v3 import KitV3
from audience_manager.api.kit_v4 import KitV4
from audience_manager.api.platform import Platform
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Target, TargetKind
from audience_manager.core.audience_query import AudienceQuery, Source, SourceKind
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.jobs.platform_audience import (
    AudienceReadCancelled,
    ReadProgress,
    UnknownSourceError,
    read_platform_audience,
)
from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve

from .test_resolution_sandbox import Counting


def kit_v4(sb: Sandbox, base_url: str, counting: Counting) -> KitV4:
    account = Account("Shop", PlatformKind.KIT_V4, AuthKind.OAUTH, base_url=base_url)
    return KitV4(account, Credentials(sb.credentials.kit_oauth_token), transport=counting)


def kit_v3(sb: Sandbox, base_url: str, counting: Counting) -> KitV3:
    account = Account("Legacy", PlatformKind.KIT_V3, AuthKind.LEGACY_KEY, base_url=base_url)
    c = sb.credentials
    return KitV3(account, Credentials(c.kit_v3_key, c.kit_v3_secret), transport=counting)


def highlevel(sb: Sandbox, base_url: str, counting: Counting) -> HighLevel:
    account = Account(
        "Studio",
        PlatformKind.HIGHLEVEL,
        AuthKind.PRIVATE_TOKEN,
        base_url=base_url,
        location_id=sb.credentials.highlevel_location,
    )
    return HighLevel(account, Credentials(sb.credentials.highlevel_token), transport=counting)


async def collect(pages: AsyncIterator[object]) -> list[object]:
    return [p async for p in pages]


def kit_tag(sb: Sandbox, name: str, active: int, cancelled: int) -> tuple[Target, set[str], set[str]]:
    kit = sb.state.kit
    tag, _ = kit.create_tag(name)
    subs = list(kit.subscribers.values())
    a = [s for s in subs if s.state == "active"][:active]
    c = [s for s in subs if s.state == "cancelled"][:cancelled]
    for s in a + c:
        kit.tag(s.id, tag.id, "2026-01-01T00:00:00Z")
    return (
        Target(TargetKind.TAG, str(tag.id), tag.name),
        {str(s.id) for s in a},
        {str(s.id) for s in c},
    )


@pytest.mark.parametrize(("make", "n"), [(kit_v4, 2_345), (kit_v3, 180)], ids=["kit-v4", "kit-v3"])
def test_kit_members_page_through_and_filter_by_status(make: Callable[..., Platform], n: int) -> None:
    """Kit v4 pages 1,000 a cursor, v3 50 a numbered page: more than three pages either way."""
    sb = Sandbox(subscribers=5_000, contacts=10)
    target, active, cancelled = kit_tag(sb, "Listed members", n, 40)
    with serve(sb) as base_url:
        counting = Counting()
        client = make(sb, base_url, counting)

        async def read(status: str) -> list[tuple[str, str]]:
            return [p for page in await collect(client.members(target, status)) for p in page.people]  # type: ignore[attr-defined]

        async def main() -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
            try:
                return await read("active"), await read("cancelled"), await read("all")
            finally:
                await client.aclose()

        got_active, got_cancelled, got_all = asyncio.run(main())
    assert {i for i, _ in got_active} == active and len(got_active) == len(active)
    assert {i for i, _ in got_cancelled} == cancelled
    assert {i for i, _ in got_all} == active | cancelled
    kit = sb.state.kit
    assert all(kit.subscribers[int(i)].email_address == e for i, e in got_all)
    pages = [r for r in counting.requests if "subscri" in r[1] and r[1].startswith(("/v4/tags", "/v3/tags"))]
    assert len(pages) > 3  # more than one page for the 2,345 active ones


def test_highlevel_members_are_the_contacts_with_the_tag_past_one_page() -> None:
    sb = Sandbox(subscribers=10, contacts=3_000)
    contacts = [c for c in sb.state.highlevel.contacts.values() if not c.deleted]
    for c in contacts[:1_234]:
        c.tags.append("webinar-x")
    with serve(sb) as base_url:
        counting = Counting()
        client = highlevel(sb, base_url, counting)

        async def main() -> list[tuple[str, str]]:
            try:
                target = Target(TargetKind.TAG, "webinar-x", "webinar-x")
                return [p for page in await collect(client.members(target)) for p in page.people]  # type: ignore[attr-defined]
            finally:
                await client.aclose()

        got = asyncio.run(main())
    assert {i for i, _ in got} == {c.id for c in contacts[:1_234]} and len(got) == 1_234
    assert len([r for r in counting.requests if r[1] == "/contacts/search"]) == 3  # 500 a page


def test_read_platform_audience_combines_with_progress_and_no_lookups() -> None:
    sb = Sandbox(subscribers=3_000, contacts=10)
    _, w_active, _ = kit_tag(sb, "Webinar Q", 1_500, 10)
    kit = sb.state.kit
    customer, _ = kit.create_tag("Customer Q")
    for sid in sorted(w_active, key=int)[:400]:
        kit.tag(int(sid), customer.id, "2026-01-01T00:00:00Z")
    query = AudienceQuery((Source(SourceKind.TAG, "webinar q"),), (Source(SourceKind.TAG, "Customer Q"),))
    seen: list[ReadProgress] = []
    with serve(sb) as base_url:
        client = kit_v4(sb, base_url, Counting())

        async def main() -> object:
            try:
                return await read_platform_audience(client, query, progress=seen.append)
            finally:
                await client.aclose()

        result = asyncio.run(main())
    assert result.describe() == "1,500 on webinar q, 400 of them also on Customer Q: 1,100 people"  # type: ignore[attr-defined]
    rows = result.audience.rows  # type: ignore[attr-defined]
    assert len(rows) == 1_100 and all(r.kind is IdentifierKind.SUBSCRIBER_ID for r in rows)
    assert {r.identifier for r in rows} == w_active - {str(s) for s in kit.taggings[customer.id]}
    assert seen and seen[-1].source.name == "Customer Q" and seen[0].read == 1_000


def test_reading_stops_on_cancel_and_unknown_tags_are_named() -> None:
    sb = Sandbox(subscribers=3_000, contacts=10)
    kit_tag(sb, "Big", 2_500, 0)
    stop = asyncio.Event()
    with serve(sb) as base_url:
        client = kit_v4(sb, base_url, Counting())

        async def main() -> None:
            try:
                with pytest.raises(AudienceReadCancelled):
                    await read_platform_audience(
                        client,
                        AudienceQuery((Source(SourceKind.TAG, "Big"),)),
                        progress=lambda p: stop.set(),
                        stop=stop,
                    )
                with pytest.raises(UnknownSourceError) as info:
                    await read_platform_audience(client, AudienceQuery((Source(SourceKind.TAG, "Bgi"),)))
                assert "Big" in [t.name for t in info.value.available[TargetKind.TAG]]
            finally:
                await client.aclose()

        asyncio.run(main())


@pytest.mark.parametrize("make", [kit_v4, kit_v3], ids=["kit-v4", "kit-v3"])
def test_kit_form_members_and_a_form_in_a_query(make: Callable[..., Platform]) -> None:
    sb = Sandbox(subscribers=1_000, contacts=10)
    kit = sb.state.kit
    form = next(iter(kit.forms.values()))
    kit.form_members[form.id].clear()
    active = [s for s in kit.subscribers.values() if s.state == "active"]
    for s in active[:120]:
        kit.add_to_form(s.id, form.id, "2026-01-01T00:00:00Z", None)
    kit_tag(sb, "Bought", 60, 0)  # the first 60 active: all on the form too
    query = AudienceQuery((Source(SourceKind.FORM, form.name),), (Source(SourceKind.TAG, "Bought"),))
    with serve(sb) as base_url:
        client = make(sb, base_url, Counting())

        async def main() -> object:
            try:
                target = Target(TargetKind.FORM, str(form.id), form.name)
                listed = [p for page in await collect(client.members(target)) for p in page.people]  # type: ignore[attr-defined]
                assert {i for i, _ in listed} == {str(s.id) for s in active[:120]}
                return await read_platform_audience(client, query)
            finally:
                await client.aclose()

        result = asyncio.run(main())
    assert result.describe() == f"120 on form {form.name}, 60 of them also on Bought: 60 people"  # type: ignore[attr-defined]
    assert {r.identifier for r in result.audience.rows} == {str(s.id) for s in active[60:120]}  # type: ignore[attr-defined]
