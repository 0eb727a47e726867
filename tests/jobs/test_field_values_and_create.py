"""The runner with each row's own values, blank cells and people created: every row x target still
ends in exactly one outcome, and the words say what happened."""

from __future__ import annotations

import asyncio
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow, Problem
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import BLANK_CELL_REASON, BlankCells, JobSpec
from audience_manager.core.outcomes import Outcome
from audience_manager.jobs.runner import Runner

from .runner_fakes import MemoryPlatform, caps

COMPANY = Target(TargetKind.FIELD, "f1", "Company", key="company")
PLAN = Target(TargetKind.FIELD, "f2", "Plan", key="plan")
VIP = Target(TargetKind.TAG, "t1", "VIP")


def row(n: int, email: str, company: str = "", plan: str = "", first: str = "") -> AudienceRow:
    return AudienceRow(
        n, email, IdentifierKind.EMAIL, (("company", company), ("plan", plan), ("first_name", first))
    )


def run(platform: MemoryPlatform, spec: JobSpec) -> list:
    return asyncio.run(Runner(platform, spec).run())


def test_each_row_writes_its_own_values_and_a_blank_cell_is_left() -> None:
    platform = MemoryPlatform(subscribers=10)
    rows = [row(1, "s1@example.com", "Acme", "Pro"), row(2, "s2@example.com", "", "Free")]
    spec = JobSpec(
        "a",
        Action.SET_FIELD,
        (COMPANY, PLAN),
        Audience(rows=rows),
        fields=(("f1", "company"), ("f2", "plan")),
    )
    outcomes = run(platform, spec)
    assert platform.values == {("1", "f1"): "Acme", ("1", "f2"): "Pro", ("2", "f2"): "Free"}
    blank = [o for o in outcomes if o.reason == BLANK_CELL_REASON]
    assert [(o.row, o.outcome) for o in blank] == [(2, Outcome.UNCHANGED)]
    clearing = JobSpec(
        "a",
        Action.SET_FIELD,
        (COMPANY,),
        Audience(rows=rows),
        fields=(("f1", "company"),),
        blank=BlankCells.CLEAR,
    )
    cleared = run(MemoryPlatform(subscribers=10), clearing)
    assert all(o.outcome is Outcome.SUCCEEDED for o in cleared)


def test_missing_people_are_created_once_then_tagged_and_a_refused_one_fails_saying_so() -> None:
    platform = MemoryPlatform(
        subscribers=10, caps=caps(creates=2), refuse_create=frozenset({"bad@x.example"})
    )
    rows = [
        row(1, "s1@example.com", first="Old"),
        row(2, "new1@x.example", first="Ann"),
        row(3, "new2@x.example", first="Bo"),
        row(4, "new3@x.example"),
        row(5, "bad@x.example"),
    ]
    spec = JobSpec(
        "a", Action.TAG, (VIP,), Audience(rows=rows), create_missing=True, first_name_column="first_name"
    )
    outcomes = {o.row: o for o in run(platform, spec)}
    sent = [p for call in platform.create_calls for p in call]
    assert [(p.email, p.first_name) for p in sent] == [
        ("new1@x.example", "Ann"), ("new2@x.example", "Bo"), ("new3@x.example", None), ("bad@x.example", None)
    ]  # fmt: skip
    assert all(len(c) <= 2 for c in platform.create_calls)  # never an existing person
    assert outcomes[1].reason == "" and outcomes[1].outcome is Outcome.SUCCEEDED
    assert [outcomes[n].reason for n in (2, 3, 4)] == ["created and tagged"] * 3
    assert (
        outcomes[5].outcome is Outcome.FAILED
        and "could not be created: Email address is invalid" in outcomes[5].reason
    )
    assert platform.tags["t1"] == {"1", *platform.created.values()}


def test_without_the_option_unknown_emails_are_skipped_and_nothing_is_created() -> None:
    platform = MemoryPlatform(subscribers=10, caps=caps(creates=100))
    spec = JobSpec("a", Action.TAG, (VIP,), Audience(rows=[row(1, "new@x.example")]))
    [outcome] = run(platform, spec)
    assert outcome.outcome is Outcome.SKIPPED and platform.create_calls == []


cells = st.sampled_from(["", "", "Acme", "Pro", "x"])


@st.composite
def jobs(draw: st.DrawFn) -> tuple[MemoryPlatform, JobSpec]:
    n = draw(st.integers(0, 40))
    rows: list[AudienceRow] = []
    invalid: list[Problem] = []
    for i in range(1, n + 1):
        kind = draw(st.sampled_from(["known", "unknown", "invalid", "refused"]))
        if kind == "invalid":
            invalid.append(Problem(i, "nope", "Not an email"))
            continue
        email = {
            "known": f"s{i}@example.com",
            "unknown": f"new{i}@x.example",
            "refused": f"bad{i}@x.example",
        }[kind]
        rows.append(row(i, email, draw(cells), draw(cells), draw(cells)))
    action = draw(st.sampled_from([Action.TAG, Action.SET_FIELD, Action.ADD_TO_FORM]))
    mapped = action is Action.SET_FIELD and draw(st.booleans())
    targets = (COMPANY, PLAN) if action is Action.SET_FIELD else (VIP,)
    if action is Action.ADD_TO_FORM:
        targets = (Target(TargetKind.FORM, "fm", "Form"),)
    spec = JobSpec(
        "a",
        action,
        targets,
        Audience(rows=rows, invalid=invalid),
        value=None if mapped else "v",
        fields=(("f1", "company"), ("f2", "plan")) if mapped else (),
        blank=draw(st.sampled_from(list(BlankCells))),
        create_missing=draw(st.booleans()),
        first_name_column="first_name",
    )
    refused = frozenset(r.identifier for r in rows if r.identifier.startswith("bad"))
    platform = MemoryPlatform(
        subscribers=n,
        caps=caps(
            items_per_request=draw(st.sampled_from([1, 3, 100])), creates=draw(st.sampled_from([0, 1, 7]))
        ),
        refuse_create=refused,
        fail_item_rate=draw(st.sampled_from([0.0, 0.2])),
        seed=draw(st.integers(0, 5)),
    )
    return platform, spec


@settings(max_examples=60, deadline=None)
@given(jobs())
def test_every_row_ends_in_exactly_one_outcome_per_target(job: tuple[MemoryPlatform, JobSpec]) -> None:
    platform, spec = job
    outcomes = run(platform, spec)
    pairs = Counter((o.row, o.target_id) for o in outcomes)
    rows = [r.row for r in spec.audience.rows] + [p.row for p in spec.audience.invalid]
    assert set(pairs) == {(r, t.id) for r in rows for t in spec.targets}
    assert all(n == 1 for n in pairs.values())
    creating = spec.create_missing and platform.caps.can_create
    for o in outcomes:
        if o.reason.startswith("created and"):
            assert creating and o.outcome is Outcome.SUCCEEDED
    if not creating:
        assert platform.create_calls == []
    known = {f"s{r.row}@example.com" for r in spec.audience.rows}
    assert not any(p.email in known for call in platform.create_calls for p in call)
