"""The one state of a working session, and every control's state derived from it.

The window used to keep flags beside its widgets (running, undoable, cancelling, the job shown, the
history row chosen) and they drifted apart: Run stayed disabled after a file was read, Undo acted on
a different job than the one on screen. Here the session is one immutable `SessionState`; the window
replaces it when something happens and renders `controls(state)` in full. Nothing is stored twice,
so nothing can disagree. Qt-free, so the rules are tested without a window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from audience_manager.core.actions import Action, Target
from audience_manager.core.audience import Audience
from audience_manager.core.job_spec import BlankCells, FieldMapping, JobSpec
from audience_manager.core.planning import job_targets
from audience_manager.core.platforms import Capabilities
from audience_manager.jobs.journal import KIND_RETRY, KIND_UNDO

CHECKING_UNDO = "Checking whether this job can be undone…"
CANCEL_WAIT_SECONDS = 5  # the runner's cancel grace: requests on their way get this long


def job_title(spec: JobSpec, kind: str, parent_id: str | None) -> str:
    """What a job is, in the user's words: 'Tag: VIP', 'Undo of job 1a2b3c: Remove tag VIP'."""
    targets = job_targets(spec)
    names = ", ".join(str(t) for t in targets) or "all tags"
    what = f"{spec.action.label}: {names}"
    if spec.action is Action.SET_FIELD and spec.fields:
        what += " = each row's own value"
    elif spec.action is Action.SET_FIELD:
        what += f" = {spec.value or ''!r}"
    if parent_id and kind == KIND_UNDO:
        return f"Undo of job {parent_id}: {what}"
    if parent_id and kind == KIND_RETRY:
        return f"Retry of job {parent_id}: {what}"
    return what


@dataclass(frozen=True)
class ShownJob:
    """The job the Results tab shows: running now, just finished, or reopened from History."""

    job_id: str
    spec: JobSpec
    account: str  # the account it ran on (its name)
    kind: str = "run"
    parent_id: str | None = None
    running: bool = False
    cancelling: bool = False
    state: str = ""  # how it ended (JobState value), once it has
    undo_blocker: str | None = CHECKING_UNDO  # why Undo is not offered; None when it is
    failed: int = 0  # failed rows in the results
    retryable: int = 0  # failed rows a retry could fix (not "does not exist")

    @property
    def title(self) -> str:
        return job_title(self.spec, self.kind, self.parent_id)

    @property
    def people(self) -> int:
        return self.spec.audience.total


@dataclass(frozen=True)
class SessionState:
    """Everything the window shows that can change, in one value."""

    account: str = ""  # the open account's name ("" while none is open)
    account_label: str = ""  # as the switcher shows it
    demo: bool = False  # the open account is simulated
    capabilities: Capabilities | None = None
    catalog_busy: bool = False
    catalog_error: str = ""
    audience: Audience | None = field(default=None, compare=False)
    reading: bool = False  # the audience is being read (a file, a big paste)
    action: Action = Action.TAG
    targets: tuple[Target, ...] = ()  # ticked in the catalog, for the action's kind
    value: str | None = None
    move_from: Target | None = None  # Move tag: the one tag the platform audience is read from
    remove_all_tags: bool = False  # untag every tag each contact has (HighLevel; confirmed with the count)
    job: ShownJob | None = None
    busy: bool = False  # a job (or an undo's jobs in turn) runs: nothing else may start
    history_job: str | None = None  # the one job selected in History (its id)
    keyring_problem: str | None = None  # saved accounts cannot reach their tokens: why
    # Set custom field from the file: field target -> column, chosen in the audience panel.
    fields: FieldMapping = ()
    field_targets: tuple[Target, ...] = ()  # the mapped fields, in the mapping's order
    blank: BlankCells = BlankCells.SKIP
    create_missing: bool = False  # opt-in: create the emails not on the platform yet
    first_name_column: str | None = None

    @property
    def job_running(self) -> bool:
        return self.busy


def run_blocker(state: SessionState) -> str | None:
    """Why Run and Preview cannot be pressed now, in the user's words; None when they can."""
    caps = state.capabilities
    if not state.account or caps is None:
        return "Open an account first" if not state.catalog_busy else "The account is still opening"
    why = caps.why_not(state.action)
    if why:
        return why
    if state.job_running:
        return "A job is running; wait for it to end or cancel it"
    if state.action is Action.MOVE_TAG:
        if state.move_from is None:
            return "Move tag moves the members of one tag: pick it under From the platform… (Anyone on)"
        if len(state.targets) != 1:
            return "Move tag: tick the one tag to move them to"
        if state.targets[0].id == state.move_from.id:
            return "Move tag: the tag to move to is the tag they are on"
    mapped = state.action is Action.SET_FIELD and bool(state.fields)
    if state.remove_all_tags:
        if state.action is not Action.UNTAG or not caps.can_remove_all_tags:
            return "Only HighLevel removes all tags at once, with Remove tag"
    elif not state.targets and not mapped:
        return "Tick at least one target in the catalog"
    if state.action is Action.SET_FIELD and not mapped and len(state.targets) != 1:
        return "Set custom field writes one field at a time: tick exactly one"
    if state.reading:
        return "The audience is still being read"
    if state.audience is None or not state.audience.rows:
        return "Paste or import subscribers first"
    if state.create_missing and not caps.can_create:
        return caps.cannot_create
    return None


