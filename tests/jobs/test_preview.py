from __future__ import annotations

import asyncio

from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.jobs.preview import preview

from .journal_fakes import CountingPlatform
from .runner_fakes import caps, id_audience, spec, tag


def test_preview_counts_found_already_and_would_change_without_writing() -> None:
    platform = CountingPlatform(subscribers=200, can_read=True)
    platform.tags = {"1": {str(i) for i in range(1, 51)}}
    job = spec(id_audience(range(1, 251), invalid=["x", "y"], duplicates=["3"]), tag(1), tag(2))
    report = asyncio.run(preview(platform, job))
    assert platform.apply_calls == []
    assert (report.rows, report.invalid, report.duplicates) == (250, 2, 1)
    assert (report.found, report.not_found) == (200, 50)
    t1, t2 = report.targets
    assert (t1.already, t1.would_change, t1.not_found) == (50, 150, 50)
    assert (t2.already, t2.would_change, t2.not_found) == (0, 200, 50)
    assert report.writes == 6 and t1.requests == 3
    text = report.summary()
    assert "150 would change, 50 already so, 50 not found" in text
    assert "no change was made" in text


def test_preview_resolves_emails_and_shows_field_changes() -> None:
    platform = CountingPlatform(subscribers=20, can_read=True)
    platform.values = {("1", "9"): "Rome", ("2", "9"): "Paris"}
    rows = [AudienceRow(n, f"s{i}@example.com", IdentifierKind.EMAIL) for n, i in enumerate([1, 2, 3, 99], 1)]
    field = Target(TargetKind.FIELD, "9", "City")
    job = spec(Audience(rows=rows), field, action=Action.SET_FIELD, value="Paris")
    report = asyncio.run(preview(platform, job))
    assert platform.apply_calls == [] and platform.resolve_calls
    assert report.lookups == 4 and (report.found, report.not_found) == (3, 1)
    (t,) = report.targets
    assert (t.already, t.would_change) == (1, 2)
    assert "row 1: 'Rome' -> 'Paris'" in report.summary()


def test_preview_on_a_platform_that_cannot_read_state_still_counts_requests() -> None:
    platform = CountingPlatform(subscribers=20, caps=caps(items_per_request=1))
    report = asyncio.run(preview(platform, spec(id_audience(range(1, 11)))))
    assert not report.can_read_state and report.writes == 10
    assert "cannot read the current state" in report.summary()


def test_preview_checks_only_the_first_rows_when_limited() -> None:
    platform = CountingPlatform(subscribers=2000, can_read=True)
    report = asyncio.run(preview(platform, spec(id_audience(range(1, 2001))), limit=300))
    assert report.checked_rows == 300 and report.targets[0].would_change == 300
    assert report.writes == 20
    assert "first 300 of 2000 rows checked" in report.summary()
