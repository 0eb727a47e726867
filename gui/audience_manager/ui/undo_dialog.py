"""Before an undo runs, show what it would change, and say so plainly when it cannot be done.

The plan comes from `jobs.undo.undo_spec`, read from the journal in a worker thread (a big job's
journal takes a moment to read). The dialog never runs anything itself: accepting emits the plan,
and the window starts its jobs like any other.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from audience_manager.jobs.journal import Journal
from audience_manager.jobs.undo import UndoPlan, undo_spec
from audience_manager.ui.background import in_worker

log = logging.getLogger(__name__)


async def load_undo_plan(journal: Journal, job_id: str) -> UndoPlan:
    """The undo plan of a job, read off the GUI thread."""
    return await in_worker(undo_spec, journal, job_id)


class UndoDialog(QDialog):
    """Shows the undo plan of one job; `undo_accepted(UndoPlan)` when the user confirms."""

    undo_accepted = Signal(object)  # jobs.undo.UndoPlan
    plan_loaded = Signal(object)  # UndoPlan, or None when it could not be read

    def __init__(self, journal: Journal, job_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._journal = journal
        self._job_id = job_id
        self._plan: UndoPlan | None = None
        self._task: asyncio.Task[None] | None = None
        self.setWindowTitle(self.tr("Undo job {job}").format(job=job_id))
        self.setModal(True)

        self.message_label = QLabel(self.tr("Working out what the undo would change…"), self)
        self.message_label.setWordWrap(True)
        self.details = QPlainTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setVisible(False)
        self.buttons = QDialogButtonBox(self)
        self.undo_button = QPushButton(self.tr("Undo"), self)
        self.undo_button.setEnabled(False)
        self.buttons.addButton(self.undo_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.message_label)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.buttons)
        self.resize(560, 320)

    @property
    def plan(self) -> UndoPlan | None:
        return self._plan

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    def open(self) -> None:
        """Show the dialog (window-modal, non-blocking) and start reading the plan."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._load())
        super().open()

    def accept(self) -> None:
        if self._plan is None or not self._plan.possible:
            return
        plan = self._plan
        super().accept()
        self.undo_accepted.emit(plan)

    async def _load(self) -> None:
        try:
            plan = await load_undo_plan(self._journal, self._job_id)
        except Exception as exc:  # a broken or missing journal entry must not leave the dialog hanging
            log.warning("Could not read the undo plan of job %s", self._job_id, exc_info=True)
            self.message_label.setText(
                self.tr("Could not read this job from the journal: {error}").format(error=str(exc))
            )
            self.close_button.setText(self.tr("Close"))
            self.plan_loaded.emit(None)
            return
        self._show_plan(plan)
        self.plan_loaded.emit(plan)

    def _show_plan(self, plan: UndoPlan) -> None:
        self._plan = plan
        if plan.impossible_reason:
            self.message_label.setText(
                self.tr("This job cannot be undone.") + "\n\n" + plan.impossible_reason
            )
            self.details.setPlainText("\n".join(plan.notes))
            self.details.setVisible(bool(plan.notes))
            self.close_button.setText(self.tr("Close"))
            return
        if not plan.specs:
            self.message_label.setText(
                self.tr("Nothing to undo: this job changed nothing that can be reverted.")
            )
            self.details.setPlainText("\n".join(plan.notes))
            self.details.setVisible(bool(plan.notes))
            self.close_button.setText(self.tr("Close"))
            return
        self.message_label.setText(
            self.tr("Undoing runs {jobs} new job(s) that revert {rows} row changes:").format(
                jobs=len(plan.specs), rows=f"{plan.rows_to_revert:,}"
            )
        )
        self.details.setPlainText(plan.summary())
        self.details.setVisible(True)
        self.undo_button.setText(self.tr("Undo {rows} changes").format(rows=f"{plan.rows_to_revert:,}"))
        self.undo_button.setEnabled(True)
        self.undo_button.setDefault(True)
        # The button was disabled while the plan was read, so the focus went to Cancel, and Return
        # on a focused button presses it: give the keyboard the action the dialog is for.
        self.undo_button.setFocus(Qt.FocusReason.OtherFocusReason)
