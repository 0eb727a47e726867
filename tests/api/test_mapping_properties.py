"""Properties of mapping bulk answers back to rows, for any mix of successes, failures and silence.

Kit (`map_bulk_results`): failures may come back with the subscriber id, the target id or both
nulled, successes are listed by subscriber (tag, form) or by pair (custom fields), or not at all
(untag: what did not fail succeeded). HighLevel (`map_bulk_tag_results`): `responses[]` answers by
contact id, may repeat a contact, leave one out, or mention one that was not sent.

Whatever the answer, every item sent gets exactly one result, in order; rows that share a subject
share its result; and where the answer says who succeeded, a row is never reported done unless it did.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audience_manager.api.highlevel import NO_ANSWER, map_bulk_tag_results
from audience_manager.api.kit_v4 import BulkFailure, map_bulk_results
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.outcomes import Outcome
from audience_manager.core.work import ItemResult, WorkItem

UNCONFIRMED = "Kit did not confirm this row"
FATES = ("ok", "fail", "fail-no-subject", "fail-no-target", "fail-neither", "silent")
Pair = tuple[str, str]


@st.composite
def kit_answers(
    draw: st.DrawFn, mode: str
) -> tuple[list[WorkItem], list[BulkFailure], set[Pair] | set[str] | None, set[str], dict[Pair, str]]:
    """A batch and Kit's answer to it. `mode`: "pairs" (custom fields: confirmed (target, subject)),
    "subjects" (tag, form: confirmed subscribers; one target per batch, as planning makes them),
    "none" (untag: only failures are listed)."""
    targets = [
        Target(TargetKind.TAG, str(t), f"t{t}")
        for t in range(1, (draw(st.integers(1, 3)) if mode == "pairs" else 1) + 1)
    ]
    pool = draw(st.lists(st.integers(100, 160), min_size=1, max_size=25, unique=True))
    items: list[WorkItem] = []
    for row in range(1, draw(st.integers(1, 40)) + 1):
        subject = str(draw(st.sampled_from(pool)))  # two rows may resolve to one subscriber
        target = draw(st.sampled_from(targets))
        items.append(WorkItem(row, f"row {row}", subject, target))
    pairs = list(dict.fromkeys((i.target.id, i.subject) for i in items))
    fates = ("ok", "fail", "fail-no-subject", "fail-no-target", "fail-neither")
    fate = {p: draw(st.sampled_from(FATES if mode != "none" else fates)) for p in pairs}
    failures = []
    absent: set[str] = set()
    for (target, subject), f in fate.items():
        if f == "fail":
            failures.append(BulkFailure(target, subject, f"refused {target}/{subject}"))
        elif f == "fail-no-subject":
            failures.append(BulkFailure(target, None, "Subscriber does not exist"))
            if draw(st.booleans()):
                absent.add(subject)  # the client checked afterwards who does not exist
        elif f == "fail-no-target":
            failures.append(BulkFailure(None, subject, "Tag does not exist"))
        elif f == "fail-neither":
            failures.append(BulkFailure(None, None, "Something went wrong"))
    failures = draw(st.permutations(failures))
    confirmed: set[Pair] | set[str] | None
    if mode == "pairs":
        confirmed = {p for p, f in fate.items() if f == "ok"}
    elif mode == "subjects":
        confirmed = {p[1] for p, f in fate.items() if f == "ok"}
    else:
        confirmed = None
    return items, list(failures), confirmed, absent, fate


def check_one_result_each(items: list[WorkItem], results: list[ItemResult]) -> None:
    assert len(results) == len(items)
    assert all(r.item is i for r, i in zip(results, items, strict=True)), "results out of order or invented"
    shared: dict[tuple[str, str], set[tuple[Outcome, str]]] = defaultdict(set)
    for r in results:
        shared[(r.item.target.id, r.item.subject)].add((r.outcome, r.reason))
        if r.outcome is Outcome.FAILED:
            assert r.reason.strip(), "a failure without a reason"
    assert all(len(v) == 1 for v in shared.values()), "rows with the same subject got different results"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["pairs", "subjects"]).flatmap(kit_answers))
def test_kit_bulk_rows_are_never_done_on_silence_or_failure(answer: Any) -> None:
    items, failures, confirmed, absent, fate = answer
    results = map_bulk_results(items, failures, confirmed, unconfirmed_reason=UNCONFIRMED, absent=absent)
    check_one_result_each(items, results)
    for r in results:
        truth = fate[(r.item.target.id, r.item.subject)]
        assert r.outcome in (Outcome.SUCCEEDED, Outcome.FAILED)
        if truth == "ok":
            continue  # a nulled failure may be pinned on it only when nothing better is left
        assert r.outcome is Outcome.FAILED, f"{truth} row reported succeeded"
    failed_by_kit = {
        (r.item.target.id, r.item.subject) for r in results if r.reason != UNCONFIRMED and r.reason
    }
    assert len(failed_by_kit) <= len(failures)


@settings(max_examples=300, deadline=None)
@given(kit_answers("none"))
def test_kit_bulk_untag_gives_each_failure_to_one_row(answer: Any) -> None:
    """Untag lists only failures: each one must fail exactly one pair, or a failed row would be
    reported succeeded."""
    items, failures, confirmed, absent, fate = answer
    results = map_bulk_results(items, failures, confirmed, unconfirmed_reason=UNCONFIRMED, absent=absent)
    check_one_result_each(items, results)
    failed = {(r.item.target.id, r.item.subject) for r in results if r.outcome is Outcome.FAILED}
    assert len(failed) == len(failures)
    truly_failed = {p for p, f in fate.items() if f != "ok"}
    assert failed == truly_failed or any(f.subject is None or f.target is None for f in failures)


# ------------------------------------------------------------------------------------------ HighLevel

VIP = Target(TargetKind.TAG, "vip", "vip")
CONTACTS = [f"{c}{'x' * 19}" for c in "ABCDEFGHIJKL"]  # 20 characters, like HighLevel's ids


@st.composite
def highlevel_answers(draw: st.DrawFn) -> tuple[list[WorkItem], dict[str, Any], dict[str, list[str]]]:
    subjects = draw(st.lists(st.sampled_from(CONTACTS), min_size=1, max_size=30))  # repeats allowed
    items = [WorkItem(n + 1, s, s, VIP) for n, s in enumerate(subjects)]
    answers: dict[str, list[str]] = {}
    entries: list[Any] = []
    for contact in [*dict.fromkeys(subjects), *draw(st.lists(st.sampled_from(CONTACTS), max_size=3))]:
        kinds = draw(st.lists(st.sampled_from(["success", "error"]), max_size=3))  # [] = left out
        answers.setdefault(contact, []).extend(kinds)
        for kind in kinds:
            entry = (
                {"contactId": contact, "type": "success", "message": "Tags updated", "tagsAdded": ["vip"]}
                if kind == "success"
                else {"contactId": contact, "type": "error", "message": "contact not found"}
            )
            entries.append(json.dumps(entry) if draw(st.booleans()) else entry)  # both shapes are seen
    body: dict[str, Any] = {"responses": draw(st.permutations(entries))}
    flag = draw(st.sampled_from([True, False, None]))
    if flag is not None:
        body[draw(st.sampled_from(["succeeded", "succeded"]))] = flag
    return items, body, answers


@settings(max_examples=300, deadline=None)
@given(highlevel_answers(), st.sampled_from([Action.TAG, Action.UNTAG]))
def test_highlevel_responses_map_to_every_row_that_carried_the_contact(
    answer: tuple[list[WorkItem], dict[str, Any], dict[str, list[str]]], action: Action
) -> None:
    items, body, answers = answer
    results = map_bulk_tag_results(action, items, body, tag="vip")
    check_one_result_each(items, results)
    outcomes = Counter(r.outcome for r in results)
    assert outcomes[Outcome.SKIPPED] == outcomes[Outcome.CANCELLED] == 0
    for r in results:
        said = answers.get(r.item.subject, [])
        if not said:
            assert r.outcome is Outcome.FAILED and r.reason.startswith(NO_ANSWER), r
        elif "error" in said:
            assert r.outcome is Outcome.FAILED and "contact not found" in r.reason, r
        else:
            assert r.outcome in (Outcome.SUCCEEDED, Outcome.UNCHANGED), r


def test_kit_untag_nulled_subscriber_is_not_pinned_on_a_row_a_nulled_tag_failure_names() -> None:
    """Found by the property above: 101 does not exist (subscriber nulled) and 100's tag failed
    (tag nulled). Pinning the first failure on 100 left 101 with no failure, reported removed."""
    tag = Target(TargetKind.TAG, "1", "t1")
    items = [WorkItem(1, "row 1", "100", tag), WorkItem(2, "row 2", "101", tag)]
    failures = [
        BulkFailure(None, "100", "Tag does not exist"),
        BulkFailure("1", None, "Subscriber does not exist"),
    ]
    results = map_bulk_results(items, failures, None, unconfirmed_reason=UNCONFIRMED)
    assert [(r.outcome, r.reason) for r in results] == [
        (Outcome.FAILED, "Tag does not exist"),
        (Outcome.FAILED, "Subscriber does not exist"),
    ]
