"""The last look before a write: which account, which action, which targets, how many rows.

Shown with `open()` (window-modal, never a nested `exec()` loop); the window starts the job on
`accepted`. Also the read-only Preview of what a job would send.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from audience_manager.api.resolution import ResolutionPlan
from audience_manager.core.actions import Action
from audience_manager.core.job_spec import BlankCells, JobSpec
from audience_manager.jobs.preview import PreviewReport
from audience_manager.ui.icons import icon


@dataclass(frozen=True)
class JobSummary:
    """What the confirmation names, in the user's words. `mode` is run, retry or resume; with a
    preview of this very job its numbers are the preview's (the Preview dialog and this one agree)."""

    account: str
    platform: str  # the account as the switcher shows it ("Demo · Kit", "Shop · HighLevel")
    action: Action
    targets: tuple[str, ...]
    rows: int
    invalid: int
    duplicates: int
    value: str | None
    double_opt_in_forms: tuple[str, ...]
    demo: bool
    mode: str = "run"
    preview: PreviewReport | None = None
    notes: tuple[str, ...] = ()
    remaining: int | None = None  # resume: row x target pairs left to send
    resolution: ResolutionPlan | None = None  # how the emails are resolved and its cost in requests
    remove_all_tags: bool = False
    create_missing: bool = False  # emails not on the platform yet are created first
    from_columns: tuple[str, ...] = ()  # set field from the file: "Company ← company"
    blank_clears: bool = False

    @property
    def retry(self) -> bool:
        return self.mode == "retry"

    @property
    def not_found(self) -> int:
        return len(self.preview.not_found_rows) if self.preview else 0

    @classmethod
    def of(
        cls,
        spec: JobSpec,
        account_label: str,
        *,
        demo: bool,
        mode: str = "run",
        preview: PreviewReport | None = None,
        notes: tuple[str, ...] = (),
        remaining: int | None = None,
        resolution: ResolutionPlan | None = None,
    ) -> JobSummary:
        doi = (
            tuple(str(t) for t in spec.targets if t.double_opt_in)
            if spec.action is Action.ADD_TO_FORM
            else ()
        )
        return cls(
            account=spec.account,
            platform=account_label,
            action=spec.action,
            targets=_targets_named(spec),
            rows=len(spec.audience.rows),
            invalid=len(spec.audience.invalid),
            duplicates=len(spec.audience.duplicates),
            value=spec.value,
            double_opt_in_forms=doi,
            demo=demo,
            mode=mode,
            preview=preview,
            notes=notes,
            remaining=remaining,
            resolution=resolution or (preview.resolution if preview is not None else None),
            remove_all_tags=spec.remove_all_tags,
            create_missing=spec.create_missing,
            from_columns=tuple(
                f"{t} ← column {spec.column_of(t)}" for t in spec.targets if spec.column_of(t) is not None
            ),
            blank_clears=spec.blank is BlankCells.CLEAR,
        )

    def rows_lines(self) -> list[str]:
        """How many people the job sends and what it will do to them, line by line."""
        lines: list[str] = []
        each = f", on each of the {len(self.targets)} targets" if len(self.targets) > 1 else ""
        preview = self.preview
        if self.mode == "resume":
            lines.append(f"{self.remaining or 0:,} row × target outcomes are left to send{each}")
        elif self.mode == "retry":
            lines.append(f"{_people(self.rows)} will be sent again{each}")
        elif preview is not None and preview.checked_rows >= preview.rows:
            lines.append(
                f"{_people(preview.would_change)} will be changed, {preview.already:,} already so"
                f" (reported unchanged){each}"
            )
        elif preview is not None:
            lines.append(f"{_people(self.rows)} will be sent{each}")
            lines.append(
                f"Of the first {preview.checked_rows:,} previewed: {preview.would_change:,} will change,"
                f" {preview.already:,} already so"
            )
        else:
            lines.append(f"{_people(self.rows)} will be sent{each}; anyone already so is reported unchanged")
        if self.from_columns:
            blank = "a blank cell clears the field" if self.blank_clears else "a blank cell is left as it was"
            lines.append(f"Each row's own value: {', '.join(self.from_columns)}; {blank}")
        if self.not_found and self.create_missing:
            lines.append(
                f"{_people(self.not_found)} not on {self.platform} yet will be created first"
                f" (first name from the file), then {self.action.label.lower()}"
            )
        elif self.create_missing:
            lines.append(
                "Anyone not on the platform yet will be created first, then the action applies to them"
            )
        elif self.not_found:
            lines.append(f"{_people(self.not_found)} not found by the preview: not sent, reported skipped")
        if self.resolution is not None and self.resolution.emails:  # "Resolving 3,050 emails: 21 requests"
            text = self.resolution.describe()
            lines.append(text[:1].upper() + text[1:])
        not_sent = self.invalid + self.duplicates - (0 if self.create_missing else self.not_found)
        if not_sent:
            lines.append(f"{not_sent:,} rows are not sent (invalid or duplicate) and are reported as skipped")
        return [*lines, *self.notes]


