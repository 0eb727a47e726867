"""The runner's resolving step with a fake platform: the plan it follows, progress, Cancel, the cache."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from audience_manager.api.resolution import (
    EmailMatcher,
    ResolutionMethod,
    ResolutionPlan,
    ResolveProgress,
    cheapest,
    listing,
    lookups,
    searches,
)
from audience_manager.core.accounts import Account
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.outcomes import Outcome
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.jobs.directory import NOT_FOUND_TTL, Directory, account_key, clear_directory
from audience_manager.jobs.events import JobState, Progress
from audience_manager.jobs.preview import preview
from audience_manager.jobs.progress_text import describe_progress
from audience_manager.jobs.runner import Runner

from .runner_fakes import MemoryPlatform, spec, tag


@dataclass
class ListingPlatform(MemoryPlatform):
    """Resolves by "reading the account" page by page; `hold` stops the reading half way."""

    account_size: int = 20_000
    page: int = 1_000
    hold: asyncio.Event | None = None
    pages_read: int = 0
    plans: list[ResolutionPlan] = field(default_factory=list)

    async def plan_resolution(self, emails: Sequence[str]) -> ResolutionPlan:
        plan = cheapest(
            [
                lookups(len(emails), probe_requests=1),
                listing(len(emails), self.account_size, self.page, "subscribers", probe_requests=1),
            ]
        )
        self.plans.append(plan)
        return plan

    async def resolve(
        self,
        emails: Sequence[str],
        *,
        plan: ResolutionPlan | None = None,
        progress: ResolveProgress | None = None,
    ) -> dict[str, str | None]:
        if plan is None or plan.method is not ResolutionMethod.LISTING:
            return await super().resolve(emails, plan=plan, progress=progress)
        self.resolve_calls.append(list(emails))
        matcher = EmailMatcher(emails)
        for start in range(1, self.account_size + 1, self.page):
            if self.hold is not None and start > self.account_size // 2:
                await self.hold.wait()
            ids = range(start, min(self.account_size, start + self.page - 1) + 1)
            self.pages_read += 1
            found = matcher.take((f"s{i}@example.com", str(i)) for i in ids if i <= self.subscribers)
            if progress is not None:
                progress(min(self.account_size, start + self.page - 1), self.account_size, found)
            await asyncio.sleep(0.005)
        return matcher.answers(complete_listing=True)


def emails_audience(known: int, unknown: int) -> Audience:
    emails = [f"s{i}@example.com" for i in range(1, known + 1)] + [
        f"x{i}@nowhere.example" for i in range(unknown)
    ]
    return Audience(rows=[AudienceRow(n, e, IdentifierKind.EMAIL) for n, e in enumerate(emails, 1)])


def test_costs_are_compared_once_for_every_platform() -> None:
    assert (
        cheapest(
            [lookups(3_050, probe_requests=1), listing(3_050, 20_000, 1000, "subscribers", probe_requests=1)]
        ).requests
        == 21
    )
    assert (
        cheapest(
            [lookups(5, probe_requests=1), listing(5, 20_000, 1000, "subscribers", probe_requests=1)]
        ).method
        is ResolutionMethod.LOOKUP
    )
    assert searches(1_530, 100, probe_requests=1).requests == 17
    plan = listing(3_050, 20_000, 1000, "subscribers")
    assert (
        plan.describe()
        == "resolving 3,050 emails: 20 requests (reading the account's 20,000 subscribers and matching here)"
    )


def test_matching_ignores_case_and_spaces_and_answers_in_the_callers_words() -> None:
    matcher = EmailMatcher([" Ann@Example.com", "bob@example.com"])
    assert matcher.take([("ann@example.com", "7"), ("carol@example.com", "9")]) == {" Ann@Example.com": "7"}
    assert matcher.answers(complete_listing=False) == {" Ann@Example.com": "7"}
    assert matcher.answers(complete_listing=True) == {" Ann@Example.com": "7", "bob@example.com": None}


def test_the_runner_follows_the_cheapest_plan_and_reports_reading_progress() -> None:
    platform = ListingPlatform(subscribers=5_000)
    job = spec(emails_audience(3_000, 50), tag(1))
    runner = Runner(platform, job, flush_interval=0.01)

    async def go() -> list[Progress]:
        seen: list[Progress] = []
        async for event in runner.events():
            if isinstance(event, Progress):
                seen.append(event)
        return seen

    seen = asyncio.run(go())
    outcomes = runner.outcomes()
    assert len(outcomes) == 3_050 and len({o.row for o in outcomes}) == 3_050
    assert sum(o.outcome is Outcome.SKIPPED for o in outcomes) == 50
    assert all("Not found" in o.reason for o in outcomes if o.outcome is Outcome.SKIPPED)
    assert runner.resolution is not None and runner.resolution.method is ResolutionMethod.LISTING
    assert platform.pages_read == 20 and len(platform.resolve_calls) == 1
    resolving = [p for p in seen if p.state is JobState.RESOLVING and p.resolve_unit]
    assert resolving, "progress while resolving"
    text = describe_progress(resolving[-1])
    assert text.startswith("looking up emails: ") and "of 20,000 subscribers read" in text


def test_cancel_while_reading_ends_every_unsent_row_cancelled() -> None:
    hold = asyncio.Event()  # never set: the reading stops half way until Cancel
    platform = ListingPlatform(subscribers=20_000, hold=hold)
    job = spec(emails_audience(3_000, 50), tag(1))
    runner = Runner(platform, job, flush_interval=0.01, cancel_grace=0.1)

    async def go() -> None:
        async def cancel_soon() -> None:
            while platform.pages_read < 10:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            runner.cancel()

        canceller = asyncio.create_task(cancel_soon())
        await runner.run()
        await canceller

    asyncio.run(go())
    outcomes = runner.outcomes()
    assert runner.state is JobState.CANCELLED
    assert len(outcomes) == 3_050 and len({o.row for o in outcomes}) == 3_050
    assert {o.outcome for o in outcomes} == {Outcome.CANCELLED}  # nothing was sent; nothing known missing yet
    assert platform.apply_calls == []


def test_preview_states_how_emails_are_resolved_and_what_it_costs() -> None:
    platform = ListingPlatform(subscribers=5_000)
    job = spec(emails_audience(3_000, 50), tag(1))
    report = asyncio.run(preview(platform, job, limit=100))
    assert report.resolution is not None and report.lookups == 21
    assert report.resolution_text.startswith("Resolving 3,050 emails: 21 requests")
    assert "Resolving 3,050 emails: 21 requests" in report.summary()


def account(name: str = "Shop") -> Account:
    return Account(name, PlatformKind.KIT_V4, AuthKind.OAUTH, base_url="https://api.kit.com/")


def test_the_directory_keeps_ids_and_not_found_for_a_while(tmp_path: Path) -> None:
    now = [1_000_000.0]
    path = tmp_path / "journal.sqlite3"
    d = Directory(path, account(), clock=lambda: now[0])
    d.put({"Ann@Example.com ": "7", "nobody@x.example": None})
    d.flush()
    assert d.get(["ann@example.com", "nobody@x.example", "new@x.example"]) == {
        "ann@example.com": "7",
        "nobody@x.example": None,
    }
    now[0] += NOT_FOUND_TTL + 1
    assert d.get(["ann@example.com", "nobody@x.example"]) == {"ann@example.com": "7"}
    d.forget(["ANN@example.com"])
    assert d.get(["ann@example.com"]) == {}
    other = Directory(path, account("Other shop"))
    other.put({"ann@example.com": "99"})
    other.close()
    d.put({"ann@example.com": "8"})
    d.close()
    assert clear_directory(path, account()) == 2  # only this account's
    assert Directory(path, account("Other shop")).get(["ann@example.com"]) == {"ann@example.com": "99"}
    assert clear_directory(path) == 1


def test_the_account_key_names_no_secret() -> None:
    key = account_key(account())
    assert key == "kit-v4 https://api.kit.com  Shop"


def test_a_job_in_the_journal_keeps_its_answers_for_the_next_job(tmp_path: Path) -> None:
    from audience_manager.jobs.journal import Journal

    platform = MemoryPlatform(subscribers=100)
    audience = emails_audience(30, 5)
    job = spec(audience, tag(1))
    with Journal(tmp_path / "journal.sqlite3") as journal:
        acct = Account(job.account, PlatformKind.KIT_V4, AuthKind.OAUTH)
        for _ in range(2):
            job_id = journal.create_job(job, acct)
            asyncio.run(Runner(platform, job, recorder=journal, job_id=job_id).run())
        assert len(platform.resolve_calls) == 4  # 35 emails, 10 a call, first job only
        assert Directory(journal.path, acct).size() == 35


def test_preview_with_the_directory_prices_only_emails_it_does_not_know(tmp_path: Path) -> None:
    platform = ListingPlatform(subscribers=5_000)
    audience = emails_audience(3_000, 50)
    d = Directory(tmp_path / "journal.sqlite3", account())
    d.put({r.identifier: r.identifier[1:].split("@")[0] for r in audience.rows[:2_990]})
    d.put(dict.fromkeys(r.identifier for r in audience.rows[3_000:3_040]))
    d.flush()
    report = asyncio.run(preview(platform, spec(audience, tag(1)), limit=None, directory=d))
    assert report.resolution is not None and report.resolution.method is ResolutionMethod.LOOKUP
    assert report.resolution.emails == 20 and report.lookups == 21
    assert report.found == 3_000 and report.not_found == 50
    d.flush()
    assert len(d.get(r.identifier for r in audience.rows)) == 3_050  # what it learnt is kept
    d.close()
