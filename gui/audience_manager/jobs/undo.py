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
- remove all tags (HighLevel): tag each contact again with exactly the tags it had, which HighLevel's
  answer said (`oldTags`, journaled as the row's `previous`): one job per tag, with the contacts that
  had it (fewer jobs and requests than one per distinct set of tags, and the same end state);
- move tag: remove the new tag from the rows the job gave it to, and give the old tag back to the
  rows it took it from (`jobs.move` journals both steps), as two jobs;
- add to form: there is no inverse on any platform (Kit cannot remove a subscriber from a form), so
  the plan says so in `impossible_reason`, for the dialog and before any run.

An undo is itself a job (kind "undo", parent = the undone job), so it can be undone in turn; a job
(or family) already undone is not undone twice: the plan says which job undid it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace

from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.job_spec import BlankCells, JobSpec
from audience_manager.core.outcomes import Outcome
from audience_manager.jobs.events import JobState
from audience_manager.jobs.journal import KIND_UNDO, LIVE_STATES, Journal, OutcomeRecord
from audience_manager.jobs.move import MoveBefore

HAD = "yes"  # `previous` of a tag/untag: the subscriber had the tag before the write
HAD_NOT = "no"

NO_FORM_REMOVAL = (
    "Adding to a form cannot be undone: the platform has no way to remove a subscriber from a form. "
    "Unsubscribing them would remove them from every form and email."
)
NO_REMOVE_ALL_UNDO = (
    "Removing all tags cannot be undone: HighLevel did not say which tags these contacts had."
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
        return _undo_remove_all(journal, job_id, original, journal.job(job_id).state)
    if action is Action.MOVE_TAG:
        return _undo_move(journal, job_id, original, journal.job(job_id).state)

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
                if action is Action.SET_FIELD:  # each row's own previous value, all in one job
                    restore[row][target_id] = was
                    continue
                groups[(inverse, None)][target_id].append(audience_row)
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
            restore[row][target_id] = previous
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


def old_tags(previous: str | None) -> list[str] | None:
    """The tags a contact had before "remove all tags", from its journaled answer; None if unknown."""
    if not previous:
        return None
    try:
        kept = json.loads(previous)
    except ValueError:
        return None
    if not isinstance(kept, dict):
        return None
    tags = kept.get("oldTags")
    if tags is None:
        tags = kept.get("tagsRemoved")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return None
    return list(dict.fromkeys(t for t in tags if t.strip()))


def _undo_remove_all(journal: Journal, job_id: str, original: JobSpec, state: JobState) -> UndoPlan:
    """Tag every contact the job stripped with its own old tags: one job per tag, its rows the
    contacts that had it (tagging adds, so each contact ends with exactly its old tags)."""
    rows = {r.row: r for r in original.audience.rows}
    by_tag: dict[str, list[AudienceRow]] = defaultdict(list)
    kept_already = failed = unknown = 0
    for rec in sorted(journal.outcome_records(job_id).values(), key=lambda r: r.row):
        if rec.row not in rows:
            continue
        if rec.outcome == Outcome.UNCHANGED:
            kept_already += 1
            continue
        if rec.outcome != Outcome.SUCCEEDED:
            failed += rec.outcome in (Outcome.FAILED, Outcome.CANCELLED)
            continue
        tags = old_tags(rec.previous)
        if tags is None:
            unknown += 1
        elif tags:
            for tag in tags:
                by_tag[tag].append(rows[rec.row])
        else:
            kept_already += 1
    source = f"undo of job {job_id} ({original.audience.source})"
    specs = tuple(
        replace(
            original,
            action=Action.TAG,
            targets=(Target(TargetKind.TAG, tag, tag),),
            audience=Audience(rows=audience_rows, source=source),
            value=None,
            remove_all_tags=False,
        )
        for tag, audience_rows in sorted(by_tag.items(), key=lambda kv: kv[0].casefold())
    )
    restored = len({r.row for audience_rows in by_tag.values() for r in audience_rows})
    notes: list[str] = []
    if kept_already:
        notes.append(f"{kept_already} contacts had no tags before the job and are left as they are.")
    if failed:
        notes.append(f"{failed} rows failed or were cancelled: the job did not change them.")
    if unknown:
        notes.append(f"{unknown} contacts cannot be restored: HighLevel did not say which tags they had.")
    if state is JobState.INTERRUPTED:
        notes.append(
            "The job was interrupted: rows in flight when it stopped may have changed and are not undone."
        )
    if not specs and unknown:
        return UndoPlan(job_id, impossible_reason=NO_REMOVE_ALL_UNDO, notes=tuple(notes))
    return UndoPlan(job_id, specs=specs, notes=tuple(notes), rows_to_revert=restored)


def _undo_move(journal: Journal, job_id: str, original: JobSpec, state: JobState) -> UndoPlan:
    """Untag the new tag where the move added it; tag the old one again where the move removed it."""
    rows = {r.row: r for r in original.audience.rows}
    new_tag = original.targets[0] if original.targets else None
    old_tag = original.move_from
    if new_tag is None or old_tag is None:
        return UndoPlan(job_id, impossible_reason="This move does not say which tags it moved between.")
    untag: list[AudienceRow] = []
    retag: list[AudienceRow] = []
    kept_already = failed = unknown = 0
    for rec in sorted(journal.outcome_records(job_id).values(), key=lambda r: r.row):
        if rec.row not in rows or rec.target_id != new_tag.id:
            continue
        if rec.outcome == Outcome.UNCHANGED:
            kept_already += 1
            continue
        before = MoveBefore.parse(rec.previous)
        if before is None:
            failed += rec.outcome in (Outcome.FAILED, Outcome.CANCELLED)
            unknown += rec.outcome is Outcome.SUCCEEDED
            continue
        if before.tagged:
            untag.append(rows[rec.row])
        if before.untagged:
            retag.append(rows[rec.row])
        failed += rec.outcome is Outcome.FAILED
    source = f"undo of job {job_id} ({original.audience.source})"
    specs: list[JobSpec] = []
    for action, target, audience_rows in ((Action.UNTAG, new_tag, untag), (Action.TAG, old_tag, retag)):
        if audience_rows:
            specs.append(
                replace(
                    original,
                    action=action,
                    targets=(target,),
                    audience=Audience(rows=audience_rows, source=source),
                    value=None,
                    remove_all_tags=False,
                    move_from=None,
                )
            )
    notes: list[str] = []
    if kept_already:
        notes.append(f"{kept_already} rows were on {new_tag} and not on {old_tag} already: left as they are.")
    if failed:
        notes.append(f"{failed} rows failed or were cancelled; what their first step did is undone.")
    if unknown:
        notes.append(f"{unknown} rows cannot be undone: the journal does not say what the move did to them.")
    if state is JobState.INTERRUPTED:
        notes.append(
            "The job was interrupted: rows in flight when it stopped may have changed and are not undone."
        )
    reverted = sum(len(s.audience.rows) for s in specs)
    return UndoPlan(job_id, specs=tuple(specs), notes=tuple(notes), rows_to_revert=reverted)


def _restore_values(
    original: JobSpec,
    job_id: str,
    rows: dict[int, AudienceRow],
    targets: dict[str, Target],
    restore: dict[int, dict[str, str]],
) -> list[JobSpec]:
    """The undo of a job that set fields: each row writes back its own previous values (a blank
    one clears the field again), one job for rows restoring the same fields, however many
    different values they had (not one job a previous value)."""
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