def _targets_named(spec: JobSpec) -> tuple[str, ...]:
    if spec.remove_all_tags:
        return ("all tags",)
    if spec.action is Action.MOVE_TAG and spec.move_from is not None:
        return tuple(f"{spec.move_from} → {t}" for t in spec.targets)
    return tuple(str(t) for t in spec.targets)


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n:,} people"


def _bold(widget: QLabel) -> QLabel:
    font = widget.font()
    font.setBold(True)
    widget.setFont(font)
    return widget


class ConfirmDialog(QDialog):
    """Names everything the job will change; the Run button says the action and the row count."""

    def __init__(self, summary: JobSummary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = summary
        self.setWindowTitle(self.tr("Confirm the job"))
        self.setWindowModality(Qt.WindowModality.WindowModal)

        heading = _bold(QLabel(self))
        verb = {
            "retry": self.tr("Retry the failed rows?"),
            "resume": self.tr("Resume this job?"),
        }.get(summary.mode, self.tr("Make this change?"))
        heading.setText(verb)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        account = summary.platform
        self.account_label = QLabel(account, self)
        self.action_label = QLabel(self.tr(summary.action.label), self)
        self.targets_label = QLabel(", ".join(summary.targets), self)
        self.targets_label.setWordWrap(True)
        self.rows_label = QLabel(self)
        self._show_rows()
        for label in (self.account_label, self.action_label, self.targets_label, self.rows_label):
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.tr("Account:"), self.account_label)
        form.addRow(self.tr("Action:"), self.action_label)
        form.addRow(self.tr("Targets:"), self.targets_label)
        if summary.value is not None:
            value = summary.value or self.tr("(empty: the field is cleared)")
            form.addRow(self.tr("Value:"), QLabel(value, self))
        form.addRow(self.tr("Rows:"), self.rows_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.setSpacing(8)
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(6)
        layout.addWidget(heading)
        layout.addSpacing(4)
        layout.addLayout(form)
        self.warning_label: QLabel | None = None
        warning = ""
        if summary.remove_all_tags:
            warning = self.tr(
                "⚠ Every tag of {0} will be removed, not only one. The undo gives each contact back "
                "the tags HighLevel said it had."
            ).format(_people(summary.rows))
        elif summary.double_opt_in_forms:
            warning = self.tr(
                "⚠ {0} uses double opt-in: every subscriber added receives the form's incentive "
                "(confirmation) email."
            ).format(", ".join(summary.double_opt_in_forms))
        elif summary.action is Action.ADD_TO_FORM:
            warning = self.tr(
                "⚠ If a form uses double opt-in, every subscriber added receives its incentive "
                "(confirmation) email, including people who are already confirmed."
            )
        if warning:
            self.warning_label = QLabel(warning, self)
            self.warning_label.setWordWrap(True)
            self.warning_label.setTextFormat(Qt.TextFormat.PlainText)
            layout.addWidget(_bold(self.warning_label))
        note = (
            self.tr("Demo workspace: this runs against the simulated account; nothing leaves this computer.")
            if summary.demo
            else self.tr(
                "This writes to your live account. Every row's outcome is recorded and can be exported."
            )
        )
        self.note_label = QLabel(note, self)
        self.note_label.setWordWrap(True)
        layout.addWidget(self.note_label)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        count = f"{summary.rows:,}"
        button = (
            self.tr("Resume")
            if summary.mode == "resume"
            else self.tr("{0} {1} rows").format(self.tr(summary.action.label), count)
        )
        self.run_button = self.buttons.addButton(
            button,
            QDialogButtonBox.ButtonRole.AcceptRole,
        )
        self.run_button.setIcon(icon("run"))
        self.run_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addSpacing(6)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(440)

    def pricing_started(self) -> None:
        """The email lookups' cost is being worked out: say so until `set_resolution`."""
        self.rows_label.setText(
            self.rows_label.text() + "\n" + self.tr("Working out how to look the emails up…")
        )

    def set_resolution(self, resolution: ResolutionPlan | None) -> None:
        """How the emails will be looked up and what it costs, once the platform said."""
        self.summary = replace(self.summary, resolution=resolution)
        self._show_rows()

    def _show_rows(self) -> None:
        self.rows_label.setText("\n".join(self.tr(line) for line in self.summary.rows_lines()))


class PreviewDialog(QDialog):
    """What a job would send, with no write made. Read-only text so it can be copied."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setPlainText(text)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(640, 420)
