from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.jobs.journal import KIND_UNDO, Journal
from audience_manager.jobs.runner import Runner
from audience_manager.jobs.undo import NO_FORM_REMOVAL, undo_spec

from .journal_fakes import ACCOUNT, CountingPlatform
from .runner_fakes import id_audience, spec, tag


def run(journal: Journal, platform: CountingPlatform, job_spec, **kw) -> str:  # type: ignore[no-untyped-def]
    job_id = journal.create_job(job_spec, ACCOUNT, **kw)
    asyncio.run(Runner(platform, job_spec, recorder=journal, job_id=job_id).run())
    return job_id


def undo(journal: Journal, platform: CountingPlatform, job_id: str) -> None:
    plan = undo_spec(journal, job_id)
    assert plan.possible, plan.summary()
    for s in plan.specs:
        run(journal, platform, s, parent_id=job_id, kind=plan.kind)


def test_undo_of_tag_untags_only_the_newly_tagged(tmp_path: Path) -> None:
    platform = CountingPlatform(subscribers=300)
    had = {str(i) for i in range(1, 301, 3)}
    platform.tags = {"1": set(had), "2": {"5"}}
    before = {k: set(v) for k, v in platform.tags.items()}
    with Journal(tmp_path / "j.sqlite3") as journal:
        job_id = run(journal, platform, spec(id_audience(range(1, 351)), tag(1), tag(2)))
        assert platform.tags["1"] == {str(i) for i in range(1, 301)}
        plan = undo_spec(journal, job_id)
        assert plan.impossible_reason is None
        # tag-1 and tag-2 revert different rows: two jobs.
        assert sorted(len(s.audience.rows) for s in plan.specs) == [200, 299]
        assert all(s.action is Action.UNTAG for s in plan.specs)
        assert "already so" in plan.summary() and "failed" in plan.summary()
        undo(journal, platform, job_id)
        assert platform.tags == before
        children = [
            j for j in journal.read().execute("SELECT kind, parent_id FROM jobs WHERE parent_id=?", (job_id,))
        ]
        assert children == [(KIND_UNDO, job_id)] * 2


def test_undo_of_untag_tags_again_only_those_it_untagged_and_undo_of_undo_redoes(tmp_path: Path) -> None:
    platform = CountingPlatform(subscribers=100)
    platform.tags = {"1": {str(i) for i in range(1, 51)}}
    with Journal(tmp_path / "j.sqlite3") as journal:
        job_id = run(journal, platform, spec(id_audience(range(1, 101)), action=Action.UNTAG))
        assert platform.tags["1"] == set()
        undo(journal, platform, job_id)
        assert platform.tags["1"] == {str(i) for i in range(1, 51)}
        undo_job = journal.read().execute("SELECT id FROM jobs WHERE parent_id=?", (job_id,)).fetchone()[0]
        undo(journal, platform, undo_job)
        assert platform.tags["1"] == set()


def test_undo_of_set_field_restores_each_previous_value(tmp_path: Path) -> None:
    field = Target(TargetKind.FIELD, "9", "City", key="city")
    platform = CountingPlatform(subscribers=60)
    old = {(str(i), "9"): ("" if i % 3 == 0 else f"city-{i % 2}") for i in range(1, 61)}
    old[("10", "9")] = "Paris"  # already the new value: left alone
    platform.values = dict(old)
    with Journal(tmp_path / "j.sqlite3") as journal:
        job_id = run(
            journal, platform, spec(id_audience(range(1, 61)), field, action=Action.SET_FIELD, value="Paris")
        )
        plan = undo_spec(journal, job_id)
        # One job, each row writing back its own value (not one job a previous value).
        assert len(plan.specs) == 1 and plan.specs[0].fields == (("9", "before: 9"),)
        restored = {r.row: r.value_of("before: 9") for r in plan.specs[0].audience.rows}
        assert sorted(set(restored.values())) == ["", "city-0", "city-1"]
        assert plan.rows_to_revert == 59
        undo(journal, platform, job_id)
        assert platform.values == old


def test_undo_of_set_field_without_previous_values_says_what_it_cannot_restore(tmp_path: Path) -> None:
    field = Target(TargetKind.FIELD, "9", "City")
    platform = CountingPlatform(subscribers=10)
    platform.values = {("1", "9"): "Rome"}
    with Journal(tmp_path / "j.sqlite3") as journal:
        job_id = run(
            journal, platform, spec(id_audience(range(1, 11)), field, action=Action.SET_FIELD, value="X")
        )
        plan = undo_spec(journal, job_id)
        assert [[r.values for r in s.audience.rows] for s in plan.specs] == [[(("before: 9", "Rome"),)]]
        assert any("9 rows cannot be restored" in n for n in plan.notes)


def test_add_to_form_cannot_be_undone_and_the_plan_says_why(tmp_path: Path) -> None:
    form = Target(TargetKind.FORM, "3", "Newsletter")
    platform = CountingPlatform(subscribers=10)
    with Journal(tmp_path / "j.sqlite3") as journal:
        job_id = run(journal, platform, spec(id_audience(range(1, 6)), form, action=Action.ADD_TO_FORM))
        plan = undo_spec(journal, job_id)
        assert not plan.possible and plan.impossible_reason == NO_FORM_REMOVAL
        assert plan.summary() == NO_FORM_REMOVAL


def test_undo_says_when_the_platform_did_not_report_the_state_before(tmp_path: Path) -> None:
    class Silent(CountingPlatform):
        def _apply_one(self, action, item, value):  # type: ignore[no-untyped-def]
            result = super()._apply_one(action, item, value)
            return replace(result, previous=None)

    platform = Silent(subscribers=10)
    platform.tags = {"1": {"1", "2", "3"}}
    with Journal(tmp_path / "j.sqlite3") as journal:
        job_id = run(journal, platform, spec(id_audience(range(1, 6)), action=Action.UNTAG))
        plan = undo_spec(journal, job_id)
        assert [len(s.audience.rows) for s in plan.specs] == [3]
        assert any("3 rows are reverted on the platform's word" in n for n in plan.notes)


def test_old_tags_come_from_the_journaled_answer() -> None:
    from audience_manager.jobs.undo import old_tags

    assert old_tags('{"oldTags": ["vip", "lead"], "tagsRemoved": ["vip", "lead"]}') == ["vip", "lead"]
    assert old_tags('{"tagsRemoved": ["a"]}') == ["a"]
    assert old_tags('{"oldTags": []}') == []
    assert old_tags(None) is None and old_tags("yes") is None and old_tags('{"oldTags": [1]}') is None
