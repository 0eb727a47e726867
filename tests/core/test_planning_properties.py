"""Properties of planning, for any audience, targets, batch size, email lookups and resume state.

What the runner relies on: every row x target the job still owes is in exactly one batch, no batch
is larger than the platform takes or mixes targets, rows whose email was not found are never sent
and are listed, and the same job always plans the same batches (the journal and resume need that).
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.planning import estimate, iter_batches, plan
from audience_manager.core.platforms import Capabilities, RateLimit


@st.composite
def jobs(draw: st.DrawFn) -> tuple[JobSpec, Capabilities, dict[str, str | None], set[tuple[int, str]]]:
    n = draw(st.integers(0, 120))
    rows = []
    for k in range(1, n + 1):
        if draw(st.booleans()):
            rows.append(AudienceRow(k, f"person{k}@example.com", IdentifierKind.EMAIL))
        else:
            rows.append(AudienceRow(k, str(1000 + k), IdentifierKind.SUBSCRIBER_ID))
    targets = tuple(Target(TargetKind.TAG, str(i), f"tag {i}") for i in range(1, draw(st.integers(1, 4)) + 1))
    action = draw(st.sampled_from([Action.TAG, Action.UNTAG, Action.ADD_TO_FORM]))
    caps = Capabilities(
        actions=frozenset(Action),
        identifiers=frozenset({IdentifierKind.SUBSCRIBER_ID, IdentifierKind.EMAIL}),
        items_per_request=draw(st.integers(1, 150)),
        rate=RateLimit(600, 60),
        writes_by_email=draw(st.sampled_from([frozenset(), frozenset({action})])),
    )
    # Lookups: found (an id, sometimes one another row also resolved to), not found, or never asked.
    subjects: dict[str, str | None] = {}
    for r in rows:
        if r.kind is IdentifierKind.EMAIL:
            fate = draw(st.sampled_from(["found", "shared", "none", "unasked"]))
            if fate == "found":
                subjects[r.identifier] = str(5000 + r.row)
            elif fate == "shared":
                subjects[r.identifier] = "5000"
            elif fate == "none":
                subjects[r.identifier] = None
    done = {
        (r.row, t.id) for r in rows for t in targets if draw(st.booleans()) and draw(st.booleans())
    }  # about a quarter already done by an earlier run
    spec = JobSpec("account", action, targets, Audience(rows=rows))
    return spec, caps, subjects, done


def sendable(spec: JobSpec, caps: Capabilities, subjects: dict[str, str | None]) -> dict[int, str]:
    """Row -> what is sent for it: the identifier, or the id its email resolved to."""
    out: dict[int, str] = {}
    for r in spec.audience.rows:
        if r.kind is IdentifierKind.EMAIL and spec.action not in caps.writes_by_email:
            subject = subjects.get(r.identifier)
            if subject is not None:
                out[r.row] = subject
        else:
            out[r.row] = r.identifier
    return out


@settings(max_examples=150, deadline=None)
@given(jobs())
def test_every_owed_pair_is_planned_exactly_once_in_batches_the_platform_takes(
    job: tuple[JobSpec, Capabilities, dict[str, str | None], set[tuple[int, str]]],
) -> None:
    spec, caps, subjects, done = job
    result = plan(spec, caps, subjects=subjects, done=done)
    send = sendable(spec, caps, subjects)

    for batch in result.batches:
        assert 1 <= len(batch) <= caps.items_per_request
        assert len({item.target.id for item in batch}) == 1, "a batch mixes targets"
    planned = Counter((i.row, i.target.id) for batch in result.batches for i in batch)
    owed = {(row, t.id) for row in send for t in spec.targets if (row, t.id) not in done}
    assert set(planned) == owed
    assert all(n == 1 for n in planned.values()), "a pair planned twice"
    for batch in result.batches:
        for item in batch:
            assert item.subject == send[item.row]
    # Only the last batch of each target may be partly filled: no request is wasted.
    per_target = Counter(batch[0].target.id for batch in result.batches)
    for target in spec.targets:
        pairs = sum(1 for p in owed if p[1] == target.id)
        assert per_target[target.id] == -(-pairs // caps.items_per_request)

    # Rows with an email nobody could resolve are listed, never sent.
    unresolved = {r.row for r in result.unresolved}
    assert unresolved == {r.row for r in spec.audience.rows if r.row not in send}

    # Deterministic, and the lazy iteration gives the same batches.
    assert plan(spec, caps, subjects=subjects, done=done).batches == result.batches
    assert tuple(iter_batches(spec, caps, subjects=subjects, done=done)) == result.batches

    # The preview's estimate assumes every email is found: never fewer writes than the plan.
    assert estimate(spec, caps, done=done).writes >= result.requests
