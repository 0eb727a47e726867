"""The centre: who the action applies to. A paste box, or a file (imported or dropped) with a column.

Parsing is `core`'s job; this panel decides when to parse (debounced while typing, off the GUI
thread for big inputs), shows the live counts, and offers the invalid rows one click away.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QEvent, QMimeData, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QBrush, QDragEnterEvent, QDropEvent, QPalette, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from audience_manager.api.platform import Platform
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, Problem
from audience_manager.core.audience_file import FilePreview, inspect_file, read_audience
from audience_manager.core.cells import ALL_KINDS
from audience_manager.core.field_mapping import guess_first_name_column, guess_mapping
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import BlankCells, FieldMapping
from audience_manager.core.paste import parse_text
from audience_manager.jobs.platform_audience import (
    AudienceReadCancelled,
    ReadProgress,
    read_platform_audience,
)
from audience_manager.ui.background import in_worker
from audience_manager.ui.icons import themed
from audience_manager.ui.platform_audience_page import PlatformAudiencePage

T = TypeVar("T")
# .xls is taken only to say what to do with it (the reader explains: save it as .xlsx or CSV UTF-8);
# refusing the drop would leave the user with a no-entry cursor and no reason.
FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls")
DEBOUNCE_MS = 250
# Below this many characters a paste parses in well under a frame, on the GUI thread.
INLINE_PARSE_LIMIT = 50_000
PREVIEW_ROWS = 8
# A file's other columns are kept with each row (for fields set from them) up to this many.
MAX_VALUE_COLUMNS = 30
# A paste bigger than this is kept aside rather than laid out in the text box (laying out 100,000
# lines takes Qt about half a second on the GUI thread); the box shows its first lines.
BIG_PASTE_CHARS = 200_000
BIG_PASTE_SHOWN_LINES = 200


def without_collector(fn: Callable[[], T]) -> T:
    """Run `fn` (a big parse, in a worker thread) with the cyclic collector paused, then freeze
    what it built: the audience lives on, and a full collection walking 100,000 fresh rows would
    hold the GIL, and so the GUI, for 100 ms or more. Rows have no reference cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        result = fn()
        gc.freeze()
        return result
    finally:
        if was_enabled:
            gc.enable()


def dropped_files(urls: Sequence[QUrl]) -> list[Path]:
    """The local files among dropped URLs that the audience can read."""
    paths = [Path(url.toLocalFile()) for url in urls if url.isLocalFile()]
    return [p for p in paths if p.suffix.lower() in FILE_SUFFIXES]


