"""The results side of the window: every row's outcome, live while the job runs, and what to do next.

It only shows and asks: job events come in through the `*_event` slots (wired to `JobAdapter`),
and what the user wants done (cancel, retry, undo) goes out as signals for the window to act on.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from audience_manager.core.durations import format_duration
from audience_manager.core.outcomes import REPORT_HEADER, Outcome, RowOutcome
from audience_manager.core.report import neutralise
from audience_manager.jobs.events import JobState, Progress
from audience_manager.jobs.progress_text import progress_counts, progress_rate
from audience_manager.jobs.session import Controls, ShownJob
from audience_manager.ui.background import in_worker
from audience_manager.ui.outcome_charts import OutcomeBar, RateSparkline
from audience_manager.ui.results_model import (
    Column,
    ResultsFilter,
    ResultsFilterModel,
    ResultsModel,
    ResultsSnapshot,
)

log = logging.getLogger(__name__)

# How often the reason filter's list is refreshed while batches arrive (not on every batch).
REASONS_REFRESH_MS = 1000
# Above this many rows, Copy formats the text in a worker thread so the window keeps answering.
COPY_IN_PLACE_ROWS = 20_000
# A clipboard of more rows than this is slow to build and to paste anywhere: Export CSV is the tool.
COPY_MAX_ROWS = 100_000
# Rows appended at a time when a finished job is reopened (History).
SHOW_STEP_ROWS = 20_000


def count_text(n: int) -> str:
    return f"{n:,}"


def csv_save_dialog(
    parent: QWidget, title: str, file_name: str, save: Callable[[str], object]
) -> QFileDialog:
    """Ask where to save a CSV report: opened, not run (`exec()` would block the loop); `save(path)`
    runs once the user chose a file."""
    dialog = QFileDialog(parent, title)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setNameFilter(parent.tr("CSV files (*.csv)"))
    dialog.setDefaultSuffix("csv")
    dialog.selectFile(file_name)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.fileSelected.connect(save)
    dialog.open()
    return dialog


def save_error_text(exc: Exception) -> str:
    """Why a report could not be written, in the OS's words when it gave some (disk full, no permission)."""
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def write_report_rows(path: Path, snapshot: ResultsSnapshot, rows: Sequence[int] | None) -> int:
    """Runs in a worker thread: rebuild the chosen outcomes and hand them to the report writer."""
    from audience_manager.core.report import write_report

    return write_report(path, snapshot.outcomes(rows))


