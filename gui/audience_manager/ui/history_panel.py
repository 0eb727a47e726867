"""Past jobs from the journal: find one, look at its rows again, export, retry, undo, or forget it.

Every journal read and delete runs in a worker thread (`ui.background.in_worker`): a journal with big jobs
takes a moment to read, and the window must keep answering while it does. What the user asks to run
(a retry, an undo) goes out as signals for the window to start, like any other job.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from audience_manager.core.actions import Action
from audience_manager.core.outcomes import Outcome
from audience_manager.jobs.events import JobState
from audience_manager.jobs.history import (
    JobFilter,
    delete_jobs_before,
    iter_job_outcomes,
    list_jobs,
    people_counts,
)
from audience_manager.jobs.journal import LIVE_STATES, JobRecord, Journal
from audience_manager.jobs.session import Controls, SessionState
from audience_manager.ui.background import Background, in_worker
from audience_manager.ui.outcome_charts import OutcomeBarDelegate, PeopleCountsRole, counts_text
from audience_manager.ui.results_panel import count_text, csv_save_dialog, save_error_text
from audience_manager.ui.undo_dialog import UndoDialog

log = logging.getLogger(__name__)

T = TypeVar("T")
AnyIndex = QModelIndex | QPersistentModelIndex

DAY = 86_400.0


class HistoryColumn(enum.IntEnum):
    WHEN = 0
    ACCOUNT = 1
    ACTION = 2
    TARGETS = 3
    STATE = 4
    PEOPLE = 5
    CHANGED = 6
    UNCHANGED = 7
    FAILED = 8
    SKIPPED = 9
    CANCELLED = 10
    KIND = 11
    OUTCOMES = 12  # the job's outcome bar, painted by `OutcomeBarDelegate`


JobRecordRole = Qt.ItemDataRole.UserRole + 1
_COLUMN_OUTCOME = {
    HistoryColumn.CHANGED: Outcome.SUCCEEDED,
    HistoryColumn.UNCHANGED: Outcome.UNCHANGED,
    HistoryColumn.FAILED: Outcome.FAILED,
    HistoryColumn.SKIPPED: Outcome.SKIPPED,
    HistoryColumn.CANCELLED: Outcome.CANCELLED,
}


class HistoryModel(QAbstractTableModel):
    """Past jobs, newest first, as `jobs.history.list_jobs` returns them."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: list[JobRecord] = []
        self._people: list[dict[Outcome, int]] = []

    def set_jobs(self, jobs: Sequence[JobRecord], people: Sequence[dict[Outcome, int]] | None = None) -> None:
        """The jobs, and how many people ended in each outcome (`jobs.history.people_counts`)."""
        self.beginResetModel()
        self._jobs = list(jobs)
        self._people = list(people) if people is not None else [{} for _ in jobs]
        self.endResetModel()

    def jobs(self) -> list[JobRecord]:
        return list(self._jobs)

    def job_at(self, row: int) -> JobRecord:
        return self._jobs[row]

    def row_of(self, job_id: str) -> int | None:
        for row, job in enumerate(self._jobs):
            if job.id == job_id:
                return row
        return None

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HistoryColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if role == Qt.ItemDataRole.DisplayRole and horizontal and 0 <= section < len(HistoryColumn):
            return self._headers()[section]
        return None

    def _headers(self) -> tuple[str, ...]:
        # Spelled out so the translation tools find each heading.
        return (
            self.tr("When"),
            self.tr("Account"),
            self.tr("Action"),
            self.tr("Targets"),
            self.tr("State"),
            self.tr("People"),
            self.tr("Changed"),
            self.tr("Unchanged"),
            self.tr("Failed"),
            self.tr("Skipped"),
            self.tr("Cancelled"),
            self.tr("Kind"),
            self.tr("Outcomes"),
        )

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        job = self._jobs[index.row()]
        column = HistoryColumn(index.column())
        if column == HistoryColumn.OUTCOMES:
            people = self._people[index.row()]
            if role == PeopleCountsRole:
                return dict(people)
            if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
                return self.tr("People: {0}").format(counts_text(people))
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(job, column, self._people[index.row()])
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == HistoryColumn.STATE and job.reason:
                return job.reason
            if column == HistoryColumn.WHEN:
                return self.tr("Job {job}").format(job=job.id)
            if column >= HistoryColumn.CHANGED and len(job.targets) > 1:
                return self.tr(
                    "Each person counts once over the {n} targets: failed if any target failed, "
                    "changed if any changed"
                ).format(n=len(job.targets))
            return None
        if (
            role == Qt.ItemDataRole.TextAlignmentRole
            and column >= HistoryColumn.PEOPLE
            and column != HistoryColumn.KIND
        ):
            return int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
        if role == JobRecordRole:
            return job
        return None

    def _text(self, job: JobRecord, column: HistoryColumn, people: dict[Outcome, int]) -> str:
        if column == HistoryColumn.WHEN:
            return datetime.fromtimestamp(job.created_at).strftime("%Y-%m-%d %H:%M")
        if column == HistoryColumn.ACCOUNT:
            return job.account
        if column == HistoryColumn.ACTION:
            text = self.tr(job.action.label)
            return f"{text} = {job.value}" if job.value is not None else text
        if column == HistoryColumn.TARGETS:
            return job.target_names or self.tr("all tags")
        if column == HistoryColumn.STATE:
            return self.tr(job.state.value.capitalize())
        if column == HistoryColumn.PEOPLE:
            return count_text(job.total // max(len(job.targets), 1))
        outcome = _COLUMN_OUTCOME.get(column)
        if outcome is not None:
            return count_text(people.get(outcome, 0))
        kinds = {"run": self.tr("Run"), "retry": self.tr("Retry"), "undo": self.tr("Undo")}
        return kinds.get(job.kind, job.kind)


class Period(enum.StrEnum):
    ANY = "any"
    TODAY = "today"
    WEEK = "7d"
    MONTH = "30d"
    QUARTER = "90d"

    def since(self, now: float) -> float | None:
        if self is Period.ANY:
            return None
        if self is Period.TODAY:
            return datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        days = {Period.WEEK: 7, Period.MONTH: 30, Period.QUARTER: 90}[self]
        return now - days * DAY


class HistoryPanel(QWidget):
    """The History tab: a filterable list of past jobs above the selected job's results."""

    history_loaded = Signal(int)  # jobs listed
    job_selected = Signal(object)  # the id of the one job selected, or None
    open_requested = Signal(str)  # job id: show its rows in the Results
    retry_requested = Signal(str)  # job id: retry its failed rows
    undo_accepted = Signal(object)  # jobs.undo.UndoPlan, confirmed in the UndoDialog
    report_exported = Signal(str, int)  # path, rows written
    jobs_deleted = Signal(int, list)  # how many, their ids (empty for "older than")
    error_event = Signal(str)  # a journal read or write failed; the message says what to do
    resume_requested = Signal(str)  # job id of an interrupted (or cancelled) job to finish

    def __init__(
        self, journal: Journal | Callable[[], Journal | None] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._journal_source = journal
        self.background = Background(on_error=self._report_error)
        self._controls: Controls | None = None
        self._generation = 0
        self.undo_dialog: UndoDialog | None = None
        self.confirm_box: QMessageBox | None = None
        self.save_dialog: QFileDialog | None = None

        self.model = HistoryModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # One job selected at a time: every button acts on exactly the highlighted job.
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.setAccessibleName(self.tr("Past jobs"))
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; arrows move in it
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(HistoryColumn.TARGETS, QHeaderView.ResizeMode.Stretch)
        self.outcome_delegate = OutcomeBarDelegate(self.table)
        self.table.setItemDelegateForColumn(HistoryColumn.OUTCOMES, self.outcome_delegate)
        header.setSectionResizeMode(HistoryColumn.OUTCOMES, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(HistoryColumn.OUTCOMES, 170)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _index: self.open_selected_action())

        self.account_combo = QComboBox(self)
        self.account_combo.setAccessibleName(self.tr("Account"))
        self.account_combo.addItem(self.tr("All accounts"), "")
        self.action_combo = QComboBox(self)
        self.action_combo.setAccessibleName(self.tr("Action"))
        self.action_combo.addItem(self.tr("All actions"), "")
        for action in Action:
            self.action_combo.addItem(self.tr(action.label), action.value)
        self.period_combo = QComboBox(self)
        self.period_combo.setAccessibleName(self.tr("When"))
        for period, label in (
            (Period.ANY, self.tr("Any time")),
            (Period.TODAY, self.tr("Today")),
            (Period.WEEK, self.tr("Last 7 days")),
            (Period.MONTH, self.tr("Last 30 days")),
            (Period.QUARTER, self.tr("Last 90 days")),
        ):
            self.period_combo.addItem(label, period.value)
        self.state_combo = QComboBox(self)
        self.state_combo.setAccessibleName(self.tr("State"))
        self.state_combo.addItem(self.tr("Any state"), "")
        for state in JobState:
            self.state_combo.addItem(self.tr(state.value.capitalize()), state.value)
        for combo in (self.account_combo, self.action_combo, self.period_combo, self.state_combo):
            combo.currentIndexChanged.connect(lambda _i: self.refresh_action())
        # On Linux a combo box's accessible name is its current value; a label names each filter.
        self.filter_labels: list[QLabel] = []
        for text, combo in (
            (self.tr("Account:"), self.account_combo),
            (self.tr("Action:"), self.action_combo),
            (self.tr("When:"), self.period_combo),
            (self.tr("State:"), self.state_combo),
        ):
            filter_label = QLabel(text, self)
            filter_label.setBuddy(combo)
            self.filter_labels.append(filter_label)

        self.refresh_button = QPushButton(self.tr("Refre&sh"), self)
        self.refresh_button.clicked.connect(lambda: self.refresh_action())
        self.open_button = QPushButton(self.tr("Sh&ow rows"), self)
        self.open_button.setToolTip(self.tr("Show this job's rows below (or double-click the job)"))
        self.open_button.clicked.connect(lambda: self.open_selected_action())
        self.export_button = QPushButton(self.tr("E&xport report…"), self)
        self.export_button.clicked.connect(self.export_action)
        self.retry_button = QPushButton(self.tr("Retr&y failed…"), self)
        self.retry_button.clicked.connect(lambda: self.retry_selected_action())
        self.undo_button = QPushButton(self.tr("&Undo…"), self)
        self.undo_button.setToolTip(self.tr("See what undoing this job would change, then confirm"))
        self.undo_button.clicked.connect(lambda: self.undo_action())
        self.resume_button = QPushButton(self.tr("Resu&me"), self)
        self.resume_button.setToolTip(
            self.tr("Finish an interrupted or cancelled job: send the rows that have no outcome yet")
        )
        self.resume_button.clicked.connect(lambda: self.resume_selected_action())
        self.delete_button = QPushButton(self.tr("Dele&te"), self)
        self.delete_button.setToolTip(self.tr("Forget the selected jobs (nothing changes on the platform)"))
        self.delete_button.clicked.connect(lambda: self.delete_selected_action())
        self.older_spin = QSpinBox(self)
        self.older_spin.setRange(1, 3650)
        self.older_spin.setValue(90)
        self.older_spin.setSuffix(self.tr(" days"))
        self.older_spin.setAccessibleName(self.tr("Age of jobs to delete"))
        self.delete_old_button = QPushButton(self.tr("Delete ol&der than"), self)
        self.delete_old_button.clicked.connect(lambda: self.delete_old_action())
        self.status_label = QLabel(self)

        filters = QHBoxLayout()
        for filter_label, widget in zip(
            self.filter_labels,
            (self.account_combo, self.action_combo, self.period_combo, self.state_combo),
            strict=True,
        ):
            filters.addWidget(filter_label)
            filters.addWidget(widget)
        filters.addStretch()
        filters.addWidget(self.refresh_button)
        actions = QHBoxLayout()
        for button in (
            self.open_button,
            self.export_button,
            self.resume_button,
            self.retry_button,
            self.undo_button,
            self.delete_button,
        ):
            actions.addWidget(button)
        actions.addStretch()
        actions.addWidget(self.delete_old_button)
        actions.addWidget(self.older_spin)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.status_label)
        self._update_actions()

    def showEvent(self, event: QShowEvent) -> None:
        # Shown as a tab: list what the journal holds now (jobs may have run since).
        super().showEvent(event)
        if self.journal() is not None:
            self.refresh_action()

    # --- the journal ----------------------------------------------------------------------

    def set_journal(self, journal: Journal | Callable[[], Journal | None] | None) -> None:
        self._journal_source = journal

    def journal(self) -> Journal | None:
        source = self._journal_source
        if source is None or isinstance(source, Journal):
            return source
        return source()

    def selected_job(self) -> JobRecord | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.job_at(rows[0].row()) if rows else None

    def selected_jobs(self) -> list[JobRecord]:
        job = self.selected_job()
        return [job] if job is not None else []

    def show_state(self, state: SessionState, controls: Controls) -> None:
        """What the window's state allows (a running job blocks retry, undo and resume)."""
        self._controls = controls
        self._update_actions()

    def select_job(self, job_id: str) -> bool:
        row = self.model.row_of(job_id)
        if row is None:
            return False
        self.table.selectRow(row)
        return True

    def current_filter(self, now: float | None = None) -> JobFilter:
        action = self.action_combo.currentData()
        state = self.state_combo.currentData()
        return JobFilter(
            account=self.account_combo.currentData() or None,
            action=Action(action) if action else None,
            state=JobState(state) if state else None,
            since=Period(self.period_combo.currentData()).since(time.time() if now is None else now),
        )

    # --- user actions ---------------------------------------------------------------------

    def refresh_action(self) -> asyncio.Task[None] | None:
        """Reload the list with the current filters (and the accounts the filter offers)."""
        return self._spawn(self._refresh())

    def resume_selected_action(self) -> str | None:
        """Ask the window to resume the selected job (it owns the account and the results)."""
        job = self.selected_job()
        if job is None or not self._resumable(job):
            return None
        self.resume_requested.emit(job.id)
        return job.id

    def retry_selected_action(self) -> str | None:
        """Ask the window to retry the selected job's failed rows (it confirms first)."""
        job = self.selected_job()
        if job is None or not job.failed:
            return None
        self.retry_requested.emit(job.id)
        return job.id

    async def show_job_action(self, job_id: str) -> bool:
        """List the jobs again with no filter hiding `job_id`, select it and show its rows."""
        for combo in (self.account_combo, self.action_combo, self.period_combo, self.state_combo):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        await self._refresh()
        return self.select_job(job_id)

    def open_selected_action(self) -> str | None:
        """Show the selected job's rows in the Results tab (the window reads them)."""
        job = self.selected_job()
        if job is None:
            return None
        self.open_requested.emit(job.id)
        return job.id

    def export_action(self) -> QFileDialog | None:
        jobs = self.selected_jobs()
        if len(jobs) != 1:
            return None
        job = jobs[0]
        self.save_dialog = csv_save_dialog(
            self,
            self.tr("Export the report of job {job}").format(job=job.id),
            f"job-{job.id}.csv",
            lambda path: self.export_job_to(job.id, path),
        )
        return self.save_dialog

    def export_job_to(self, job_id: str, path: str | Path) -> asyncio.Task[None] | None:
        """Write a job's whole report (read from the journal, in a worker thread) to `path`."""
        return self._spawn(self._export(job_id, Path(path)))

    def undo_action(self, job_id: str | None = None) -> UndoDialog | None:
        """Open the undo dialog for `job_id` (or the selected job): it shows the plan, or why not."""
        journal = self.journal()
        if journal is None:
            return None
        if job_id is None:
            jobs = self.selected_jobs()
            if len(jobs) != 1:
                return None
            job_id = jobs[0].id
        dialog = UndoDialog(journal, job_id, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.undo_accepted.connect(self.undo_accepted)
        self.undo_dialog = dialog
        dialog.open()
        return dialog

    def delete_selected_action(self) -> QMessageBox | None:
        jobs = [j for j in self.selected_jobs() if not self._live(j)]
        if not jobs:
            return None
        ids = [j.id for j in jobs]
        text = self.tr("Forget {n} job(s) and their rows? Nothing changes on the platform.").format(
            n=len(ids)
        )
        return self._confirm(text, lambda: self._spawn(self._delete(ids=ids)))

    def delete_old_action(self) -> QMessageBox | None:
        days = self.older_spin.value()
        text = self.tr("Forget every job older than {days} days? Nothing changes on the platform.").format(
            days=days
        )
        return self._confirm(text, lambda: self._spawn(self._delete(before=time.time() - days * DAY)))

    # --- workers --------------------------------------------------------------------------

    async def _refresh(self) -> None:
        journal = self.journal()
        if journal is None:
            self.model.set_jobs([])
            self.status_label.setText(self.tr("No journal yet: jobs appear here once one has run."))
            self.history_loaded.emit(0)
            return
        selected = {j.id for j in self.selected_jobs()}  # kept by id: rows move as jobs are added
        where = self.current_filter()
        # Filters change faster than the journal answers: only the newest request's answer is shown.
        self._generation += 1
        generation = self._generation
        try:
            jobs, people, accounts = await in_worker(_read_history, journal, where)
        except Exception as exc:  # a locked or damaged journal: say so, keep the panel usable
            self._report_error(self.tr("Could not read the job history: {error}").format(error=exc))
            return
        if generation != self._generation:
            return
        self._set_accounts(accounts)
        self.table.selectionModel().blockSignals(True)
        self.model.set_jobs(jobs, people)
        self.table.selectionModel().blockSignals(False)
        rows = [r for r in (self.model.row_of(job_id) for job_id in selected) if r is not None]
        if rows:
            self.table.selectRow(rows[0])
        self._selection_changed()
        self.status_label.setText(
            self.tr("1 job") if len(jobs) == 1 else self.tr("{n} jobs").format(n=count_text(len(jobs)))
        )
        self._update_actions()
        self.history_loaded.emit(len(jobs))

    async def _export(self, job_id: str, path: Path) -> None:
        journal = self.journal()
        if journal is None:
            return
        try:
            written = await in_worker(_write_job_report, journal, job_id, path)
        except Exception as exc:
            self._report_error(
                self.tr("Could not save the report to {path}: {error}").format(
                    path=str(path), error=save_error_text(exc)
                )
            )
            return
        self.status_label.setText(
            self.tr("Saved {n} rows to {path}").format(n=count_text(written), path=str(path))
        )
        self.report_exported.emit(str(path), written)

    async def _delete(self, *, ids: Sequence[str] = (), before: float | None = None) -> None:
        journal = self.journal()
        if journal is None:
            return
        try:
            if before is not None:
                deleted = await in_worker(delete_jobs_before, journal, before)
            else:
                deleted = await in_worker(journal.delete_jobs, list(ids))
        except Exception as exc:
            self._report_error(self.tr("Could not delete jobs: {error}").format(error=exc))
            return
        await self._refresh()
        self.status_label.setText(self.tr("Deleted {n} jobs").format(n=count_text(deleted)))
        self.jobs_deleted.emit(deleted, list(ids))

    # --- internals ------------------------------------------------------------------------

    def _confirm(self, text: str, on_yes: Callable[[], object]) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Delete jobs"), text, parent=self)
        yes = box.addButton(self.tr("Delete"), QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: on_yes() if button is yes else None)
        self.confirm_box = box
        box.open()
        return box

    def _set_accounts(self, accounts: list[str]) -> None:
        current = self.account_combo.currentData() or ""
        known = [self.account_combo.itemData(i) for i in range(1, self.account_combo.count())]
        if known == accounts:
            return
        self.account_combo.blockSignals(True)
        try:
            self.account_combo.clear()
            self.account_combo.addItem(self.tr("All accounts"), "")
            for name in accounts:
                self.account_combo.addItem(name, name)
            self.account_combo.setCurrentIndex(max(self.account_combo.findData(current), 0))
        finally:
            self.account_combo.blockSignals(False)

    def _selection_changed(self, *_: object) -> None:
        job = self.selected_job()
        self.job_selected.emit(job.id if job else None)
        self._update_actions()

    def _update_actions(self, *_: object) -> None:
        job = self.selected_job()
        idle = self._controls is None or self._controls.can_resume  # no job running in the window
        ended = job is not None and not self._live(job)
        self.open_button.setEnabled(job is not None and idle)
        self.export_button.setEnabled(job is not None)
        self.retry_button.setEnabled(ended and idle and bool(job and job.failed))
        self.undo_button.setEnabled(ended and idle)
        self.resume_button.setEnabled(idle and job is not None and self._resumable(job))
        self.delete_button.setEnabled(ended)
        self.delete_old_button.setEnabled(self.model.rowCount() > 0)

    def _report_error(self, message: str) -> None:
        log.warning("%s", message)
        self.status_label.setText(message)
        self.error_event.emit(message)

    @staticmethod
    def _resumable(job: JobRecord) -> bool:
        return job.state in (JobState.INTERRUPTED, JobState.CANCELLED)

    @staticmethod
    def _live(job: JobRecord) -> bool:
        return job.state in LIVE_STATES

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return self.background.spawn(coro)


def _read_history(
    journal: Journal, where: JobFilter
) -> tuple[list[JobRecord], list[dict[Outcome, int]], list[str]]:
    """Runs in a worker thread: the jobs the filter matches, their outcomes counted in people, and
    every account that has jobs.

    A job whose process died (a crash, a kill) is marked interrupted first, so it is listed as such
    and offers Resume rather than looking like it still runs."""
    journal.interrupted_jobs()
    jobs = list_jobs(journal, where)
    accounts = sorted({j.account for j in list_jobs(journal)})
    return jobs, [people_counts(journal, j) for j in jobs], accounts


def _write_job_report(journal: Journal, job_id: str, path: Path) -> int:
    """Runs in a worker thread: stream the job's outcomes from the journal into the report file."""
    from audience_manager.core.report import write_report

    return write_report(path, iter_job_outcomes(journal, job_id))
