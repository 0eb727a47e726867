"""Undoing a job: the inverse jobs that put back exactly what it changed, and nothing else.

What each row looked like before the write is in the journal (`ItemResult.previous`; "yes"/"no" for
tag membership, the old text for a custom field, as `Platform.read_state` reports it):

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

An undo is itself a job (kind "undo", parent = the undone job), so it can be undone in turn.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

from audience_manager.core.actions import Action, Target
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.job_spec import BlankCells, JobSpec
from audience_manager.core.outcomes import Outcome
from audience_manager.jobs.events import JobState
from audience_manager.jobs.journal import KIND_UNDO, LIVE_STATES, Journal

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
    """Build the inverse of `job_id` from its journal. Run each spec as its own job with
    `journal.create_job(spec, account, parent_id=job_id, kind=plan.kind)`."""
    record = journal.job(job_id)
    if record.state in LIVE_STATES and record.started_at is not None:
        return UndoPlan(job_id, impossible_reason="This job is still running; undo it when it has ended.")
    original = journal.spec(job_id)
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
    kept_already = unknown = failed = unsure = ambiguous = 0
    restore: dict[int, dict[str, str]] = defaultdict(dict)  # row -> field target id -> previous value
    # Pairs sent twice were in flight when an earlier start of the job was killed: if the first send
    # landed, the second one found the change already made and says "unchanged".
    resent = {pair for pair, n in journal.sends(job_id).items() if n > 1}
    for rec in sorted(journal.outcome_records(job_id).values(), key=lambda r: r.row):
        row, target_id, outcome, previous = rec.row, rec.target_id, rec.outcome, rec.previous
        if row not in rows or target_id not in targets:
            continue
        if outcome == Outcome.UNCHANGED:
            if (row, target_id) in resent:
                ambiguous += 1
            else:
                kept_already += 1
            continue
        if outcome != Outcome.SUCCEEDED:
            failed += outcome in (Outcome.FAILED, Outcome.CANCELLED)
            continue
        audience_row = rows[row]
        if action is Action.TAG:
            if previous == HAD:
                kept_already += 1
                continue
            unsure += previous is None
            groups[(Action.UNTAG, None)][target_id].append(audience_row)
        elif action is Action.UNTAG:
            if previous == HAD_NOT:
                kept_already += 1
                continue
            unsure += previous is None
            groups[(Action.TAG, None)][target_id].append(audience_row)
        elif action is Action.SET_FIELD:
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
    if kept_already:
        notes.append(f"{kept_already} rows were already so before the job and are left as they are.")
    if failed:
        notes.append(f"{failed} rows failed or were cancelled: the job did not change them.")
    if ambiguous:
        notes.append(
            f"{ambiguous} rows were in flight when the job was interrupted and then reported unchanged:"
            " the job may have made that change before it stopped. They are left as they are."
        )
    if record.state is JobState.INTERRUPTED:
        notes.append(
            "The job was interrupted: rows in flight when it stopped may have changed and are not undone."
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
