"""The session's state behind the window: the accounts, the current platform, its catalog, the job.

Widgets ask the workspace and listen to its signals; they never talk to a platform client or a
runner themselves. That keeps the window a thin view over this object, and lets the tests and
`--smoke` drive the same code the buttons use.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from audience_manager.api.platform import Platform, RateBudget
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import RowOutcome
from audience_manager.core.platforms import Capabilities
from audience_manager.jobs import workflows
from audience_manager.jobs.resume import ResumePlan
from audience_manager.jobs.undo import UndoPlan
from audience_manager.ui.background import Background, in_worker
from audience_manager.ui.job_adapter import JobAdapter

log = logging.getLogger(__name__)

PlatformFactory = Callable[[Account, "Credentials | None"], "Platform | Awaitable[Platform]"]

JOB_STOP_SECONDS = 10.0  # how long quitting waits for a cancelled job to record its rows

# The catalog lists each kind only when the account can act on it (HighLevel has no forms).
_KIND_ACTION = {
    TargetKind.TAG: (Action.TAG, Action.UNTAG),
    TargetKind.FORM: (Action.ADD_TO_FORM,),
    TargetKind.FIELD: (Action.SET_FIELD,),
}


@dataclass(frozen=True)
class AccountEntry:
    """An account the switcher offers, with the credentials to open it (never shown or saved here)."""

    account: Account
    credentials: Credentials | None  # None: not in the keyring (opening it says so, with Retry)

    @property
    def label(self) -> str:
        """The account's name, with its platform when the name does not already say it."""
        name, platform = self.account.name, self.account.platform.label
        words = name.casefold()
        parts = [name]
        if platform.split()[0].casefold() not in words:
            parts.append(platform)
        if self.account.demo and "demo" not in words:
            parts.append("demo")
        return " · ".join(parts)