class ProblemsDialog(QDialog):
    """The rows that will not be sent and why (non-modal: the user can fix the paste beside it)."""

    def __init__(self, title: str, problems: Sequence[Problem], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.model = QStandardItemModel(0, 3, self)
        self.model.setHorizontalHeaderLabels([self.tr("Row"), self.tr("Text"), self.tr("Reason")])
        for problem in problems[:100_000]:
            row = QStandardItem()
            row.setData(problem.row, Qt.ItemDataRole.DisplayRole)
            self.model.appendRow([row, QStandardItem(problem.text), QStandardItem(problem.reason)])
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 60)
        self.table.setColumnWidth(1, 200)
        self.table.setWordWrap(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(680, 380)


class FileDropFilter(QObject):
    """Routes file drops on a text box to the audience instead of pasting the file's path as text."""

    def __init__(self, panel: AudiencePanel) -> None:
        super().__init__(panel)
        self.panel = panel

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and isinstance(
            event, QDragEnterEvent | QDropEvent
        ):
            if self.panel.accepts_drop(event):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop and isinstance(event, QDropEvent) and self.panel.accepts_drop(event):
            event.acceptProposedAction()
            self.panel.drop_event(event)
            return True
        return False


class PasteBox(QPlainTextEdit):
    """The paste box; a huge paste (Ctrl+V or a text drop) goes to the panel instead of the layout."""

    big_paste = Signal(str)

    def insertFromMimeData(self, source: QMimeData) -> None:
        if source.hasText() and not source.hasUrls():
            text = source.text()
            if len(text) > BIG_PASTE_CHARS:
                self.big_paste.emit(text)
                return
        super().insertFromMimeData(source)


class AudiencePanel(QWidget):
    """Paste box or file, the live counts, and the parsed `Audience` the window runs jobs on."""

    audience_changed = Signal()
    parse_started = Signal()
    parse_failed = Signal(str)
    mapping_changed = Signal()  # a column's field, the blank-cell option or "create missing" changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.audience: Audience | None = None
        self.accepted: frozenset[IdentifierKind] = ALL_KINDS
        self.file_path: Path | None = None
        self.file_info: FilePreview | None = None
        self.problems_dialog: ProblemsDialog | None = None
        self._generation = 0
        self._task: asyncio.Task[None] | None = None
        self._cancel = threading.Event()
        self._progress_value = 0.0
        self._stop_reading = asyncio.Event()
        self._platform: Callable[[], Platform | None] = lambda: None

        title = QLabel(self.tr("Audience"), self)
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        self.source_label = QLabel(self)
        self.source_label.setEnabled(False)
        self.import_button = themed(QPushButton(self.tr("&Import file…"), self), "import")
        self.import_button.setToolTip(self.tr("Read subscribers from a CSV, TSV, TXT or Excel file"))
        self.import_button.clicked.connect(self.import_action)
        self.platform_button = themed(QPushButton(self.tr("From the platform…"), self), "refresh")
        self.platform_button.setToolTip(
            self.tr("Everyone on some tags or forms, except those on others: no file needed")
        )
        self.platform_button.clicked.connect(self.platform_action)
        self.clear_button = themed(QPushButton(self.tr("C&lear"), self), "clear")
        self.clear_button.clicked.connect(self.clear_action)

        self.paste_box = PasteBox(self)
        self.paste_box.big_paste.connect(self.paste_action)
        self._big_text: str | None = None
        self._show_placeholder()
        self.paste_box.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        # Tab moves on to the next control: a tab typed into a list of IDs is never wanted (and a
        # keyboard user could never leave the box); tabs in pasted text are kept.
        self.paste_box.setTabChangesFocus(True)
        self.paste_box.setAccessibleName(self.tr("Subscribers to act on"))
        self.paste_box.setAccessibleDescription(
            self.tr("Paste subscriber IDs or email addresses, one per line; Tab moves on")
        )
        self.paste_box.textChanged.connect(self._text_changed)
        self._drop_filter = FileDropFilter(self)
        self.paste_box.viewport().installEventFilter(self._drop_filter)

        self.column_box = QComboBox(self)
        self.column_box.setToolTip(self.tr("The column that holds the subscriber IDs or emails"))
        self.column_box.setMinimumContentsLength(14)
        self.column_box.setAccessibleName(self.tr("Column"))
        self.column_box.activated.connect(self._column_chosen)
        self.preview_model = QStandardItemModel(self)
        self.preview_table = QTableView(self)
        self.preview_table.setModel(self.preview_model)
        self.preview_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.preview_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.preview_table.horizontalHeader().setStretchLastSection(True)
        self.preview_table.setWordWrap(False)
        self.preview_table.setAccessibleName(self.tr("First rows of the file"))
        self.preview_table.setTabKeyNavigation(False)
        rows = self.preview_table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.preview_table.fontMetrics().height() + 8)
        self.back_button = themed(QPushButton(self.tr("&Back to pasting"), self), "paste")
        self.back_button.clicked.connect(self.clear_action)
        file_page = QWidget(self)
        column_row = QHBoxLayout()
        column_label = QLabel(self.tr("Column:"), file_page)
        column_label.setBuddy(self.column_box)
        column_row.addWidget(column_label)
        column_row.addWidget(self.column_box)
        column_row.addStretch(1)
        column_row.addWidget(self.back_button)
        file_layout = QVBoxLayout(file_page)
        file_layout.setContentsMargins(0, 0, 0, 0)
        file_layout.addLayout(column_row)
        file_layout.addWidget(self.preview_table, 1)
        self.file_note = QLabel(file_page)
        self.file_note.setWordWrap(True)
        self.file_note.setEnabled(False)
        file_layout.addWidget(self.file_note)
        # Set custom field with each row's own value: which column goes to which field.
        self.fields: list[Target] = []  # the account's custom fields (the catalog's)
        self.mapping_combos: dict[str, QComboBox] = {}
        self._action = Action.TAG  # the window's (see set_action)
        self.mapping_box = QGroupBox(self.tr("Values from columns (for Set custom field)"), file_page)
        mapping_layout = QVBoxLayout(self.mapping_box)
        self.mapping_form = QFormLayout()
        self.mapping_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        mapping_layout.addLayout(self.mapping_form)
        self.blank_clears = QCheckBox(
            self.tr("A blank cell clears the field (otherwise it is left as it was)"), self.mapping_box
        )
        self.blank_clears.toggled.connect(lambda _on: self.mapping_changed.emit())
        mapping_layout.addWidget(self.blank_clears)
        self.mapping_box.hide()
        file_layout.addWidget(self.mapping_box)

        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.paste_box)
        self.stack.addWidget(file_page)
        self.platform_page = PlatformAudiencePage(self)
        self.platform_page.query_changed.connect(self._platform_query_changed)
        self.platform_page.count_requested.connect(self.count_action)
        self.platform_page.back_requested.connect(self.clear_action)
        self.stack.addWidget(self.platform_page)

        self.create_missing_box = QCheckBox(self.tr("Create the people who are not there yet"), self)
        self.create_missing_box.toggled.connect(lambda _on: self.mapping_changed.emit())

        self.counts_label = QLabel(self)
        self.counts_label.setTextFormat(Qt.TextFormat.RichText)
        self.counts_label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.counts_label.linkActivated.connect(self._show_problems)
        self.counts_label.setAccessibleName(self.tr("Audience counts"))
        self.notes_label = QLabel(self)
        self.notes_label.setWordWrap(True)
        self.notes_label.setEnabled(False)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setAccessibleName(self.tr("Reading the file"))
        self.cancel_button = themed(QPushButton(self.tr("Stop readin&g"), self), "cancel")
        self.cancel_button.clicked.connect(self.cancel_parse_action)
        self._progress_row = QWidget(self)
        progress_layout = QHBoxLayout(self._progress_row)
        progress_layout.setContentsMargins(0, 0, 0, 0)
        progress_layout.addWidget(self.progress_bar, 1)
        progress_layout.addWidget(self.cancel_button)
        self._progress_row.hide()

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.reparse)
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(100)
        self._progress_timer.timeout.connect(self._show_progress)

        header = QHBoxLayout()
        header.addWidget(title)
        header.addWidget(self.source_label, 1)
        header.addWidget(self.import_button)
        header.addWidget(self.platform_button)
        header.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self._progress_row)
        layout.addWidget(self.create_missing_box)
        layout.addWidget(self.counts_label)
        layout.addWidget(self.notes_label)
        self._show_counts()

    # -- state ------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    def _show_placeholder(self) -> None:
        ids = (
            self.tr("contact IDs")
            if IdentifierKind.CONTACT_ID in self.accepted
            and IdentifierKind.SUBSCRIBER_ID not in self.accepted
            else self.tr("subscriber IDs")
        )
        what = self.tr("{0} or email addresses").format(ids) if IdentifierKind.EMAIL in self.accepted else ids
        self.paste_box.setPlaceholderText(
            self.tr(
                "Paste {0} here, one per line (or straight from a spreadsheet column).\n\n"
                "Or drop a .csv, .tsv, .txt or .xlsx file anywhere on this window."
            ).format(what)
        )

    def set_accepted(self, kinds: frozenset[IdentifierKind]) -> None:
        """The identifiers the account takes; a change re-reads the input against them."""
        if kinds != self.accepted:
            self.accepted = kinds
            self._show_placeholder()
            if self.file_path is not None or self.paste_box.toPlainText():
                self.reparse()

    # -- user actions -----------------------------------------------------------------------

    def paste_action(self, text: str) -> None:
        """Ctrl+V anywhere in the window: the clipboard goes into the paste box."""
        if self.file_path is not None or self.from_platform:
            self.clear_action()
        if self._big_text is not None or len(text) > BIG_PASTE_CHARS:
            self._set_big_text((self._big_text or self.paste_box.toPlainText()), text)
            return
        self.paste_box.setFocus()
        cursor = self.paste_box.textCursor()
        if self.paste_box.toPlainText() and not self.paste_box.toPlainText().endswith("\n"):
            cursor.movePosition(cursor.MoveOperation.End)
            cursor.insertText("\n")
        cursor.insertText(text)
        self.reparse()

    def import_action(self) -> None:
        dialog = QFileDialog(self, self.tr("Import subscribers"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(
            [self.tr("Subscriber lists (*.csv *.tsv *.txt *.xlsx)"), self.tr("All files (*)")]
        )
        dialog.fileSelected.connect(lambda path: self.load_file(Path(path)))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _set_big_text(self, before: str, text: str) -> None:
        joined = f"{before}\n{text}" if before and not before.endswith("\n") else before + text
        self._big_text = joined
        first = joined.split("\n", BIG_PASTE_SHOWN_LINES)[:BIG_PASTE_SHOWN_LINES]
        shown = "\n".join(first)
        rest = joined.count("\n") + 1 - BIG_PASTE_SHOWN_LINES
        note = (
            self.tr("… and {0:,} more lines (not shown). Clear to start again.").format(rest)
            if rest > 0
            else ""
        )
        self.paste_box.blockSignals(True)
        self.paste_box.setPlainText(f"{shown}\n{note}" if note else shown)
        self.paste_box.blockSignals(False)
        self.paste_box.setReadOnly(True)
        self.reparse()

    def set_platform(self, platform: Callable[[], Platform | None]) -> None:
        """Where the members of tags and forms are read from (the open account's client)."""
        self._platform = platform

    def set_platform_targets(self, targets: Sequence[Target], *, has_status: bool) -> None:
        self.platform_page.set_targets(targets, has_status=has_status)

    @property
    def from_platform(self) -> bool:
        return self.stack.currentWidget() is self.platform_page

    def move_source(self) -> Target | None:
        """The one tag a counted platform audience is read from (what Move tag moves people off)."""
        query = self.platform_page.query() if self.from_platform else None
        if query is None or len(query.sources) != 1 or self.audience is None:
            return None
        target = self.platform_page.targets().get(query.sources[0])
        return target if target is not None and target.kind is TargetKind.TAG else None

    def platform_action(self) -> None:
        """Show the platform page: the audience is then what Count reads, not the pasted text."""
        self.cancel_parse_action()
        self.file_path = None
        self.file_info = None
        self.stack.setCurrentWidget(self.platform_page)
        self._platform_query_changed()

    def _platform_query_changed(self) -> None:
        if not self.from_platform:
            return
        self._generation += 1  # a count under way is of other picks now
        self._stop_reading.set()
        query = self.platform_page.query()
        self.source_label.setText(query.describe() if query else "")
        note = (
            self.tr("Press Count to read who that is (nothing is written).")
            if query
            else self.tr("Tick the tags or forms whose members the action is for.")
        )
        self._set_audience(None, note=note, source=query.describe() if query else "")

    def count_action(self) -> asyncio.Task[None] | None:
        """Read the members of the picked tags and forms and combine them: the audience to run on."""
        query = self.platform_page.query()
        platform = self._platform()
        if query is None or platform is None:
            return None
        self.cancel_parse_action()
        self._generation += 1
        return self._start(self._count(platform, query, self._generation))

    async def _count(self, platform: Platform, query: Any, generation: int) -> None:
        self._stop_reading = stop = asyncio.Event()
        self._progress_value = 0.0

        def progress(p: ReadProgress) -> None:
            self._progress_value = p.read / p.total if p.total else float(p.read)

        self._set_progress_visible(True)
        try:
            result = await read_platform_audience(
                platform,
                query,
                status=self.platform_page.status(),
                read_file=lambda path: read_audience(Path(path), None, accepted=self.accepted),
                progress=progress,
                stop=stop,
                targets=self.platform_page.targets(),
            )
        except AudienceReadCancelled:
            if generation == self._generation:
                self._set_progress_visible(False)
                self._set_audience(None, note=self.tr("Counting was stopped; nothing was read in full."))
            return
        except Exception as exc:  # a network or auth error is said here, never a crash
            if generation == self._generation:
                self._set_progress_visible(False)
                self._set_audience(None, note=self.tr("Counting failed: {0}").format(exc))
            return
        if generation != self._generation:
            return
        self._set_progress_visible(False)
        self._set_audience(result.audience, note=result.describe(), source=query.describe())

    # -- columns to fields ------------------------------------------------------------------

    def set_fields(self, fields: list[Target]) -> None:
        """The account's custom fields, for the column choices (the catalog has just loaded)."""
        if [f.id for f in fields] == [f.id for f in self.fields]:
            return
        self.fields = list(fields)
        self._rebuild_mapping()

    def _value_columns(self) -> list[str]:
        info = self.file_info
        if info is None or len(info.columns) < 2 or info.guessed_by == "list":
            return []
        chosen = self.column_box.currentIndex()
        return [c for i, c in enumerate(info.columns) if i != chosen and c][:MAX_VALUE_COLUMNS]

    def _rebuild_mapping(self) -> None:
        while self.mapping_form.rowCount():
            self.mapping_form.removeRow(0)
        self.mapping_combos = {}
        columns = self._value_columns()
        guesses = guess_mapping(columns, self.fields)
        for column in columns:
            box = QComboBox(self.mapping_box)
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            box.setAccessibleName(self.tr("Custom field for the column {0}").format(column))
            box.addItem(self.tr("not used"), None)
            for f in self.fields:
                box.addItem(f.name, f.id)
            guess = guesses.get(column)
            if guess is not None:
                box.setCurrentIndex(box.findData(guess.id))
            box.currentIndexChanged.connect(lambda _i: self.mapping_changed.emit())
            self.mapping_form.addRow(column, box)
            self.mapping_combos[column] = box
        self._show_mapping()
        self.mapping_changed.emit()

    def set_action(self, action: Action) -> None:
        """The columns' mapping is offered only for Set custom field: other actions write no values."""
        self._action = action
        self._show_mapping()

    def _show_mapping(self) -> None:
        self.mapping_box.setVisible(
            self._action is Action.SET_FIELD and bool(self.mapping_combos) and bool(self.fields)
        )

    def mapping(self) -> tuple[FieldMapping, tuple[Target, ...]]:
        """(field id -> column) and the mapped fields in order: what each row writes."""
        by_id = {f.id: f for f in self.fields}
        pairs: list[tuple[str, str]] = []
        for column, box in self.mapping_combos.items():
            target_id = box.currentData()
            if target_id in by_id and all(t != target_id for t, _c in pairs):
                pairs.append((str(target_id), column))
        return tuple(pairs), tuple(by_id[t] for t, _c in pairs)

    def blank(self) -> BlankCells:
        return BlankCells.CLEAR if self.blank_clears.isChecked() else BlankCells.SKIP

    def create_missing(self) -> bool:
        return self.create_missing_box.isEnabled() and self.create_missing_box.isChecked()

    def first_name_column(self) -> str | None:
        return guess_first_name_column(self._value_columns())

    def clear_action(self) -> None:
        self.cancel_parse_action()
        self._big_text = None
        self.paste_box.setReadOnly(False)
        self.file_path = None
        self.file_info = None
        self._rebuild_mapping()
        self.paste_box.clear()
        self.stack.setCurrentIndex(0)
        self.audience = None
        self._generation += 1
        self._show_counts()
        self.audience_changed.emit()

    def cancel_parse_action(self) -> bool:
        if not self.busy:
            return False
        self._cancel.set()
        self._stop_reading.set()
        return True

    # -- drops ------------------------------------------------------------------------------

    def accepts_drop(self, event: QDropEvent) -> bool:
        mime = event.mimeData()
        return mime is not None and mime.hasUrls() and bool(dropped_files(mime.urls()))

    def drop_event(self, event: QDropEvent) -> None:
        files = dropped_files(event.mimeData().urls())
        if files:
            self.load_file(files[0])

    # -- parsing ----------------------------------------------------------------------------

    def _text_changed(self) -> None:
        if self.file_path is None:
            self._debounce.start()

    def reparse(self) -> asyncio.Task[None] | None:
        """Parse the current input now (the debounce timer calls this after typing stops)."""
        self._debounce.stop()
        if self.from_platform:  # the audience is what Count reads
            return None
        if self.file_path is not None:
            return self._read_file(self.column_box.currentData())
        text = self._big_text if self._big_text is not None else self.paste_box.toPlainText()
        self._generation += 1
        if len(text) <= INLINE_PARSE_LIMIT:
            self._set_audience(parse_text(text, self.accepted) if text.strip() else None)
            return None
        return self._start(self._parse_big_text(text, self._generation))

    async def _parse_big_text(self, text: str, generation: int) -> None:
        parse = functools.partial(parse_text, text, self.accepted)
        audience = await in_worker(without_collector, parse)
        if generation == self._generation:
            self._set_audience(audience)

    def load_file(self, path: Path) -> asyncio.Task[None] | None:
        """Open `path`: show its first rows, guess the column, and read it off the GUI thread."""
        self.cancel_parse_action()
        self.file_path = path
        self._generation += 1
        return self._start(self._open_file(path, self._generation))

    async def _open_file(self, path: Path, generation: int) -> None:
        try:
            info = await in_worker(functools.partial(inspect_file, path, accepted=self.accepted))
        except Exception as exc:  # bad files get a message, never a crash
            if generation == self._generation:
                self._file_failed(path, exc)
            return
        if generation != self._generation:
            return
        self.file_info = info
        self._show_file(path, info)
        if info.guessed_column is None and info.guessed_by != "list":  # a list is read whole, no column
            self._set_audience(None, note=self.tr("Pick the column that holds the subscriber IDs or emails."))
            return
        await self._read(path, self.column_box.currentData(), generation)

    def _read_file(self, column: int | None) -> asyncio.Task[None] | None:
        if self.file_path is None or column is None:
            return None
        self.cancel_parse_action()
        self._generation += 1
        return self._start(self._read(self.file_path, column, self._generation))

    async def _read(self, path: Path, column: int | None, generation: int) -> None:
        self._cancel = cancel = threading.Event()
        self._progress_value = 0.0

        def progress(done: float, total: float | None = None) -> None:  # called on the worker thread
            self._progress_value = done / total if total else float(done)

        self._set_progress_visible(True)
        try:
            audience = await in_worker(
                without_collector,
                functools.partial(
                    read_audience,
                    path,
                    column,
                    accepted=self.accepted,
                    value_columns=self._value_columns(),
                    progress=progress,
                    cancel=cancel.is_set,
                ),
            )
        except Exception as exc:
            if generation == self._generation:
                self._set_progress_visible(False)
                if cancel.is_set():
                    self._set_audience(None, note=self.tr("Reading {0} was stopped.").format(path.name))
                else:
                    self._file_failed(path, exc)
            return
        if generation != self._generation:
            return
        self._set_progress_visible(False)
        if cancel.is_set():
            self._set_audience(None, note=self.tr("Reading {0} was stopped.").format(path.name))
            return
        self._set_audience(audience)

    def _start(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._task = task
        # `busy` is this task running: say so again once it has ended, or whoever read `busy`
        # while the audience was set (inside the task) would keep "still being read".
        task.add_done_callback(self._reading_ended)
        self.parse_started.emit()
        return task

    def _reading_ended(self, task: asyncio.Task[None]) -> None:
        if task is self._task and shiboken6.isValid(self):
            self.audience_changed.emit()

    # -- showing ----------------------------------------------------------------------------

    def _show_file(self, path: Path, info: FilePreview) -> None:
        columns = list(info.columns)
        guess = info.guessed_column
        self.column_box.clear()
        for index, name in enumerate(columns):
            self.column_box.addItem(name or self.tr("Column {0}").format(index + 1), index)
        self.column_box.setCurrentIndex(guess if guess is not None and 0 <= guess < len(columns) else -1)
        self.column_box.setEnabled(len(columns) > 1)
        rows = info.rows[:PREVIEW_ROWS]
        self.preview_model.clear()
        self.preview_model.setHorizontalHeaderLabels(
            [self.column_box.itemText(i) for i in range(self.column_box.count())]
        )
        for values in rows:
            self.preview_model.appendRow([QStandardItem(str(v)) for v in values])
        self._highlight_column()
        self.preview_table.resizeColumnsToContents()  # eight rows: cheap, and emails stay readable
        for index in range(self.preview_model.columnCount()):
            width = self.preview_table.columnWidth(index)
            self.preview_table.setColumnWidth(index, min(max(width + 12, 80), 320))
        self.stack.setCurrentIndex(1)
        self.source_label.setText(path.name)
        described = [self.tr("{0:,} KB").format(max(1, info.size // 1024))]
        if info.encoding:
            described.append(info.encoding)
        if info.delimiter_label:
            described.append(info.delimiter_label)
        if info.sheet:
            described.append(self.tr("sheet {0}").format(info.sheet))
        if info.guessed_column is not None and info.guessed_by in ("heading", "contents"):
            how = self.tr("its heading") if info.guessed_by == "heading" else self.tr("what it holds")
            described.append(self.tr("column chosen by {0}: pick another above if needed").format(how))
        elif info.guessed_column is None:
            described.append(self.tr("pick the column that holds the IDs or emails"))
        self.file_note.setText(" · ".join(described))
        self._rebuild_mapping()

    def _highlight_column(self) -> None:
        column = self.column_box.currentIndex()
        for index in range(self.preview_model.columnCount()):
            header = self.preview_model.horizontalHeaderItem(index)
            if header is not None:
                font = header.font()
                font.setBold(index == column)
                header.setFont(font)
        # The chosen column is tinted with the palette's highlight, legible in light and dark themes.
        tint = self.palette().color(QPalette.ColorRole.Highlight)
        tint.setAlpha(45)
        for row in range(self.preview_model.rowCount()):
            for index in range(self.preview_model.columnCount()):
                item = self.preview_model.item(row, index)
                if item is not None:
                    item.setBackground(QBrush(tint) if index == column else QBrush())
        if column >= 0:
            self.preview_table.scrollTo(self.preview_model.index(0, column))

    def _column_chosen(self, _index: int) -> None:
        self._highlight_column()
        self._rebuild_mapping()
        self._read_file(self.column_box.currentData())

    def _file_failed(self, path: Path, exc: Exception) -> None:
        self._set_progress_visible(False)
        message = str(exc) or type(exc).__name__
        # The reader's messages already name the file; say it only when they do not.
        unnamed = path.name not in message
        note = self.tr("{0} cannot be read: {1}").format(path.name, message) if unnamed else message
        self._set_audience(None, note=note)
        self.parse_failed.emit(message)

    def _set_progress_visible(self, visible: bool) -> None:
        self._progress_row.setVisible(visible)
        if visible:
            self.progress_bar.setValue(0)
            self._progress_timer.start()
        else:
            self._progress_timer.stop()

    def _show_progress(self) -> None:
        value = self._progress_value
        if 0.0 <= value <= 1.0:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(value * 1000))
        else:  # a row count without a total: show it as text on a busy bar
            self.progress_bar.setRange(0, 0)
            self.progress_bar.setFormat(self.tr("{0:,} rows read").format(int(value)))

    def _set_audience(self, audience: Audience | None, note: str = "", source: str | None = None) -> None:
        self.audience = audience
        if source is not None:
            self.source_label.setText(source)
        elif self.file_path is None:
            self.source_label.setText(self.tr("pasted text") if audience else "")
        self._show_counts(note)
        self.audience_changed.emit()

    def _show_counts(self, note: str = "") -> None:
        audience = self.audience
        if audience is None or audience.total == 0:
            self.counts_label.setText(self.tr("No subscribers yet."))
            self.notes_label.setText(note)
            self.notes_label.setVisible(bool(note))
            return
        parts = [self.tr("<b>{0:,}</b> valid").format(len(audience.rows))]
        if audience.invalid:
            parts.append(
                self.tr('<b>{0:,}</b> invalid (<a href="invalid">show</a>)').format(len(audience.invalid))
            )
        else:
            parts.append(self.tr("0 invalid"))
        if audience.duplicates:
            parts.append(
                self.tr('<b>{0:,}</b> duplicate (<a href="duplicates">show</a>)').format(
                    len(audience.duplicates)
                )
            )
        else:
            parts.append(self.tr("0 duplicate"))
        self.counts_label.setText(" · ".join(parts))
        notes = [note, *audience.notes] if note else list(audience.notes)
        self.notes_label.setText("\n".join(notes))
        self.notes_label.setVisible(bool(notes))

    def _show_problems(self, which: str) -> None:
        if self.audience is None:
            return
        if which == "duplicates":
            title, problems = self.tr("Duplicate rows (sent once)"), self.audience.duplicates
        else:
            title, problems = self.tr("Invalid rows (not sent)"), self.audience.invalid
        if self.problems_dialog is not None:
            with contextlib.suppress(RuntimeError):
                self.problems_dialog.close()
        self.problems_dialog = ProblemsDialog(title, problems, self)
        self.problems_dialog.show()
