"""Mapping a bulk reply's failures back to input rows when Kit nulls the ids it could not find."""

from __future__ import annotations

from audience_manager.api.kit_v4 import BulkFailure, map_bulk_results, missing_targets_from
from audience_manager.core.actions import Target, TargetKind
from audience_manager.core.outcomes import Outcome
from audience_manager.core.work import WorkItem

A = Target(TargetKind.TAG, "1", "A")
B = Target(TargetKind.TAG, "2", "B")
C = Target(TargetKind.TAG, "3", "C")
UNCONFIRMED = "not confirmed"


def item(row: int, subject: str, target: Target) -> WorkItem:
    return WorkItem(row, subject, subject, target)


def result_map(items: list[WorkItem], failures: list[BulkFailure], confirmed: set[str] | None, **kw: object):  # type: ignore[no-untyped-def]
    results = map_bulk_results(items, failures, confirmed, unconfirmed_reason=UNCONFIRMED, **kw)  # type: ignore[arg-type]
    assert [r.item for r in results] == items
    return [(r.item.row, r.outcome, r.reason) for r in results]


def test_nulled_subscriber_is_the_one_missing_from_the_successes() -> None:
    items = [item(1, "10", A), item(2, "11", A), item(3, "12", A)]
    got = result_map(items, [BulkFailure("1", None, "Subscriber does not exist")], {"10", "12"})
    assert got == [
        (1, Outcome.SUCCEEDED, ""),
        (2, Outcome.FAILED, "Subscriber does not exist"),
        (3, Outcome.SUCCEEDED, ""),
    ]


def test_nulled_tag_with_several_targets_for_one_subscriber() -> None:
    # Subscribers 10 and 11 each get tags A and C; C was deleted meanwhile: it fails for both.
    # The reply alone cannot say whether A or C is gone: the client asks Kit and passes the answer.
    items = [item(1, "10", A), item(1, "10", C), item(2, "11", A), item(2, "11", C)]
    pairs = [(i.target.id, i.subject) for i in items]
    assert missing_targets_from(pairs, {"10": 1, "11": 1})[1] is True  # ambiguous
    failures = [BulkFailure(None, "10", "Tag does not exist"), BulkFailure(None, "11", "Tag does not exist")]
    got = result_map(items, failures, {"10", "11"}, missing_targets={"3"})
    assert got == [
        (1, Outcome.SUCCEEDED, ""),
        (1, Outcome.FAILED, "Tag does not exist"),
        (2, Outcome.SUCCEEDED, ""),
        (2, Outcome.FAILED, "Tag does not exist"),
    ]


def test_nulled_tag_picks_the_tag_that_fails_for_everyone_who_has_it() -> None:
    # 10 has A and B, 11 has only B... B fails for 11 too, so for 10 it is B, not A.
    items = [item(1, "10", A), item(1, "10", B), item(2, "11", B)]
    failures = [BulkFailure(None, "10", "Tag does not exist"), BulkFailure(None, "11", "Tag does not exist")]
    got = result_map(items, failures, {"10"})
    assert got == [
        (1, Outcome.SUCCEEDED, ""),
        (1, Outcome.FAILED, "Tag does not exist"),
        (2, Outcome.FAILED, "Tag does not exist"),
    ]


def test_both_ids_nulled_and_exact_failures() -> None:
    items = [item(1, "10", A), item(2, "11", B), item(3, "12", A)]
    failures = [
        BulkFailure("2", "11", "Something specific"),
        BulkFailure(None, None, "Subscriber does not exist; Tag does not exist"),
    ]
    got = result_map(items, failures, {"10"})
    assert got == [
        (1, Outcome.SUCCEEDED, ""),
        (2, Outcome.FAILED, "Something specific"),
        (3, Outcome.FAILED, "Subscriber does not exist; Tag does not exist"),
    ]


def test_silence_is_not_success_when_successes_are_listed() -> None:
    items = [item(1, "10", A), item(2, "11", A)]
    assert result_map(items, [], {"10"}) == [(1, Outcome.SUCCEEDED, ""), (2, Outcome.FAILED, UNCONFIRMED)]


def test_untag_lists_only_failures_and_absent_subjects_pin_the_nulled_one() -> None:
    items = [item(1, "10", A), item(2, "11", A), item(3, "12", A)]
    failures = [BulkFailure("1", None, "Subscriber does not exist")]
    got = result_map(items, failures, None, absent={"12"})
    assert got == [
        (1, Outcome.SUCCEEDED, ""),
        (2, Outcome.SUCCEEDED, ""),
        (3, Outcome.FAILED, "Subscriber does not exist"),
    ]


def test_same_pair_twice_gets_the_same_outcome() -> None:
    items = [item(1, "10", A), item(2, "10", A)]  # an id and an email for the same person
    assert result_map(items, [BulkFailure("1", "10", "Nope")], {"11"}) == [
        (1, Outcome.FAILED, "Nope"),
        (2, Outcome.FAILED, "Nope"),
    ]


def test_pair_confirmation_for_custom_fields() -> None:
    items = [item(1, "10", A), item(1, "10", B)]
    confirmed = {("1", "10")}
    results = map_bulk_results(items, [], confirmed, unconfirmed_reason=UNCONFIRMED)
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED, Outcome.FAILED]
