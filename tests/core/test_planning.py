from __future__ import annotations

import pytest

from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow, Problem
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.planning import ALL_TAGS, estimate, job_targets, plan
from audience_manager.core.platforms import Capabilities, RateLimit


def caps(size: int, *, emails: bool = False, per_minute: int = 600) -> Capabilities:
    kinds = {IdentifierKind.SUBSCRIBER_ID, IdentifierKind.EMAIL}
    return Capabilities(
        actions=frozenset(Action),
        identifiers=frozenset(kinds),
        writes_by_email=frozenset(Action) if emails else frozenset(),
        items_per_request=size,
        rate=RateLimit(per_minute, 60),
    )


def tag(i: int) -> Target:
    return Target(TargetKind.TAG, str(i), f"tag-{i}")


def ids(n: int) -> Audience:
    return Audience(
        rows=[AudienceRow(k, str(1000 + k), IdentifierKind.SUBSCRIBER_ID) for k in range(1, n + 1)]
    )


def job(audience: Audience, *targets: Target, **kw: object) -> JobSpec:
    return JobSpec(account="a", action=Action.TAG, targets=targets, audience=audience, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rows", "size", "expected"),
    [
        (0, 100, []),
        (1, 100, [1]),
        (100, 100, [100]),
        (101, 100, [100, 1]),
        (250, 100, [100, 100, 50]),
        (3, 1, [1, 1, 1]),
    ],
)
def test_batch_sizes(rows: int, size: int, expected: list[int]) -> None:
    result = plan(job(ids(rows), tag(1)), caps(size))
    assert [len(b) for b in result.batches] == expected
    assert result.requests == len(expected)
    assert result.items == rows


def test_several_targets_one_item_per_row_and_target_never_mixed_in_a_batch() -> None:
    result = plan(job(ids(150), tag(1), tag(2), tag(3)), caps(100))
    assert [len(b) for b in result.batches] == [100, 50] * 3
    pairs = [(i.row, i.target.id) for b in result.batches for i in b]
    assert len(pairs) == len(set(pairs)) == 450
    for batch in result.batches:
        assert len({i.target.id for i in batch}) == 1


def test_order_is_target_then_input_row_and_deterministic() -> None:
    spec = job(ids(5), tag(2), tag(1))
    first = plan(spec, caps(2))
    assert first == plan(spec, caps(2))
    order = [(i.target.id, i.row) for b in first.batches for i in b]
    assert order == [("2", r) for r in range(1, 6)] + [("1", r) for r in range(1, 6)]
    assert first.batches[0][0].subject == "1001"


def test_resume_skips_done_pairs_and_refills_batches() -> None:
    done = {(r, "1") for r in range(1, 151)} | {(r, "2") for r in range(1, 51)}
    result = plan(job(ids(200), tag(1), tag(2)), caps(100), done=done)
    assert [len(b) for b in result.batches] == [50, 100, 50]
    pairs = {(i.row, i.target.id) for b in result.batches for i in b}
    assert not pairs & done
    assert len(pairs) == 400 - len(done)


def test_emails_use_resolved_subjects_and_unresolved_rows_are_left_out() -> None:
    audience = Audience(
        rows=[
            AudienceRow(1, "a@example.com", IdentifierKind.EMAIL),
            AudienceRow(2, "42", IdentifierKind.SUBSCRIBER_ID),
            AudienceRow(3, "b@example.com", IdentifierKind.EMAIL),
            AudienceRow(4, "c@example.com", IdentifierKind.EMAIL),
        ]
    )
    subjects = {"a@example.com": "7", "b@example.com": None}
    result = plan(job(audience, tag(1)), caps(100), subjects=subjects)
    assert [(i.row, i.identifier, i.subject) for i in result.batches[0]] == [
        (1, "a@example.com", "7"),
        (2, "42", "42"),
    ]
    assert [r.row for r in result.unresolved] == [3, 4]
    # A platform that writes by email needs no lookups at all.
    direct = plan(job(audience, tag(1)), caps(1, emails=True))
    assert [b[0].subject for b in direct.batches] == ["a@example.com", "42", "b@example.com", "c@example.com"]


def test_invalid_and_duplicate_rows_are_never_planned() -> None:
    audience = ids(3)
    audience.invalid.append(Problem(4, "nope", "Not an id"))
    audience.duplicates.append(Problem(5, "1001", "Duplicate"))
    assert plan(job(audience, tag(1)), caps(100)).items == 3


def test_estimate_counts_lookups_and_writes() -> None:
    audience = ids(250)
    audience.rows.extend(AudienceRow(300 + k, f"x{k}@example.com", IdentifierKind.EMAIL) for k in range(10))
    bulk = estimate(job(audience, tag(1), tag(2)), caps(100))
    assert (bulk.lookups, bulk.writes, bulk.requests) == (10, 6, 16)
    assert bulk.seconds == pytest.approx(16 / 10)
    per_row = estimate(job(audience, tag(1)), caps(1, emails=True, per_minute=120))
    assert (per_row.lookups, per_row.writes) == (0, 260)
    assert per_row.seconds == pytest.approx(130)
    resumed = estimate(job(ids(250), tag(1)), caps(100), done={(r, "1") for r in range(1, 201)})
    assert resumed.writes == 1


def test_targets_required_except_remove_all_tags() -> None:
    with pytest.raises(ValueError, match="at least one target"):
        job_targets(job(ids(1)))
    spec = JobSpec(account="a", action=Action.UNTAG, targets=(), audience=ids(2), remove_all_tags=True)
    assert job_targets(spec) == (ALL_TAGS,)
    assert plan(spec, caps(100)).items == 2
