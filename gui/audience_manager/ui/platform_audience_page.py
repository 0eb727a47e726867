"""The audience panel's third page: an audience from the platform itself ("everyone on Webinar but
not on Customer"), picked from the account's tags and forms.

It only holds the picks and says what they are (`query()`); reading the members is
`jobs.platform_audience`'s, started by the panel, which shows the count before anything can run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from audience_manager.core.actions import Target, TargetKind
from audience_manager.core.audience_query import AudienceQuery, Source, SourceKind
from audience_manager.ui.icons import themed

STATUSES = (("active", "Active subscribers"), ("all", "Every subscriber"), ("cancelled", "Unsubscribed only"))


def source_of(target: Target) -> Source:
    return Source(
        SourceKind.TAG if target.kind is TargetKind.TAG else SourceKind.FORM, target.name or target.id
    )


class PlatformAudiencePage(QWidget):
    """Anyone on [tags/forms], except those on [tags/forms], only those also on [one]; Count."""

    query_changed = Signal()
    count_requested = Signal()
    back_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._targets: list[Target] = []
        self._has_status = True  # the platform has subscriber states (Kit), not HighLevel
        self.sources_list = QListWidget(self)
        self.sources_list.setObjectName("platformSources")
        self.excluded_list = QListWidget(self)
        self.excluded_list.setObjectName("platformExcluded")
        self.only_box = QComboBox(self)
        self.only_box.setObjectName("platformOnlyIn")
        self.only_file: Path | None = None  # "only those also in this file"
        self.only_file_button = themed(QPushButton(self.tr("File…"), self), "import")
        self.only_file_button.setToolTip(self.tr("Only those also in a CSV, TSV, TXT or Excel file"))
        self.only_file_button.clicked.connect(self._choose_only_file)
        self.status_box = QComboBox(self)
        for value, label in STATUSES:
            self.status_box.addItem(self.tr(label), value)
        self.count_button = themed(QPushButton(self.tr("Count"), self), "refresh")
        self.count_button.setToolTip(self.tr("Read who is on them (nothing is written) and show the count"))
        self.back_button = themed(QPushButton(self.tr("Back to pasting"), self), "paste")
        for box in (self.sources_list, self.excluded_list):
            box.itemChanged.connect(self._changed)
        self.only_box.currentIndexChanged.connect(self._changed)
        self.status_box.currentIndexChanged.connect(self._changed)
        self.count_button.clicked.connect(self.count_requested)
        self.back_button.clicked.connect(self.back_requested)

        form = QFormLayout()
        form.addRow(self.tr("Anyone on:"), self.sources_list)
        form.addRow(self.tr("Except those on:"), self.excluded_list)
        only_row = QHBoxLayout()
        only_row.addWidget(self.only_box, 1)
        only_row.addWidget(self.only_file_button)
        form.addRow(self.tr("Only those also on:"), only_row)
        self.status_label = QLabel(self.tr("Subscribers:"), self)
        form.addRow(self.status_label, self.status_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.count_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form, 1)
        layout.addLayout(buttons)
        self.set_targets([], has_status=True)

    def set_targets(self, targets: Sequence[Target], *, has_status: bool) -> None:
        """The account's tags and forms to pick from; picks of targets still there are kept."""
        kept = (
            self._checked(self.sources_list),
            self._checked(self.excluded_list),
            self.only_box.currentData(),
        )
        self._targets = [t for t in targets if t.kind in (TargetKind.TAG, TargetKind.FORM)]
        for box, checked in ((self.sources_list, kept[0]), (self.excluded_list, kept[1])):
            box.blockSignals(True)
            box.clear()
            for i, target in enumerate(self._targets):
                item = QListWidgetItem(self._label(target), box)
                item.setData(Qt.ItemDataRole.UserRole, i)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                on = (target.kind, target.id) in checked
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            box.blockSignals(False)
        self.only_box.blockSignals(True)
        self.only_box.clear()
        self.only_box.addItem(self.tr("(no condition)"), None)
        if self.only_file is not None:
            self.only_box.addItem(
                self.tr("file: {0}").format(self.only_file.name), ("file", str(self.only_file))
            )
            if kept[2] == ("file", str(self.only_file)):
                self.only_box.setCurrentIndex(1)
        for target in self._targets:
            self.only_box.addItem(self._label(target), (target.kind, target.id))
            if kept[2] == (target.kind, target.id):
                self.only_box.setCurrentIndex(self.only_box.count() - 1)
        self.only_box.blockSignals(False)
        self._has_status = has_status
        self.status_label.setVisible(has_status)
        self.status_box.setVisible(has_status)
        self._changed()

    def _label(self, target: Target) -> str:
        word = self.tr("Tag") if target.kind is TargetKind.TAG else self.tr("Form")
        count = f" ({target.subscriber_count:,})" if target.subscriber_count is not None else ""
        return f"{word}: {target.name or target.id}{count}"

    def _checked(self, box: QListWidget) -> set[tuple[TargetKind, str]]:
        out: set[tuple[TargetKind, str]] = set()
        for row in range(box.count()):
            item = box.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                target = self._targets[int(item.data(Qt.ItemDataRole.UserRole))]
                out.add((target.kind, target.id))
        return out

    def _picked(self, box: QListWidget) -> list[Target]:
        checked = self._checked(box)
        return [t for t in self._targets if (t.kind, t.id) in checked]

    def check(self, which: str, name: str) -> None:
        """Tick the tag or form `name` in "sources" or "excluded" (for tests and keyboard users)."""
        box = self.sources_list if which == "sources" else self.excluded_list
        for row in range(box.count()):
            item = box.item(row)
            if self._targets[int(item.data(Qt.ItemDataRole.UserRole))].name == name:
                item.setCheckState(Qt.CheckState.Checked)

    def targets(self) -> dict[Source, Target]:
        only = self.only_box.currentData()
        chosen = [*self._picked(self.sources_list), *self._picked(self.excluded_list)]
        chosen += [t for t in self._targets if only == (t.kind, t.id)]
        return {source_of(t): t for t in chosen}

    def query(self) -> AudienceQuery | None:
        """What is picked, or None while no source is ticked."""
        sources = tuple(source_of(t) for t in self._picked(self.sources_list))
        if not sources:
            return None
        only = self.only_box.currentData()
        only_in = tuple(source_of(t) for t in self._targets if only == (t.kind, t.id))
        if only is not None and only[0] == "file":
            only_in = (Source(SourceKind.FILE, str(only[1])),)
        excluded = tuple(source_of(t) for t in self._picked(self.excluded_list))
        return AudienceQuery(sources, excluded, only_in)

    def use_only_file(self, path: Path) -> None:
        """Only those also in `path` (the File… button's choice)."""
        self.only_file = path
        self.set_targets(self._targets, has_status=self._has_status)
        self.only_box.setCurrentIndex(1)

    def _choose_only_file(self) -> None:
        dialog = QFileDialog(self, self.tr("Only those also in this file"))
        dialog.setNameFilter(self.tr("Subscriber lists (*.csv *.tsv *.txt *.xlsx)"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(lambda name: self.use_only_file(Path(name)))
        dialog.open()

    def status(self) -> str:
        return str(self.status_box.currentData()) if self._has_status else "active"

    def _changed(self, *_: object) -> None:
        self.count_button.setEnabled(self.query() is not None)
        self.query_changed.emit()