class ResultsPanel(QWidget):
    """The results table with its progress line, filters and the actions on the results."""

    cancel_requested = Signal()
    retry_failed_requested = Signal(list)  # list[RowOutcome]
    undo_requested = Signal(str)  # job id
    report_exported = Signal(str, int)  # path, rows written
    rows_copied = Signal(int)  # rows put on the clipboard
    export_failed = Signal(str)  # message for the user

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._job_id = ""  # whose outcomes the model holds
        self._running = False  # its events are still arriving
        # The job and the controls the window derives from its session state (`render`).
        self._shown: ShownJob | None = None
        self._controls: Controls | None = None
        self._started_at: float | None = None
        self._elapsed: float | None = None
        self._total = 0
        self._export_task: asyncio.Task[None] | None = None
        self._copy_task: asyncio.Task[None] | None = None
        self._exporting = False
        self._reasons_shown: list[tuple[str, int]] = []

        self.model = ResultsModel(self)
        self.filter_model = ResultsFilterModel(self)
        self.filter_model.setSourceModel(self.model)

        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat(self.tr("No job yet"))
        self.progress_bar.setAccessibleName(self.tr("Job progress"))
        self.progress_bar.setAccessibleDescription(self.tr("No job yet"))
        self.title_label = QLabel(self)
        self.title_label.setTextFormat(Qt.TextFormat.PlainText)
        self.title_label.setObjectName("resultsTitle")
        title_font = self.title_label.font()
        title_font.setBold(True)
        self.title_label.setFont(title_font)
        self.rate_label = QLabel(self)
        self.sparkline = RateSparkline(self)
        self.sparkline.hide()  # while a job runs
        self.outcome_bar = OutcomeBar(self)
        self.outcome_bar.setAccessibleName(self.tr("Outcomes of the job shown"))
        self.outcome_bar.outcome_clicked.connect(self.show_outcome_action)
        self.outcome_bar.hide()  # until there are outcomes
        self.cancel_button = QPushButton(self.tr("Cancel"), self)
        self.cancel_button.setAccessibleDescription(self.tr("Stop sending (Esc)"))
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_action)

        self.outcome_combo = QComboBox(self)
        self.outcome_combo.setAccessibleName(self.tr("Show outcomes"))
        for value, label in (
            (ResultsFilter.ALL, self.tr("All rows")),
            (ResultsFilter.FAILED, self.tr("Failed")),
            (ResultsFilter.SUCCEEDED, self.tr("Succeeded")),
            (ResultsFilter.UNCHANGED, self.tr("Unchanged")),
            (ResultsFilter.SKIPPED, self.tr("Skipped")),
            (ResultsFilter.CANCELLED, self.tr("Cancelled")),
        ):
            self.outcome_combo.addItem(label, value.value)
        self.reason_combo = QComboBox(self)
        self.reason_combo.setAccessibleName(self.tr("Show reason"))
        self.reason_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.reason_combo.setMinimumContentsLength(24)
        self.reason_combo.addItem(self.tr("Any reason"), "")
        self.outcome_combo.currentIndexChanged.connect(self._filter_changed)
        self.reason_combo.currentIndexChanged.connect(self._filter_changed)
        # On Linux a combo box's accessible name is its current value; its label names it.
        self.outcome_label = QLabel(self.tr("&Show:"), self)
        self.outcome_label.setBuddy(self.outcome_combo)
        self.reason_label = QLabel(self.tr("Reason:"), self)
        self.reason_label.setBuddy(self.reason_combo)

        self.copy_button = QPushButton(self.tr("C&opy"), self)
        self.copy_button.setToolTip(self.tr("Copy the selected rows as tab-separated text (Ctrl+C)"))
        self.copy_button.clicked.connect(self.copy_action)
        self.export_button = QPushButton(self.tr("E&xport CSV…"), self)
        self.export_button.setToolTip(self.tr("Save the rows shown as a CSV report"))
        self.export_button.clicked.connect(self.export_action)
        self.retry_button = QPushButton(self.tr("Re&try failed"), self)
        self.retry_button.clicked.connect(self.retry_failed_action)
        self.undo_button = QPushButton(self.tr("&Undo job"), self)
        self.undo_button.clicked.connect(self.undo_action)

        self.table = QTableView(self)
        self.table.setModel(self.filter_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.setAccessibleName(self.tr("Results"))
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; arrows move in it
        self.table.setAccessibleDescription(self.tr("One row per subscriber and target, with its outcome"))
        self.table.verticalHeader().setVisible(False)
        # Fixed row heights: the view then never measures a million rows.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in (
            (Column.ROW, 70),
            (Column.IDENTIFIER, 240),
            (Column.TARGET, 160),
            (Column.OUTCOME, 100),
        ):
            header.resizeSection(column, width)
        self.table.selectionModel().selectionChanged.connect(self._update_actions)

        self.copy_shortcut = QAction(self.tr("Copy"), self)
        self.copy_shortcut.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        self.copy_shortcut.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.copy_shortcut.triggered.connect(self.copy_action)
        self.table.addAction(self.copy_shortcut)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

        self.summary_label = QLabel(self)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary_label.setAccessibleName(self.tr("Job summary"))
        self.export_label = QLabel(self)
        self.export_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_label.setAccessibleName(self.tr("Export status"))

        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.sparkline)
        progress_row.addWidget(self.rate_label)
        progress_row.addWidget(self.cancel_button)
        tools_row = QHBoxLayout()
        tools_row.addWidget(self.outcome_label)
        tools_row.addWidget(self.outcome_combo)
        tools_row.addWidget(self.reason_label)
        tools_row.addWidget(self.reason_combo, 1)
        tools_row.addStretch()
        for button in (self.copy_button, self.export_button, self.retry_button, self.undo_button):
            tools_row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title_label)
        layout.addLayout(progress_row)
        layout.addWidget(self.outcome_bar)
        layout.addLayout(tools_row)
        layout.addWidget(self.table, 1)
        status_row = QHBoxLayout()
        status_row.addWidget(self.summary_label, 1)
        status_row.addWidget(self.export_label)
        layout.addLayout(status_row)

        self._reasons_timer = QTimer(self)
        self._reasons_timer.setInterval(REASONS_REFRESH_MS)
        self._reasons_timer.timeout.connect(self._refresh_reasons)
        self._update_actions()

    def changeEvent(self, event: QEvent) -> None:
        # Light/dark switch: the outcome colours are picked for the palette's background.
        if event.type() == QEvent.Type.PaletteChange:
            self.model.set_palette(self.palette())
        super().changeEvent(event)

    # --- state others read ----------------------------------------------------------------

    @property
    def job_id(self) -> str:
        return self._job_id

    @property
    def running(self) -> bool:
        return self._running

    @property
    def export_task(self) -> asyncio.Task[None] | None:
        return self._export_task

    # --- job events in --------------------------------------------------------------------

    def show_state(self, job: ShownJob | None, controls: Controls) -> None:
        """The job shown and what may be done with it, as the window derived them."""
        self._shown, self._controls = job, controls
        self.title_label.setText(self.tr(controls.results_title) if controls.results_title else "")
        self._update_actions()

    def job_started_event(self, job_id: str, total: int) -> None:
        self._job_id = job_id
        self._running = True
        self._total = total
        self._started_at = time.monotonic()
        self._elapsed = None
        self.model.clear()
        self._refresh_reasons()
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(self.tr("Starting… 0 of {total}").format(total=count_text(total)))
        self.progress_bar.setAccessibleDescription(self.progress_bar.format())
        self.rate_label.clear()
        self.sparkline.clear()
        self.sparkline.show()
        self._show_outcome_counts()
        self.summary_label.clear()
        self.export_label.clear()
        self._reasons_timer.start()
        self._update_actions()

    def outcomes_event(self, outcomes: list[RowOutcome]) -> None:
        self.model.append(outcomes)
        self._show_outcome_counts()
        if not self._running:
            # A job shown after the fact (history) or a late batch: keep the reasons in step now.
            self._refresh_reasons()
        self._update_actions()

    def progress_event(self, progress: Progress) -> None:
        resolving = progress.state == JobState.RESOLVING and progress.resolve_total
        done, total = (
            (progress.resolved, progress.resolve_total or 0) if resolving else (progress.done, progress.total)
        )
        total = max(total, 1)
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(min(done, total))
        counts = progress_counts(progress)
        targets = len(self._shown.spec.targets) if self._shown else 1
        if targets > 1 and not resolving:
            counts += self.tr(" · {n} targets each").format(n=targets)
        self.progress_bar.setFormat(counts)
        self.rate_label.setText(progress_rate(progress))
        self.sparkline.add_point(progress.rows_per_second)
        # What a screen reader says for the bar: its value alone (rows x targets) is no use.
        self.progress_bar.setAccessibleDescription(f"{counts}, {progress_rate(progress)}")

    def job_finished_event(self, job_id: str, state: str, reason: str) -> None:
        self._running = False
        self._reasons_timer.stop()
        if self._started_at is not None:
            self._elapsed = time.monotonic() - self._started_at
        done = self.model.rowCount()
        self.progress_bar.setRange(0, max(self._total, done, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(_state_text(self, state))
        self.rate_label.clear()
        self.sparkline.hide()
        self._show_outcome_counts()
        self.summary_label.setText(self.summary_text(reason))
        self.progress_bar.setAccessibleDescription(f"{_state_text(self, state)}: {self.summary_text(reason)}")
        self._refresh_reasons()
        self._update_actions()

    def show_job(
        self,
        job_id: str,
        outcomes: Sequence[RowOutcome],
        state: str,
        reason: str = "",
        *,
        elapsed: float | None = None,
    ) -> None:
        """Show a finished job's outcomes (reopened from history) as if it had just run.

        `elapsed` is how long it ran, for the summary line (None leaves the time out)."""
        self.job_started_event(job_id, len(outcomes))
        self.model.append(outcomes)
        self._show_outcome_counts()
        self._finish_reopened(job_id, state, reason, elapsed)

    async def show_job_in_steps(
        self,
        job_id: str,
        outcomes: Sequence[RowOutcome],
        state: str,
        reason: str = "",
        *,
        elapsed: float | None = None,
        step: int = SHOW_STEP_ROWS,
    ) -> None:
        """`show_job` for big jobs: appends `step` rows at a time and lets the window breathe
        between them (a million rows in one go would hold the GUI thread for about a second)."""
        self.job_started_event(job_id, len(outcomes))
        for start in range(0, len(outcomes), step):
            self.model.append(outcomes[start : start + step])
            self._show_outcome_counts()
            self.progress_bar.setValue(min(start + step, len(outcomes)))
            await asyncio.sleep(0)
            if self._job_id != job_id:
                return  # another job was shown meanwhile
        self._finish_reopened(job_id, state, reason, elapsed)

    def _finish_reopened(self, job_id: str, state: str, reason: str, elapsed: float | None) -> None:
        self._started_at = None
        self.job_finished_event(job_id, state, reason)
        self._elapsed = elapsed
        self.summary_label.setText(self.summary_text(reason))

    def clear_results(self) -> None:
        """Show nothing (the job shown was deleted); a running job cannot be cleared."""
        if self._running:
            return
        self._job_id = ""
        self._started_at = None
        self._elapsed = None
        self._total = 0
        self.model.clear()
        self._refresh_reasons()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(self.tr("No job yet"))
        for label in (self.rate_label, self.summary_label, self.export_label):
            label.clear()
        self.sparkline.clear()
        self.sparkline.hide()
        self._show_outcome_counts()
        self._update_actions()

    def summary_text(self, reason: str = "") -> str:
        counts = self.model.counts()
        parts = [
            self.tr("{n} succeeded").format(n=count_text(counts[Outcome.SUCCEEDED])),
            self.tr("{n} failed").format(n=count_text(counts[Outcome.FAILED])),
            self.tr("{n} skipped").format(n=count_text(counts[Outcome.SKIPPED])),
        ]
        if counts[Outcome.UNCHANGED]:
            parts.insert(1, self.tr("{n} unchanged").format(n=count_text(counts[Outcome.UNCHANGED])))
        if counts[Outcome.CANCELLED]:
            parts.append(self.tr("{n} cancelled").format(n=count_text(counts[Outcome.CANCELLED])))
        text = " · ".join(parts)
        if self._elapsed is not None:
            elapsed = format_duration(self._elapsed)
            text = self.tr("{counts} in {elapsed}").format(counts=text, elapsed=elapsed)
        if reason:
            text = f"{text}. {reason}"
        return text

    # --- user actions ---------------------------------------------------------------------

    def show_outcome_action(self, outcome: Outcome) -> None:
        """A segment of the outcome bar was clicked: show only its rows (again: show all rows)."""
        wanted = ResultsFilter(outcome.value)
        current = self.outcome_combo.currentData()
        target = ResultsFilter.ALL if current == wanted.value else wanted
        self.outcome_combo.setCurrentIndex(self.outcome_combo.findData(target.value))

    def cancel_action(self) -> None:
        if self._controls is not None and self._controls.can_cancel:
            self.cancel_requested.emit()

    def retry_failed_action(self) -> None:
        """Failed rows among those shown; all failed rows when the filter shows none of them."""
        shown = self.filter_model
        failed = self.model.failed() if shown.shows_everything else self.model.failed(shown.source_rows())
        if not failed:
            failed = self.model.failed()
        if failed:
            self.retry_failed_requested.emit(failed)

    def undo_action(self) -> None:
        if self._shown is not None and self._controls is not None and self._controls.can_undo:
            self.undo_requested.emit(self._shown.job_id)

    def selected_source_rows(self) -> Sequence[int]:
        """Model rows of the selection, in table order, from the selection's ranges (never per index:
        Select All on a million rows is one range)."""
        selection = self.table.selectionModel().selection()
        spans = sorted((selection.at(i).top(), selection.at(i).bottom()) for i in range(selection.count()))
        merged: list[list[int]] = []
        for top, bottom in spans:
            if merged and top <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], bottom)
            else:
                merged.append([top, bottom])
        source = self.filter_model.source_rows()
        if len(merged) == 1:
            top, bottom = merged[0]
            return source[top : bottom + 1]
        return [row for top, bottom in merged for row in source[top : bottom + 1]]

    def copy_action(self) -> asyncio.Task[None] | None:
        """Selected rows to the clipboard as TSV; a big selection is formatted in a worker thread."""
        rows = self.selected_source_rows()
        if not rows:
            return None
        if len(rows) > COPY_MAX_ROWS:
            self.export_label.setText(
                self.tr("{n} rows are too many to copy (at most {max}): use Export CSV for them.").format(
                    n=count_text(len(rows)), max=count_text(COPY_MAX_ROWS)
                )
            )
            return None
        if len(rows) <= COPY_IN_PLACE_ROWS:
            QGuiApplication.clipboard().setText(outcomes_as_tsv(self.model.outcomes(rows)))
            self.rows_copied.emit(len(rows))
            return None
        self._copy_task = asyncio.ensure_future(self._copy(self.model.snapshot(), rows))
        return self._copy_task

    async def _copy(self, snapshot: ResultsSnapshot, rows: Sequence[int]) -> None:
        text = await in_worker(lambda: outcomes_as_tsv(snapshot.outcomes(rows)))
        QGuiApplication.clipboard().setText(text)
        self.rows_copied.emit(len(rows))

    def export_action(self) -> None:
        """Ask where to save (non-blocking dialog), then write the rows shown in a worker thread."""
        csv_save_dialog(self, self.tr("Export results as CSV"), self._default_report_name(), self.export_to)

    def export_to(self, path: str | Path) -> asyncio.Task[None]:
        """Write the rows the filter shows to `path` off the GUI thread; reports by signal."""
        snapshot = self.model.snapshot()
        rows = self.filter_model.source_rows()
        shown_all = len(rows) == len(snapshot)
        self._export_task = asyncio.ensure_future(
            self._export(Path(path), snapshot, None if shown_all else rows)
        )
        return self._export_task

    async def _export(self, path: Path, snapshot: ResultsSnapshot, rows: Sequence[int] | None) -> None:
        self._exporting = True
        self._update_actions()
        try:
            written = await in_worker(write_report_rows, path, snapshot, rows)
        except Exception as exc:  # disk full, no permission, a bad path: say so, keep the rows
            message = self.tr("Could not save the report to {path}: {error}").format(
                path=str(path), error=save_error_text(exc)
            )
            self._exporting = False
            self.export_label.setText(message)
            self._update_actions()
            self.export_failed.emit(message)
            return
        self._exporting = False
        self.export_label.setText(
            self.tr("Saved {n} rows to {path}").format(n=count_text(written), path=str(path))
        )
        self._update_actions()
        self.report_exported.emit(str(path), written)

    # --- internals ------------------------------------------------------------------------

    def _default_report_name(self) -> str:
        what = self.filter_model.outcome_filter.value
        stem = f"job-{self._job_id}" if self._job_id else "results"
        return f"{stem}-{what}.csv" if what != ResultsFilter.ALL else f"{stem}.csv"

    def _filter_changed(self) -> None:
        outcome = ResultsFilter(self.outcome_combo.currentData() or ResultsFilter.ALL.value)
        reason = self.reason_combo.currentData() or None
        self.filter_model.set_filter(outcome, reason)
        self._update_actions()

    def _show_outcome_counts(self) -> None:
        counts = self.model.counts()
        self.outcome_bar.set_counts(counts)
        self.outcome_bar.setVisible(bool(self.model.rowCount()))

    def _refresh_reasons(self) -> None:
        reasons = self.model.reason_counts()
        if reasons == self._reasons_shown:
            return
        self._reasons_shown = reasons
        current = self.reason_combo.currentData() or ""
        self.reason_combo.blockSignals(True)
        try:
            self.reason_combo.clear()
            self.reason_combo.addItem(self.tr("Any reason"), "")
            for reason, n in reasons:
                label = reason.partition("\n")[0]
                self.reason_combo.addItem(f"{label} ({count_text(n)})", reason)
                self.reason_combo.setItemData(
                    self.reason_combo.count() - 1, reason, Qt.ItemDataRole.ToolTipRole
                )
            found = self.reason_combo.findData(current) if current else 0
            self.reason_combo.setCurrentIndex(max(found, 0))
        finally:
            self.reason_combo.blockSignals(False)
        if current and self.reason_combo.currentData() != current:
            self._filter_changed()

    def _update_actions(self, *_: object) -> None:
        has_rows = self.model.rowCount() > 0
        c = self._controls
        self.copy_button.setEnabled(self.table.selectionModel().hasSelection())
        self.export_button.setEnabled(has_rows and not self._exporting)
        self.cancel_button.setEnabled(bool(c and c.can_cancel))
        self.cancel_button.setText(self.tr(c.cancel_text) if c else self.tr("Cancel"))
        self.cancel_button.setToolTip(self.tr(c.cancel_hint) if c else "")
        self.retry_button.setEnabled(bool(c and c.can_retry))
        self.retry_button.setToolTip(self.tr(c.retry_hint) if c else "")
        self.undo_button.setEnabled(bool(c and c.can_undo))
        self.undo_button.setToolTip(self.tr(c.undo_hint) if c else "")

    def select_all_rows(self) -> None:
        self.table.selectAll()

    def select_rows(self, proxy_rows: Iterable[int]) -> None:
        selection = self.table.selectionModel()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for r in proxy_rows:
            selection.select(self.filter_model.index(r, 0, QModelIndex()), flags)


def outcomes_as_tsv(outcomes: Iterable[RowOutcome]) -> str:
    """Tab-separated with a header line, as spreadsheets paste it; tabs and newlines become spaces.

    Written line by line into one buffer: a million rows would otherwise exist twice (as lines and
    as the joined text)."""
    flatten = str.maketrans("\t\r\n", "   ")
    out = io.StringIO()
    out.write("\t".join(REPORT_HEADER) + "\n")
    for o in outcomes:
        texts = (o.identifier, o.target, o.reason)  # a pasted "=..." would be a formula, as in the CSV
        i, t, r = (neutralise(f.translate(flatten)) for f in texts)
        out.write("\t".join((str(o.row), i, t, o.outcome.value, r)) + "\n")
    return out.getvalue()


def _state_text(panel: QWidget, state: str) -> str:
    texts: dict[str, Callable[[], str]] = {
        JobState.FINISHED.value: lambda: panel.tr("Finished"),
        JobState.CANCELLED.value: lambda: panel.tr("Cancelled"),
        JobState.FAILED.value: lambda: panel.tr("Stopped early"),
        JobState.INTERRUPTED.value: lambda: panel.tr("Interrupted"),
    }
    return texts.get(state, lambda: state.capitalize())()