def can_create_missing(state: SessionState) -> tuple[bool, str]:
    """Whether the "create the people not there yet" option applies, and why not."""
    caps = state.capabilities
    if caps is None or not caps.can_create:
        return False, caps.cannot_create if caps is not None else "Open an account first"
    if state.action is Action.UNTAG:
        return False, "Removing a tag creates no one"
    return True, "Create the emails not on the platform yet (first name from the file), then apply the action"


def values_from_columns(state: SessionState) -> bool:
    """Set custom field with columns mapped: each row's own values, to the mapped fields (the
    catalog's ticks and the one value box do not apply)."""
    return state.action is Action.SET_FIELD and bool(state.fields)


def spec_of(state: SessionState) -> JobSpec | None:
    """The job the window is set up for, from the state alone; None until it can be built."""
    if not state.account or state.audience is None:
        return None
    mapped = values_from_columns(state)
    creating = state.create_missing and state.action is not Action.UNTAG
    return JobSpec(
        account=state.account,
        action=state.action,
        targets=() if state.remove_all_tags else (state.field_targets if mapped else state.targets),
        audience=state.audience,
        value=None if mapped else state.value,
        fields=state.fields if mapped else (),
        blank=state.blank,
        create_missing=creating,
        first_name_column=state.first_name_column if creating else None,
        remove_all_tags=state.remove_all_tags,
        move_from=state.move_from if state.action is Action.MOVE_TAG else None,
    )


@dataclass(frozen=True)
class Controls:
    """What every control shows, derived from one `SessionState`."""

    run_blocker: str | None
    can_run: bool
    can_switch_account: bool
    can_cancel: bool
    cancel_text: str
    cancel_hint: str
    results_title: str
    can_retry: bool
    retry_hint: str
    can_undo: bool
    undo_hint: str
    can_resume: bool


def _retry_hint(state: SessionState, job: ShownJob | None) -> tuple[bool, str]:
    if job is None or job.running:
        return False, "Retry the failed rows once the job has ended"
    if not job.failed:
        return False, "No row failed"
    if job.account != state.account:
        return False, f"Switch to the account {job.account} to retry this job"
    if not job.retryable:
        return False, "Every failed row failed because the subscriber does not exist; a retry cannot fix it"
    left_out = job.failed - job.retryable
    rows = "the failed row" if job.retryable == 1 else f"the {job.retryable:,} failed rows"
    hint = f"Send {rows} again as a new job"
    if left_out:
        hint += f" ({left_out:,} left out: the subscriber does not exist)"
    return True, hint


def _undo_hint(state: SessionState, job: ShownJob | None) -> tuple[bool, str]:
    if job is None:
        return False, "No job to undo"
    if job.running:
        return False, "Undo the job once it has ended"
    if job.undo_blocker is not None:
        return False, job.undo_blocker
    if job.account != state.account:
        return False, f"Switch to the account {job.account} to undo this job"
    return True, f"Reverse what this job changed ({job.title})"


def controls(state: SessionState) -> Controls:
    job = state.job
    blocker = run_blocker(state)
    can_retry, retry_hint = _retry_hint(state, job)
    can_undo, undo_hint = _undo_hint(state, job)
    cancelling = bool(job and job.cancelling)
    if cancelling:
        cancel_text = "Cancelling…"
        cancel_hint = (
            f"Requests already on their way get up to {CANCEL_WAIT_SECONDS} s to finish; "
            "every other row ends as cancelled"
        )
    else:
        cancel_text = "Cancel"
        cancel_hint = f"Stop sending (Esc). Requests on their way get up to {CANCEL_WAIT_SECONDS} s to finish"
    title = ""  # no job: the progress bar says "No job yet"
    if job is not None:
        title = job.title if job.account == state.account else f"{job.title} (on {job.account})"
    return Controls(
        run_blocker=blocker,
        can_run=blocker is None,
        can_switch_account=not state.job_running,
        can_cancel=bool(job and job.running) and not cancelling,
        cancel_text=cancel_text,
        cancel_hint=cancel_hint,
        results_title=title,
        can_retry=can_retry,
        retry_hint=retry_hint,
        can_undo=can_undo,
        undo_hint=undo_hint,
        can_resume=not state.job_running,
    )


class Session:
    """Holds the one current `SessionState` and tells its listeners each time it is replaced."""

    def __init__(self, state: SessionState | None = None) -> None:
        self.state = state or SessionState()
        self._listeners: list[Callable[[SessionState], None]] = []

    def subscribe(self, listener: Callable[[SessionState], None]) -> None:
        self._listeners.append(listener)

    def update(self, **changes: object) -> SessionState:
        self.state = replace(self.state, **changes)  # type: ignore[arg-type]
        for listener in list(self._listeners):
            listener(self.state)
        return self.state

    def update_job(self, job_id: str, **changes: object) -> SessionState:
        """Change the shown job, if it is still `job_id` (a late answer about another job is dropped)."""
        job = self.state.job
        if job is None or job.job_id != job_id:
            return self.state
        return self.update(job=replace(job, **changes))  # type: ignore[arg-type]
