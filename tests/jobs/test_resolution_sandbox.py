"""Email audiences on the sandbox over loopback HTTP, at the platforms' real limits: the issue's shapes.

Kit v4: 3,000 known and 50 unknown emails on a 20,000-subscriber account, tagged over OAuth in fewer
than 150 requests; HighLevel: 1,500 known and 30 unknown on 10,000 contacts in fewer than 80. Then
the directory cache (a second job sends no lookups), a stale cached id, and the refused batched search.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from audience_manager.api.highlevel import HighLevel
from audience_manager.api.kit_v4 import KitV4
from audience_manager.api.platform import Platform
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.jobs.directory import Directory, clear_directory
from audience_manager.jobs.journal import Journal
from audience_manager.jobs.runner import Runner
from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve

from ..api.conftest import SHARED
from ..api.openapi_check import SpecCheckingTransport


@dataclass
class Counting(httpx.AsyncBaseTransport):
    """Real HTTP, every request and status kept."""

    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, query
    statuses: Counter[int] = field(default_factory=Counter)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # A HighLevel search on a tag reads its members before the first write (for an exact
        # undo); only searches on emails resolve them.
        query = request.url.query.decode()
        if request.url.path == "/contacts/search" and b'"field":"tags"' in request.content.replace(b" ", b""):
            query = "members of a tag"
        self.requests.append((request.method, request.url.path, query))
        response = await self.inner.handle_async_request(request)
        self.statuses[response.status_code] += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def lookups(self) -> list[tuple[str, str, str]]:
        """Requests spent resolving emails (Kit's subscriber list, HighLevel's search)."""
        return [
            r
            for r in self.requests
            if r[1] in ("/v4/subscribers", "/contacts/search") and r[2] != "members of a tag"
        ]


def email_rows(emails: list[str]) -> list[AudienceRow]:
    return [AudienceRow(n, e, IdentifierKind.EMAIL) for n, e in enumerate(emails, 1)]


async def run_job(journal: Journal, account: Account, platform: Platform, spec: JobSpec) -> list[RowOutcome]:
    job_id = journal.create_job(spec, account)
    try:
        return await Runner(platform, spec, recorder=journal, job_id=job_id).run()
    finally:
        await platform.aclose()


def assert_one_outcome_each(outcomes: list[RowOutcome], rows: int) -> None:
    assert len(outcomes) == rows and len({(o.row, o.target_id) for o in outcomes}) == rows


def kit_client(account: Account, sb: Sandbox, counting: Counting) -> KitV4:
    checked = SpecCheckingTransport(counting, SHARED if SHARED.is_dir() else None)
    kit = KitV4(account, Credentials(sb.credentials.kit_oauth_token), transport=checked)
    kit.spec_checks = checked  # type: ignore[attr-defined]
    return kit


def test_kit_v4_three_thousand_emails_tagged_in_few_requests_then_cached(tmp_path: Path) -> None:
    sb = Sandbox(subscribers=20_000, contacts=10)
    kit = sb.state.kit
    known = sb.known_emails(3_000, state=None)
    unknown = [f"nobody{n}@nowhere.example" for n in range(50)]
    emails = known[:1500] + unknown + known[1500:]
    tag, _ = kit.create_tag("Webinar 2026-12")
    spec = JobSpec(
        "Shop", Action.TAG, (Target(TargetKind.TAG, str(tag.id), tag.name),), Audience(email_rows(emails))
    )
    with serve(sb) as base_url, Journal(tmp_path / "journal.sqlite3") as journal:
        account = Account("Shop", PlatformKind.KIT_V4, AuthKind.OAUTH, base_url=base_url)
        counting = Counting()
        client = kit_client(account, sb, counting)
        started = time.monotonic()
        outcomes = asyncio.run(run_job(journal, account, client, spec))
        seconds = time.monotonic() - started
        checks = client.spec_checks.problems  # type: ignore[attr-defined]

        assert checks == [], checks
        assert_one_outcome_each(outcomes, len(emails))
        by_outcome = Counter(o.outcome for o in outcomes)
        assert by_outcome[Outcome.SUCCEEDED] == 3_000 and by_outcome[Outcome.SKIPPED] == 50
        skipped = [o for o in outcomes if o.outcome is Outcome.SKIPPED]
        assert {o.identifier for o in skipped} == set(unknown)
        assert all("Not found" in o.reason for o in skipped)
        assert len(kit.taggings[tag.id]) == 3_000  # the unknown emails were never sent
        total = len(counting.requests)
        assert total < 150, f"{total} requests"
        assert len(counting.lookups()) <= 21  # one size request + 20 pages of 1,000
        assert counting.statuses[429] == 0 and seconds < 60

        # The next job on the same list looks nothing up: every answer is in the directory.
        tag2, _ = kit.create_tag("Webinar replay")
        again = JobSpec("Shop", Action.TAG, (Target(TargetKind.TAG, str(tag2.id), tag2.name),), spec.audience)
        counting2 = Counting()
        outcomes2 = asyncio.run(run_job(journal, account, kit_client(account, sb, counting2), again))
        assert_one_outcome_each(outcomes2, len(emails))
        assert counting2.lookups() == []
        assert Counter(o.outcome for o in outcomes2)[Outcome.SKIPPED] == 50
        assert len(kit.taggings[tag2.id]) == 3_000

        # Forgetting them makes the next job ask again.
        assert clear_directory(journal, "Shop") == len(emails)
        assert Directory(journal.path, account).get(emails) == {}


def test_a_cached_id_kit_no_longer_knows_is_looked_up_once_and_sent_again(tmp_path: Path) -> None:
    sb = Sandbox(subscribers=500, contacts=10)
    kit = sb.state.kit
    emails = sb.known_emails(20, state=None)
    tag, _ = kit.create_tag("Returning")
    target = Target(TargetKind.TAG, str(tag.id), tag.name)
    spec = JobSpec("Shop", Action.TAG, (target,), Audience(email_rows(emails)))
    with serve(sb) as base_url, Journal(tmp_path / "journal.sqlite3") as journal:
        account = Account("Shop", PlatformKind.KIT_V4, AuthKind.OAUTH, base_url=base_url)
        asyncio.run(run_job(journal, account, kit_client(account, sb, Counting()), spec))
        # The subscriber is deleted in Kit and signs up again: same email, a new id.
        old = kit.find_email(emails[3])
        assert old is not None
        del kit.subscribers[old.id]
        kit.taggings[tag.id].pop(old.id, None)
        kit.tags_of.pop(old.id, None)
        new = kit.add_subscriber(old.email_address, None, "active", old.created_at)
        tag2, _ = kit.create_tag("Returning again")
        again = JobSpec("Shop", Action.TAG, (Target(TargetKind.TAG, str(tag2.id), tag2.name),), spec.audience)
        counting = Counting()
        outcomes = asyncio.run(run_job(journal, account, kit_client(account, sb, counting), again))
        assert_one_outcome_each(outcomes, 20)
        assert all(o.outcome is Outcome.SUCCEEDED for o in outcomes), [o for o in outcomes if o.reason]
        assert new.id in kit.taggings[tag2.id]
        lookups = [r for r in counting.lookups() if "email_address" in r[2]]
        assert len(lookups) == 1  # only the stale one, once
        assert Directory(journal.path, account).get([emails[3]]) == {emails[3]: str(new.id)}


def hl_client(account: Account, sb: Sandbox, counting: Counting) -> HighLevel:
    return HighLevel(account, Credentials(sb.credentials.highlevel_token), transport=counting)


def hl_emails(sb: Sandbox, n: int) -> list[str]:
    """`n` distinct emails of the location's contacts (the seed gives a few contacts the same one)."""
    contacts = sb.state.highlevel.contacts
    return list(dict.fromkeys(contacts[c].email for c in sb.known_contact_ids(n + n // 10)))[:n]


def test_highlevel_fifteen_hundred_emails_tagged_in_few_requests(tmp_path: Path) -> None:
    sb = Sandbox(subscribers=100, contacts=10_000)
    known = hl_emails(sb, 1_500)
    unknown = [f"nobody{n}@nowhere.example" for n in range(30)]
    emails = unknown[:10] + known + unknown[10:]
    spec = JobSpec(
        "Studio",
        Action.TAG,
        (Target(TargetKind.TAG, "webinar-dec", "webinar-dec"),),
        Audience(email_rows(emails)),
    )
    with serve(sb) as base_url, Journal(tmp_path / "journal.sqlite3") as journal:
        account = Account(
            "Studio",
            PlatformKind.HIGHLEVEL,
            AuthKind.PRIVATE_TOKEN,
            base_url=base_url,
            location_id=sb.credentials.highlevel_location,
        )
        counting = Counting()
        started = time.monotonic()
        outcomes = asyncio.run(run_job(journal, account, hl_client(account, sb, counting), spec))
        seconds = time.monotonic() - started
        assert_one_outcome_each(outcomes, len(emails))
        by_outcome = Counter(o.outcome for o in outcomes)
        odd = Counter((o.outcome, o.reason) for o in outcomes if o.outcome is not Outcome.SUCCEEDED)
        assert by_outcome[Outcome.SKIPPED] == 30 and by_outcome[Outcome.SUCCEEDED] == 1_500, odd
        assert all("Not found" in o.reason for o in outcomes if o.outcome is Outcome.SKIPPED)
        assert len(counting.requests) < 80, f"{len(counting.requests)} requests"
        assert counting.statuses[429] == 0 and seconds < 60
        tagged = [c for c in sb.state.highlevel.contacts.values() if "webinar-dec" in c.tags]
        assert len(tagged) == 1_500

        counting2 = Counting()
        again = JobSpec("Studio", Action.UNTAG, spec.targets, spec.audience)
        outcomes2 = asyncio.run(run_job(journal, account, hl_client(account, sb, counting2), again))
        assert_one_outcome_each(outcomes2, len(emails))
        assert counting2.lookups() == []  # the undo-like second job asks nothing again


def test_highlevel_falls_back_to_one_search_per_email_when_the_batched_form_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sb = Sandbox(subscribers=100, contacts=2_000)
    sb.highlevel.search_groups = False
    known = hl_emails(sb, 40)
    emails = [*known, "nobody@nowhere.example", "nobody2@nowhere.example"]
    spec = JobSpec(
        "Studio", Action.TAG, (Target(TargetKind.TAG, "fallback", "fallback"),), Audience(email_rows(emails))
    )
    with caplog.at_level(logging.WARNING), serve(sb) as base_url, Journal(tmp_path / "j.sqlite3") as journal:
        account = Account(
            "Studio",
            PlatformKind.HIGHLEVEL,
            AuthKind.PRIVATE_TOKEN,
            base_url=base_url,
            location_id=sb.credentials.highlevel_location,
        )
        # A list small next to the location: batched searches would be the cheaper way.
        outcomes = asyncio.run(run_job(journal, account, hl_client(account, sb, Counting()), spec))
    assert_one_outcome_each(outcomes, len(emails))
    by_outcome = Counter(o.outcome for o in outcomes)
    assert by_outcome[Outcome.SUCCEEDED] == 40 and by_outcome[Outcome.SKIPPED] == 2
    refusals = [r for r in caplog.records if "many emails at once" in r.getMessage()]
    assert len(refusals) == 1


def test_highlevel_asks_fewer_emails_a_search_when_it_refuses_that_many(tmp_path: Path) -> None:
    sb = Sandbox(subscribers=100, contacts=2_000)
    sb.highlevel.search_group_max = 60
    known = hl_emails(sb, 300)
    emails = [*known, "nobody@nowhere.example"]
    spec = JobSpec(
        "Studio", Action.TAG, (Target(TargetKind.TAG, "halves", "halves"),), Audience(email_rows(emails))
    )
    with serve(sb) as base_url, Journal(tmp_path / "j.sqlite3") as journal:
        account = Account(
            "Studio",
            PlatformKind.HIGHLEVEL,
            AuthKind.PRIVATE_TOKEN,
            base_url=base_url,
            location_id=sb.credentials.highlevel_location,
        )
        counting = Counting()
        outcomes = asyncio.run(run_job(journal, account, hl_client(account, sb, counting), spec))
    assert_one_outcome_each(outcomes, len(emails))
    assert Counter(o.outcome for o in outcomes)[Outcome.SUCCEEDED] == 300
    assert counting.statuses[422] >= 1 and len(counting.lookups()) < 30