class Workspace(QObject):
    """Accounts, the open platform, its catalog and the running job, for one window."""

    accounts_changed = Signal()
    account_switched = Signal()
    catalog_started = Signal()
    catalog_loaded = Signal()
    catalog_failed = Signal(str)
    tag_created = Signal(object)  # Target
    tag_creation_failed = Signal(str)
    job_running_changed = Signal(bool)
    job_refused = Signal(str)
    job_resumed = Signal(object)  # jobs.resume.ResumePlan, once its runner starts
    job_shown = Signal(object)  # jobs.workflows.JobRun: recorded, about to run, the one shown

    def __init__(self, *, journal_path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.entries: list[AccountEntry] = []
        self.demo = False
        self.sandbox: Any = None  # the demo's simulated platforms, when the demo is open
        self.demo_transport: Any = None  # how the demo accounts reach them (kept across reloads)
        self.journal_path = journal_path
        self._platform_factory: PlatformFactory | None = None
        self._on_close: Callable[[], Coroutine[Any, Any, None]] | None = None
        self._index = -1
        self._platform: Platform | None = None
        self.background = Background()
        self._catalog_task: asyncio.Task[None] | None = None
        self.catalog: dict[TargetKind, list[Target]] = {}
        self.catalog_error = ""
        self.catalog_busy = False
        # One adapter for the window's lifetime: its signals are wired to the results once.
        self.job = JobAdapter(self)
        self.job.progressed.connect(_settle_long_lived)
        self._job_task: asyncio.Task[None] | None = None
        self._journal: Any = None
        self._closed = False
        self.job_started_at = 0.0
        # Extra Runner arguments (the benchmark lifts the flush interval, tests shorten it).
        self.runner_options: dict[str, Any] = {}

    # -- accounts ---------------------------------------------------------------------------

    @property
    def current(self) -> AccountEntry | None:
        return self.entries[self._index] if 0 <= self._index < len(self.entries) else None

    @property
    def current_index(self) -> int:
        return self._index

    @property
    def platform(self) -> Platform | None:
        return self._platform

    @property
    def capabilities(self) -> Capabilities | None:
        return self._platform.capabilities if self._platform else None

    def budget(self) -> RateBudget | None:
        return self._platform.budget() if self._platform else None

    def set_entries(
        self,
        entries: list[AccountEntry],
        platform_factory: PlatformFactory,
        *,
        demo: bool = False,
        sandbox: Any = None,
        on_close: Callable[[], Coroutine[Any, Any, None]] | None = None,
        select: int = 0,
    ) -> asyncio.Task[None] | None:
        """Offer `entries` in the switcher (at start, or after the Accounts dialog saved changes)
        and open entry `select`. `on_close` releases what the entries share (the demo transport)."""
        previous_close = self._on_close
        previous = self.current
        self.entries = list(entries)
        self._platform_factory = platform_factory
        self.demo = demo
        self.sandbox = sandbox
        self._on_close = on_close
        self._index = -1
        if previous_close is not None and previous_close != on_close:
            self._spawn(previous_close())
        if not self.entries:
            self.accounts_changed.emit()
            return None
        select = min(max(select, 0), len(self.entries) - 1)
        if previous is not None and self._platform is not None and self.entries[select] == previous:
            # The account on screen is offered again unchanged (another one was added or edited):
            # it stays open, and so do its catalog, the ticked targets, the audience and the results.
            self._index = select
            self.accounts_changed.emit()
            return None
        self.accounts_changed.emit()
        return self.switch_account(select)

    def switch_account(self, index: int) -> asyncio.Task[None] | None:
        """Open account `index` and load its catalog. Refused while a job runs (its platform is busy).

        The old platform is dropped at once, so nothing can start on it while it closes."""
        if index == self._index or not 0 <= index < len(self.entries) or self.job_running:
            return None
        self._index = index
        old, self._platform = self._platform, None
        self.catalog = {}
        self.catalog_error = ""
        self.catalog_busy = True
        self.catalog_started.emit()
        return self._spawn(self._open_current(old))

    async def _open_current(self, old: Platform | None = None) -> None:
        if old is not None:
            await _close_quietly(old)
        entry = self.current
        if entry is None:
            return
        self.catalog = {}
        self.catalog_busy = True
        self.catalog_started.emit()
        try:
            if self._platform_factory is None:
                raise RuntimeError("no way to open accounts was given")
            made = self._platform_factory(entry.account, entry.credentials)
            platform = await made if inspect.isawaitable(made) else made
        except Exception as exc:  # shown to the user with a Retry; never a crash
            log.warning("opening %s failed: %s", entry.account.name, type(exc).__name__)
            self.catalog_busy = False
            self.catalog_error = self.tr("Could not open the account: {0}").format(exc)
            self.catalog_failed.emit(self.catalog_error)
            return
        if self.current is not entry:  # switched again meanwhile
            await _close_quietly(platform)
            return
        self._platform = platform
        self.account_switched.emit()
        await self._load_catalog()

    # -- catalog ----------------------------------------------------------------------------

    def catalog_kinds(self) -> list[TargetKind]:
        caps = self.capabilities
        if caps is None:
            return []
        return [kind for kind, actions in _KIND_ACTION.items() if any(a in caps.actions for a in actions)]

    def refresh_catalog(self) -> asyncio.Task[None] | None:
        if self._platform is None:
            if self.current is not None:  # opening failed: Retry opens it again
                return self._spawn(self._open_current())
            return None
        if self._catalog_task is not None and not self._catalog_task.done():
            return self._catalog_task
        return self._spawn(self._load_catalog())

    async def _load_catalog(self) -> None:
        platform = self._platform
        if platform is None:
            return
        self._catalog_task = asyncio.current_task()  # type: ignore[assignment]
        self.catalog_busy = True
        self.catalog_error = ""
        self.catalog_started.emit()
        try:
            kinds = self.catalog_kinds()
            lists = await asyncio.gather(*(platform.list_targets(kind) for kind in kinds))
        except asyncio.CancelledError:
            self.catalog_busy = False
            raise
        except Exception as exc:  # a network or auth error becomes the panel's error state
            if platform is not self._platform:
                return
            self.catalog_busy = False
            self.catalog_error = str(exc) or type(exc).__name__
            self.catalog_failed.emit(self.catalog_error)
            return
        if platform is not self._platform:
            return
        self.catalog = {
            kind: sorted(items, key=lambda t: t.name.casefold())
            for kind, items in zip(kinds, lists, strict=True)
        }
        self.catalog_busy = False
        self.catalog_loaded.emit()

    def create_tag(self, name: str) -> asyncio.Task[None] | None:
        if self._platform is None:
            return None
        return self._spawn(self._create_tag(self._platform, name.strip()))

    async def _create_tag(self, platform: Platform, name: str) -> None:
        try:
            tag = await platform.create_tag(name)
        except Exception as exc:
            self.tag_creation_failed.emit(str(exc) or type(exc).__name__)
            return
        tags = [t for t in self.catalog.get(TargetKind.TAG, []) if t.id != tag.id]
        self.catalog[TargetKind.TAG] = sorted([*tags, tag], key=lambda t: t.name.casefold())
        self.tag_created.emit(tag)
        self.catalog_loaded.emit()

    # -- jobs -------------------------------------------------------------------------------

    @property
    def job_running(self) -> bool:
        return self._job_task is not None and not self._job_task.done()

    def journal(self) -> Any:
        """The journal every job is recorded in (opened on first use: it touches the disk)."""
        if self._journal is None and self.journal_path is not None:
            from audience_manager.jobs.journal import Journal

            self._journal = Journal(self.journal_path)
        return self._journal

    def start_job(
        self, spec: JobSpec, *, parent_id: str | None = None, kind: str = "run"
    ) -> asyncio.Task[None]:
        """Record `spec` in the journal (off the GUI thread: 100,000 rows take a moment), then run
        it; `self.job` (a JobAdapter) reports it. `kind` is the journal's run/retry/undo."""
        if self._platform is None or self.current is None:
            raise RuntimeError("no account is open")
        if self.job_running:
            raise RuntimeError("a job is already running")
        platform, account = self._platform, self.current.account
        make = functools.partial(
            workflows.start_job,
            self.journal(),
            platform,
            account,
            spec,
            parent_id=parent_id,
            kind=kind,
            **self.runner_options,
        )
        refusal = self.tr("The job could not be recorded, so nothing was sent: {0}")
        return self._begin_job(self._run(make, refusal))

    def undo_job(self, plan: UndoPlan) -> asyncio.Task[None]:
        """Run the undo jobs of `plan` one after another on the current account (the one the job ran
        on: the window checks). Each is recorded and shown like any job."""
        if self._platform is None or self.current is None:
            raise RuntimeError("no account is open")
        if self.job_running:
            raise RuntimeError("a job is already running")
        journal = self.journal()
        if journal is None:
            raise RuntimeError("there is no journal to undo from")
        platform, account = self._platform, self.current.account

        async def run_all() -> None:
            options = self.runner_options
            try:
                async for run in workflows.undo_runs(journal, platform, account, plan, **options):
                    self._show_run(run)
                    await self.job.start(run)
            except Exception as exc:  # the journal could not be written: nothing more is sent
                self.job_refused.emit(self.tr("The undo stopped: {0}").format(exc))

        return self._begin_job(run_all())

    def resume_job(self, plan: ResumePlan, earlier: list[RowOutcome]) -> asyncio.Task[None]:
        """Finish an interrupted job on the account it ran on (opened first if another one is).

        The job keeps its id and report, and the results show its earlier outcomes before the new
        ones. Problems (the account is gone, a job already running) come out as `job_refused`."""
        return self._spawn(self._resume_job(plan, earlier))

    async def _resume_job(self, plan: ResumePlan, earlier: list[RowOutcome]) -> None:
        journal = self.journal()
        if journal is None:
            self.job_refused.emit(self.tr("There is no journal to resume the job from."))
            return
        platform = await self._open_account_of(plan.account)
        if platform is None or self.current is None:
            return
        if self.job_running:
            self.job_refused.emit(self.tr("A job is already running; resume this one when it ends."))
            return
        make = functools.partial(
            workflows.resume_job, journal, platform, plan, earlier, **self.runner_options
        )
        task = self._begin_job(self._run(make, self.tr("The job could not be resumed: {0}")))
        self.job_resumed.emit(plan)
        await task

    def _begin_job(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `work` (one job, or an undo's jobs in turn) as the one job task: while it runs,
        `job_running` is true and no other job starts."""
        self.job_started_at = time.monotonic()
        self._job_task = task = self._spawn(work)
        task.add_done_callback(lambda _task: self.job_running_changed.emit(False))
        self.job_running_changed.emit(True)
        return task

    def _show_run(self, run: workflows.JobRun) -> None:
        _settle_long_lived()
        self.job_shown.emit(run)

    async def _run(self, make: Callable[[], workflows.JobRun], refusal: str) -> None:
        """Record and start one job (`make` touches the journal: off the GUI thread)."""
        try:
            run = await in_worker(make)
        except Exception as exc:  # the journal could not be written: no write is made without it
            self.job_refused.emit(refusal.format(exc))
            return
        self._show_run(run)
        await self.job.start(run)

    async def _open_account_of(self, account: Account) -> Platform | None:
        """The open platform of `account` (the one a job ran on), switching to it if need be; None
        (said through `job_refused`) when that account is no longer offered or does not open."""
        index = next(
            (
                k
                for k, e in enumerate(self.entries)
                if e.account.name == account.name and e.account.platform == account.platform
            ),
            None,
        )
        if index is None:
            self.job_refused.emit(
                self.tr(
                    "The account {0} this job ran on is no longer set up, so the job cannot be resumed."
                ).format(account.name)
            )
            return None
        if index != self._index:
            if self.job_running:
                self.job_refused.emit(self.tr("A job is already running; resume this one when it ends."))
                return None
            task = self.switch_account(index)
            if task is not None:
                with contextlib.suppress(Exception):
                    await task
        deadline = time.monotonic() + JOB_STOP_SECONDS * 3
        while self._platform is None and not self.catalog_error and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # the account is still opening (at start, or just switched)
        if self._platform is None or self._index != index:
            why = self.catalog_error or self.tr("it did not open in time")
            text = self.tr("The account {0} could not be opened to resume the job: {1}")
            self.job_refused.emit(text.format(account.name, why))
            return None
        return self._platform

    def cancel_job(self) -> bool:
        if not self.job_running:
            return False
        self.job.cancel()
        return True

    def preview(self, spec: JobSpec) -> asyncio.Task[Any]:
        """What `spec` would send, without writing anything (for the Preview dialog)."""
        if self._platform is None or self.current is None:
            raise RuntimeError("no account is open")
        return self._spawn(workflows.preview_job(self.journal(), self._platform, self.current.account, spec))

    def resolution_cost(self, spec: JobSpec) -> asyncio.Task[Any]:
        """How the run of `spec` would resolve its emails, and the requests it takes (for Run's
        confirmation when no preview was made)."""
        if self._platform is None or self.current is None:
            raise RuntimeError("no account is open")
        return self._spawn(
            workflows.resolution_cost(self.journal(), self._platform, self.current.account, spec)
        )

    # -- lifetime ---------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        return self.background.spawn(coro)

    async def aclose(self) -> None:
        """Cancel what runs, close the platform and the demo's transport (called once, on quit)."""
        if self._closed:
            return
        self._closed = True
        if self.job_running:
            # Let the runner end every unsent row as cancelled and the journal record it, rather
            # than cutting it off; the journal can still resume a job cut off by a hard kill.
            self.job.cancel()
            deadline = time.monotonic() + JOB_STOP_SECONDS
            while self.job_running and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        task = self.job.task
        if task is not None and not task.done():
            task.cancel()
        await self.background.wait_all()
        if self._platform is not None:
            await _close_quietly(self._platform)
            self._platform = None
        if self._journal is not None and hasattr(self._journal, "close"):
            with contextlib.suppress(Exception):
                self._journal.close()
        if self._on_close is not None:
            with contextlib.suppress(Exception):
                await self._on_close()


def _settle_long_lived(*_args: object) -> None:
    """Move every object alive now out of the collector's sight (`gc.freeze`).

    A 100,000-row job keeps hundreds of thousands of objects (the audience, the runner's outcomes)
    for its whole run; each full collection walked them all and froze the GUI for 100-250 ms.
    Frozen objects are still freed by reference counting when dropped; only reference cycles among
    them wait (asyncio's are broken explicitly, ours have none)."""
    gc.freeze()


async def _close_quietly(platform: Platform) -> None:
    with contextlib.suppress(Exception):
        await platform.aclose()
