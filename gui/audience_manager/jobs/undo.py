"""Undoing a job: the inverse jobs that put back exactly what it changed, and nothing else.

What each row looked like before the job is in the journal: the runner reads it before each batch
(`ReadsStateBeforeWrite.state_before`; "yes"/"no" for tag membership, the old text for a custom
field) and journals it with the batch *before* the request goes out, so it is known even when the
answer to the write is lost (a 502 or a dropped connection after the platform applied it, a kill -9
while it was in flight, a transport retry of a write that had landed, which then says "already so").
The first known state of a pair wins, over every start of the job (resumes) and over its retries,
which undo as one family with it. So every pair that was sent, whatever its outcome, is reverted to
its state before the job unless an answer from the platform refused the write. Pairs whose state
before was never read (old journals, a tag too long to read) fall back to their outcome and
`ItemResult.previous`:

- tag: untag only the rows it newly tagged (outcome succeeded, not unchanged, and not "yes" before),
  so subscribers who already had the tag keep it;
- untag: tag again only the rows it actually untagged (succeeded, not "no" before), so subscribers
  who never had the tag do not get it. Clients know this by reading the tag's members before the
  first write (Kit v4 up to 50,000 members, Kit v3 up to 2,000 active ones); for a longer tag the
  platform's answer does not say, `previous` is None and the plan says those rows are reverted on
  the platform's word;
- set custom field: write back each row's previous value. A `JobSpec` has one value, so the undo is
  one job per distinct previous value (usually a handful: empty, and a few old values);
- add to form: there is no inverse on any platform (Kit cannot remove a subscriber from a form), so
  the plan says so in `impossible_reason`, for the dialog and before any run.

An undo is itself a job (kind "undo", parent = the undone job), so it can be undone in turn; a job
(or family) already undone is not undone twice: the plan says which job undid it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

from audience_manager.core.actions import Action, Target
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.job_spec import BlankCells, JobSpec
from audience_manager.core.outcomes import Outcome
from audience_manager.jobs.events import JobState
from audience_manager.jobs.journal import KIND_UNDO, LIVE_STATES, Journal, OutcomeRecord

HAD = "yes"  # `previous` of a tag/untag: the subscriber had the tag before the write
HAD_NOT = "no"

NO_FORM_REMOVAL = (
    "Adding to a form cannot be undone: the platform has no way to remove a subscriber from a form. "
    "Unsubscribing them would remove them from every form and email."
)
NO_REMOVE_ALL_UNDO = (
    "Removing all tags cannot be undone from here: the journal does not know which tags each contact had."
)


@dataclass(frozen=True)
class UndoPlan:
    """The jobs that undo `job_id` (empty when nothing needs undoing or it is impossible).

    `impossible_reason` says why the job cannot be undone at all; `notes` say which rows are left
    alone and why (already so before the job, failed, unknown previous value).
    """

    job_id: str
    specs: tuple[JobSpec, ...] = ()
    impossible_reason: str | None = None
    notes: tuple[str, ...] = ()
    rows_to_revert: int = 0
    kind: str = field(default=KIND_UNDO)
    created: tuple[str, ...] = ()  # emails of the people the job created: they stay

    @property
    def possible(self) -> bool:
        return self.impossible_reason is None and bool(self.specs)

    def summary(self) -> str:
        if self.impossible_reason:
            return self.impossible_reason
        if not self.specs:
            return " ".join(("Nothing to undo.", *self.notes))
        lines = [f"Undo of job {self.job_id}: {self.rows_to_revert} row changes to revert."]
        for spec in self.specs:
            targets = ", ".join(str(t) for t in spec.targets)
            value = (
                (" to each row's previous value" if spec.fields else f" = {spec.value!r}")
                if spec.action is Action.SET_FIELD
                else ""
            )
            lines.append(f"  {spec.action.label} {targets}{value}: {len(spec.audience.rows)} rows")
        lines += [f"  {n}" for n in self.notes]
        return "\n".join(lines)


def undo_spec(journal: Journal, job_id: str) -> UndoPlan:
    """Build the inverse of `job_id` and its retries (one family, undone as one) from the journal.
    Run each spec as its own job with
    `journal.create_job(spec, account, parent_id=job_id, kind=plan.kind)`."""
    family = journal.family(job_id)
    records = {j: journal.job(j) for j in family}
    if any(r.state in LIVE_STATES and r.started_at is not None for r in records.values()):
        return UndoPlan(job_id, impossible_reason="This job is still running; undo it when it has ended.")
    undone = [u for u in journal.children(family, KIND_UNDO) if u.state is not JobState.FAILED]
    if undone:
        u = undone[0]
        if u.state in LIVE_STATES and u.started_at is not None:
            return UndoPlan(
                job_id, impossible_reason=f"Job {u.parent_id} is being undone right now (job {u.id})."
            )
        return UndoPlan(
            job_id,
            impossible_reason=(
                f"Job {u.parent_id} was already undone (job {u.id}); undoing it again would change nothing. "
                f"To make the change again, undo job {u.id}."
            ),
        )
    root = family[0]
    original = journal.spec(root)
    action = original.action
    if action is Action.ADD_TO_FORM:
        return UndoPlan(job_id, impossible_reason=NO_FORM_REMOVAL)
    if action is Action.UNTAG and original.remove_all_tags:
        return UndoPlan(job_id, impossible_reason=NO_REMOVE_ALL_UNDO)

    rows = {r.row: r for r in original.audience.rows}
    targets = {t.id: t for t in original.targets}
    # (inverse action, value) -> target id -> rows
    groups: dict[tuple[Action, str | None], dict[str, list[AudienceRow]]] = defaultdict(
        lambda: defaultdict(list)
    )
    kept_already = unknown = failed = unsure = ambiguous = lost = 0
    restore: dict[int, dict[str, str]] = defaultdict(dict)  # row -> field target id -> previous value
    # The state of each pair before the family's first write to it, journaled before the request
    # went out: exact whatever became of the answer (lost, or "already so" on a later send).
    before = journal.states_before(family)
    # Pairs whose write may have landed: sent, and not refused by an answer the platform gave.
    maybe_written: set[tuple[int, str]] = set()
    final: dict[tuple[int, str], OutcomeRecord] = {}
    resent: set[tuple[int, str]] = set()
    for member in family:
        outcomes = journal.outcome_records(member)
        sends = journal.sends(member)
        resent |= {pair for pair, n in sends.items() if n > 1}
        for pair in sends:
            rec = outcomes.get(pair)
            if rec is None or not rec.answered or rec.outcome in (Outcome.SUCCEEDED, Outcome.UNCHANGED):
                maybe_written.add(pair)
        final.update(outcomes)  # a retry's outcome is the latest word on its pairs
    goal = {Action.TAG: HAD, Action.UNTAG: HAD_NOT}.get(action, original.value)
    inverse = {Action.TAG: Action.UNTAG, Action.UNTAG: Action.TAG}.get(action, Action.SET_FIELD)
    for pair in sorted(set(final) | maybe_written):
        row, target_id = pair
        if row not in rows or target_id not in targets:
            continue
        audience_row = rows[row]
        was = before.get(pair)
        if action in (Action.TAG, Action.UNTAG) and was not in (HAD, HAD_NOT):
            was = None  # a platform's own record of the tags (HighLevel's answer), not yes/no
        rec = final.get(pair)
        if was is not None:
            wanted = (
                original.value_for(audience_row, targets[target_id]) if action is Action.SET_FIELD else goal
            )
            if was == wanted:
                kept_already += 1
            elif pair in maybe_written:
                lost += rec is None or rec.outcome is not Outcome.SUCCEEDED
                if action is Action.SET_FIELD and original.fields:
                    restore[row][target_id] = was
                    continue
                value = was if action is Action.SET_FIELD else None
                groups[(inverse, value)][target_id].append(audience_row)
            else:
                failed += rec is not None and rec.outcome in (Outcome.FAILED, Outcome.CANCELLED)
            continue
        # No state from before the job: the outcomes are all there is (journals before version 3,
        # a tag too long to read first, a platform that cannot read it).
        if rec is None:
            ambiguous += 1
            continue
        outcome = rec.outcome
        if outcome == Outcome.UNCHANGED:
            if pair in resent:
                ambiguous += 1
            else:
                kept_already += 1
            continue
        if outcome != Outcome.SUCCEEDED:
            if outcome in (Outcome.FAILED, Outcome.CANCELLED):
                if pair in maybe_written:
                    ambiguous += 1
                else:
                    failed += 1
            continue
        if action is Action.SET_FIELD:
            previous = rec.previous
            if previous is None:
                unknown += 1
                continue
            if previous == original.value_for(audience_row, targets[target_id]):
                kept_already += 1
                continue
            if original.fields:  # each row's own previous value, all in one job
                restore[row][target_id] = previous
                continue
            groups[(Action.SET_FIELD, previous)][target_id].append(audience_row)
            continue
        unsure += 1
        groups[(inverse, None)][target_id].append(audience_row)

    specs: list[JobSpec] = []
    for (inverse, value), by_target in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        # Rows reverted on the same set of targets go in one job; usually there is one target.
        by_rows: dict[tuple[int, ...], list[Target]] = defaultdict(list)
        row_lists: dict[tuple[int, ...], list[AudienceRow]] = {}
        for target_id, audience_rows in by_target.items():
            key = tuple(sorted(r.row for r in audience_rows))
            by_rows[key].append(targets[target_id])
            row_lists[key] = sorted(audience_rows, key=lambda r: r.row)
        for key, target_list in by_rows.items():
            audience = Audience(
                rows=row_lists[key],
                source=f"undo of job {job_id} ({original.audience.source})",
            )
            order = {t.id: k for k, t in enumerate(original.targets)}
            specs.append(
                replace(
                    original,
                    action=inverse,
                    targets=tuple(sorted(target_list, key=lambda t: order[t.id])),
                    audience=audience,
                    value=value,
                    remove_all_tags=False,
                    fields=(),
                    create_missing=False,
                )
            )

    specs += _restore_values(original, job_id, rows, targets, restore)

    notes: list[str] = []
    if len(family) > 1:
        notes.append(f"Job {root} and its retries ({', '.join(family[1:])}) are undone as one.")
    if kept_already:
        notes.append(f"{kept_already} rows were already so before the job and are left as they are.")
    if lost:
        notes.append(
            f"{lost} rows whose answer was lost (or that a later send found already done) are reverted"
            " too: the journal has their state from before the job."
        )
    if failed:
        notes.append(f"{failed} rows failed or were cancelled: the job did not change them.")
    if ambiguous:
        notes.append(
            f"{ambiguous} rows may have been changed (their answer was lost) but their state before the job"
            " is unknown: they are left as they are."
        )
    if unsure:
        # A tag too long to read before writing (Kit v4 over 50,000 members, v3 over 2,000): the
        # answer to an untag does not say who had the tag, nor always to a tag who already had it.
        had = "had the tag" if action is Action.UNTAG else "did not have the tag"
        notes.append(
            f"{unsure} rows are reverted on the platform's word that the job changed them; it did not"
            f" say whether they {had} before (the tag had too many members to read first)."
        )
    if unknown:
        notes.append(f"{unknown} rows cannot be restored: the platform did not report their previous value.")
    created = tuple(journal.created_people(job_id))
    if created:
        notes.append(
            f"The {len(created):,} people this job created stay (undo does not delete anyone): "
            + ", ".join(created)
            + "."
        )
    reverted = sum(len(s.audience.rows) * len(s.targets) for s in specs)
    if not specs and unknown and action is Action.SET_FIELD:
        return UndoPlan(
            job_id,
            impossible_reason="The previous values of this field were not recorded; they cannot be restored.",
            notes=tuple(notes),
        )
    return UndoPlan(job_id, specs=tuple(specs), notes=tuple(notes), rows_to_revert=reverted, created=created)


def _restore_values(
    original: JobSpec,
    job_id: str,
    rows: dict[int, AudienceRow],
    targets: dict[str, Target],
    restore: dict[int, dict[str, str]],
) -> list[JobSpec]:
    """The undo of a job that set fields from a file's columns: each row writes back its own
    previous values (a blank one clears the field again), one job for rows restoring the same fields."""
    order = {t.id: k for k, t in enumerate(original.targets)}
    by_fields: dict[tuple[str, ...], list[AudienceRow]] = defaultdict(list)
    for row, previous in sorted(restore.items()):
        ids = tuple(sorted(previous, key=lambda t: order[t]))
        values = tuple((f"before: {t}", previous[t]) for t in ids)
        by_fields[ids].append(replace(rows[row], values=values))
    return [
        replace(
            original,
            targets=tuple(targets[t] for t in ids),
            audience=Audience(
                rows=audience_rows, source=f"undo of job {job_id} ({original.audience.source})"
            ),
            value=None,
            remove_all_tags=False,
            fields=tuple((t, f"before: {t}") for t in ids),
            blank=BlankCells.CLEAR,
            create_missing=False,
        )
        for ids, audience_rows in by_fields.items()
    ]
