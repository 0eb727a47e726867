"""The results table's data: one row per `RowOutcome`, and the filters the user picks from.

A big job produces a million outcomes, so the model keeps them in parallel compact columns (an
`array` of row numbers, a `bytearray` of outcome codes, interned target and reason tables) instead
of a million objects or a `QStandardItemModel`; `data()` rebuilds only what the view asks for.
Filtering is an index list over those columns (`ResultsFilterModel`): a `QSortFilterProxyModel`
calls Python once per row per change, which measured far too slow at this size (see
tests/benchmarks/RESULTS.md, "Results table").
"""

from __future__ import annotations

import enum
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QPalette

from audience_manager.core.outcomes import Outcome, RowOutcome

AnyIndex = QModelIndex | QPersistentModelIndex

# Outcome <-> one byte, so a million outcomes cost a megabyte.
OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
_CODE = {outcome: code for code, outcome in enumerate(OUTCOMES)}


class Column(enum.IntEnum):
    ROW = 0
    IDENTIFIER = 1
    TARGET = 2
    OUTCOME = 3
    REASON = 4


# Custom roles: views and delegates ask for meaning, not for a colour.
OutcomeRole = Qt.ItemDataRole.UserRole + 1  # the row's `Outcome`
RowOutcomeRole = Qt.ItemDataRole.UserRole + 2  # the whole `RowOutcome`

# Readable on a light and on a dark window background; picked by the palette's window lightness.
_LIGHT_COLOURS = {
    Outcome.SUCCEEDED: "#1b7f3b",
    Outcome.UNCHANGED: "#5f6b76",
    Outcome.FAILED: "#c62828",
    Outcome.SKIPPED: "#9a6700",
    Outcome.CANCELLED: "#6e5494",
}
_DARK_COLOURS = {
    Outcome.SUCCEEDED: "#6fdc8c",
    Outcome.UNCHANGED: "#a8b3bd",
    Outcome.FAILED: "#ff8a80",
    Outcome.SKIPPED: "#f2c94c",
    Outcome.CANCELLED: "#c3a6ff",
}


def outcome_brushes(palette: QPalette) -> dict[Outcome, QBrush]:
    """Foreground brushes for each outcome that keep contrast with this palette's background."""
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    table = _DARK_COLOURS if dark else _LIGHT_COLOURS
    return {outcome: QBrush(QColor(colour)) for outcome, colour in table.items()}


V = TypeVar("V")


class _Interned(Generic[V]):
    """A small table of distinct values, so a million rows share a few targets and reason texts."""

    def __init__(self) -> None:
        self.values: list[V] = []
        self._index: dict[V, int] = {}

    def code(self, value: V) -> int:
        code = self._index.get(value)
        if code is None:
            code = self._index[value] = len(self.values)
            self.values.append(value)
        return code

    def find(self, value: V) -> int | None:
        return self._index.get(value)


class ResultsModel(QAbstractTableModel):
    """Every outcome of the current job, in the order they arrived, appended in batches."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows = array("q")
        self._identifiers: list[str] = []
        self._targets = array("I")
        self._codes = bytearray()
        self._reasons = array("I")
        self._target_table: _Interned[tuple[str, str]] = _Interned()  # (id, label)
        self._reason_table: _Interned[str] = _Interned()
        self._counts: Counter[Outcome] = Counter()
        self._reason_counts: Counter[int] = Counter()
        self._rows_by_reason: dict[int, array[int]] = {}
        self._no_reason = self._reason_table.code("")
        self._brushes = outcome_brushes(QGuiApplication.palette())
        labels = {
            Outcome.SUCCEEDED: self.tr("Succeeded"),
            Outcome.UNCHANGED: self.tr("Unchanged"),
            Outcome.FAILED: self.tr("Failed"),
            Outcome.SKIPPED: self.tr("Skipped"),
            Outcome.CANCELLED: self.tr("Cancelled"),
        }
        # Shown in the table; copies and exports keep the stable values ("failed") for scripts.
        self._outcome_labels = tuple(labels[o] for o in OUTCOMES)

    # --- filling --------------------------------------------------------------------------

    def append(self, outcomes: Sequence[RowOutcome]) -> None:
        """Add one batch as the runner delivers it: one insert notification per batch."""
        if not outcomes:
            return
        first = len(self._codes)
        self.beginInsertRows(QModelIndex(), first, first + len(outcomes) - 1)
        target_code = self._target_table.code
        reason_code = self._reason_table.code
        self._rows.extend([o.row for o in outcomes])
        self._identifiers.extend([o.identifier for o in outcomes])
        self._targets.extend([target_code((o.target_id, o.target)) for o in outcomes])
        codes = bytes([_CODE[o.outcome] for o in outcomes])
        self._codes.extend(codes)
        reasons = [reason_code(o.reason) for o in outcomes]
        self._reasons.extend(reasons)
        self._reason_counts.update(reasons)
        # Rows by reason, for the reason filter; most rows have none, so this touches few.
        by_reason = self._rows_by_reason
        for i, code in enumerate(reasons, start=first):
            if code != self._no_reason:
                rows = by_reason.get(code)
                if rows is None:
                    rows = by_reason[code] = array("I")
                rows.append(i)
        for code in range(len(OUTCOMES)):
            n = codes.count(code)
            if n:
                self._counts[OUTCOMES[code]] += n
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows = array("q")
        self._identifiers = []
        self._targets = array("I")
        self._codes = bytearray()
        self._reasons = array("I")
        # New objects rather than emptied ones: a snapshot taken for an export keeps reading the old.
        self._target_table = _Interned()
        self._reason_table = _Interned()
        self._counts = Counter()
        self._reason_counts = Counter()
        self._rows_by_reason = {}
        self._no_reason = self._reason_table.code("")
        self.endResetModel()

    def set_palette(self, palette: QPalette) -> None:
        """Recolour the Outcome column when the user switches between light and dark."""
        self._brushes = outcome_brushes(palette)
        if self._codes:
            column = Column.OUTCOME
            self.dataChanged.emit(
                self.index(0, column),
                self.index(len(self._codes) - 1, column),
                [Qt.ItemDataRole.ForegroundRole],
            )

    # --- reading --------------------------------------------------------------------------

    def outcome_at(self, row: int) -> RowOutcome:
        target_id, label = self._target_table.values[self._targets[row]]
        return RowOutcome(
            row=self._rows[row],
            identifier=self._identifiers[row],
            target=label,
            outcome=OUTCOMES[self._codes[row]],
            reason=self._reason_table.values[self._reasons[row]],
            target_id=target_id,
        )

    def snapshot(self) -> ResultsSnapshot:
        """A read-only view of the rows so far that another thread may read (for exports).

        Columns are only ever appended to or replaced (never shrunk in place), so the snapshot
        stays valid while more batches arrive or the model is cleared.
        """
        return ResultsSnapshot(
            self._rows,
            self._identifiers,
            self._targets,
            self._codes,
            self._reasons,
            self._target_table.values,
            self._reason_table.values,
            len(self._codes),
        )

    def outcomes(self, rows: Iterable[int] | None = None) -> list[RowOutcome]:
        """All outcomes (or those at the given model rows), rebuilt as values."""
        picked = range(len(self._codes)) if rows is None else rows
        return [self.outcome_at(r) for r in picked]

    def failed(self, rows: Iterable[int] | None = None) -> list[RowOutcome]:
        """The rows a retry would send again: `FAILED` only (skipped rows were never valid to send)."""
        code = _CODE[Outcome.FAILED]
        picked = self.rows_with_outcome(Outcome.FAILED) if rows is None else rows
        return [self.outcome_at(r) for r in picked if self._codes[r] == code]

    def counts(self) -> Counter[Outcome]:
        return Counter(self._counts)

    def reason_counts(self) -> list[tuple[str, int]]:
        """Distinct non-empty reasons with how many rows gave each, most frequent first."""
        table = self._reason_table.values
        pairs = [(table[code], n) for code, n in self._reason_counts.items() if table[code]]
        pairs.sort(key=lambda pair: (-pair[1], pair[0]))
        return pairs

    def rows_with_outcome(self, *outcomes: Outcome) -> list[int]:
        """Model rows whose outcome is one of these, found with bytes.find (fast when they are sparse)."""
        found: list[int] = []
        for outcome in outcomes:
            found.extend(_find_all(self._codes, _CODE[outcome], 0, len(self._codes)))
        if len(outcomes) > 1:
            found.sort()
        return found

    def rows_matching(
        self, outcomes: frozenset[Outcome] | None, reason: str | None, start: int = 0
    ) -> list[int]:
        """Model rows from `start` on that match both an outcome set and a reason (None = any)."""
        end = len(self._codes)
        if reason is not None:
            code = self._reason_table.find(reason)
            if code is None:
                return []
            if code == self._no_reason:
                reasons = self._reasons
                candidates: Iterable[int] = (i for i in range(start, end) if reasons[i] == code)
            else:
                indexed = self._rows_by_reason.get(code, array("I"))
                candidates = indexed[bisect_left(indexed, start) :] if start else indexed
            if outcomes is None:
                return list(candidates)
            wanted = {_CODE[o] for o in outcomes}
            codes = self._codes
            return [i for i in candidates if codes[i] in wanted]
        if outcomes is None:
            return list(range(start, end))
        if len(outcomes) == 1:
            return list(_find_all(self._codes, _CODE[next(iter(outcomes))], start, end))
        wanted_codes = {_CODE[o] for o in outcomes}
        codes = self._codes
        return [i for i in range(start, end) if codes[i] in wanted_codes]

    # --- Qt model interface ---------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._codes)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(Column):
            return self._headers()[section]
        if orientation == Qt.Orientation.Vertical:
            return str(section + 1)
        return None

    def _headers(self) -> tuple[str, ...]:
        # Spelled out so the translation tools find each heading.
        return (
            self.tr("Row"),
            self.tr("Identifier"),
            self.tr("Target"),
            self.tr("Outcome"),
            self.tr("Reason"),
        )

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        return self.cell(index.row(), index.column(), role)

    def cell(self, row: int, column: int, role: int) -> Any:
        """`data()` without a QModelIndex: the filter model calls this directly (it is the hot path)."""
        if role == _DISPLAY:
            if column == _COL_ROW:
                return str(self._rows[row])
            if column == _COL_IDENTIFIER:
                return self._identifiers[row]
            if column == _COL_TARGET:
                return self._target_table.values[self._targets[row]][1]
            if column == _COL_OUTCOME:
                return self._outcome_labels[self._codes[row]]
            if column == _COL_REASON:
                return self._reason_table.values[self._reasons[row]].partition("\n")[0]
            return None
        if role == _TOOLTIP:
            return self._reason_table.values[self._reasons[row]] or None
        if role == _FOREGROUND:
            return self._brushes[OUTCOMES[self._codes[row]]] if column == _COL_OUTCOME else None
        if role == _ALIGNMENT:
            return _RIGHT if column == _COL_ROW else None
        if role == OutcomeRole:
            return OUTCOMES[self._codes[row]]
        if role == RowOutcomeRole:
            return self.outcome_at(row)
        return None


# Plain ints for the hot path: comparing with enum members costs an attribute lookup per call.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole.value)
_RIGHT = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
_COL_ROW, _COL_IDENTIFIER, _COL_TARGET, _COL_OUTCOME, _COL_REASON = (int(c) for c in Column)


class ResultsSnapshot:
    """The first `size` outcomes of a model at the time it was taken; safe to read off the GUI thread."""

    def __init__(
        self,
        rows: array[int],
        identifiers: list[str],
        targets: array[int],
        codes: bytearray,
        reasons: array[int],
        target_values: list[tuple[str, str]],
        reason_values: list[str],
        size: int,
    ) -> None:
        self._columns = (rows, identifiers, targets, codes, reasons, target_values, reason_values)
        self.size = size

    def __len__(self) -> int:
        return self.size

    def outcome(self, i: int) -> RowOutcome:
        rows, identifiers, targets, codes, reasons, target_values, reason_values = self._columns
        if not 0 <= i < self.size:
            raise IndexError(i)
        target_id, label = target_values[targets[i]]
        return RowOutcome(
            rows[i], identifiers[i], label, OUTCOMES[codes[i]], reason_values[reasons[i]], target_id=target_id
        )

    def outcomes(self, rows: Iterable[int] | None = None) -> Iterator[RowOutcome]:
        for i in range(self.size) if rows is None else rows:
            yield self.outcome(i)


def _find_all(codes: bytearray, code: int, start: int, end: int) -> Iterator[int]:
    find = codes.find
    i = find(code, start, end)
    while i != -1:
        yield i
        i = find(code, i + 1, end)


class ResultsFilter(enum.StrEnum):
    ALL = "all"
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def outcomes(self) -> frozenset[Outcome] | None:
        if self is ResultsFilter.ALL:
            return None
        return frozenset({Outcome(self.value)})


class ResultsFilterModel(QAbstractProxyModel):
    """The rows of a `ResultsModel` that match an outcome filter and, optionally, one reason.

    Keeps the matching source rows as a sorted list; appends to the source extend it with one
    insert notification per batch, so a filtered view stays live while the job runs.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Source rows shown, ascending: `range` when nothing is filtered out (no copy at all),
        # else a compact array (8 bytes a row rather than a list of int objects).
        self._map: range | array[int] = range(0)
        self._source: ResultsModel | None = None
        self._outcome_filter = ResultsFilter.ALL
        self._reason: str | None = None

    # --- what is shown --------------------------------------------------------------------

    @property
    def outcome_filter(self) -> ResultsFilter:
        return self._outcome_filter

    @property
    def reason(self) -> str | None:
        return self._reason

    def set_filter(self, outcome_filter: ResultsFilter, reason: str | None = None) -> None:
        self._outcome_filter = outcome_filter
        self._reason = reason or None
        self._rebuild()

    def source_rows(self) -> Sequence[int]:
        """The source rows currently shown, in order (a snapshot: later batches do not change it)."""
        return self._map if isinstance(self._map, range) else array("q", self._map)

    @property
    def shows_everything(self) -> bool:
        return isinstance(self._map, range)

    def results(self) -> ResultsModel:
        if self._source is None:
            raise RuntimeError("ResultsFilterModel has no source model yet")
        return self._source

    # --- wiring to the source -------------------------------------------------------------

    def setSourceModel(self, source: QAbstractItemModel) -> None:
        if not isinstance(source, ResultsModel):
            raise TypeError("ResultsFilterModel filters a ResultsModel")
        old = self.sourceModel()
        if old is not None:
            old.rowsInserted.disconnect(self._source_rows_inserted)
            old.modelReset.disconnect(self._rebuild)
            old.dataChanged.disconnect(self._source_data_changed)
        self.beginResetModel()
        super().setSourceModel(source)
        self._source = source
        source.rowsInserted.connect(self._source_rows_inserted)
        source.modelReset.connect(self._rebuild)
        source.dataChanged.connect(self._source_data_changed)
        self._map = self._matching(0)
        self.endResetModel()

    def _matching(self, start: int) -> range | array[int]:
        if self._source is None:
            return range(0)
        outcomes, reason = self._outcome_filter.outcomes, self._reason
        if outcomes is None and reason is None:
            return range(start, self._source.rowCount())
        return array("q", self._source.rows_matching(outcomes, reason, start))

    def _rebuild(self) -> None:
        self.beginResetModel()
        self._map = self._matching(0)
        self.endResetModel()

    def _source_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        # The source only ever appends, so new matches go at the end of the map.
        added = self._matching(first)
        if not added:
            return
        start = len(self._map)
        self.beginInsertRows(QModelIndex(), start, start + len(added) - 1)
        if isinstance(self._map, range):
            self._map = range(last + 1)
        else:
            self._map.extend(added)
        self.endInsertRows()

    def _source_data_changed(
        self, top_left: QModelIndex, bottom_right: QModelIndex, roles: list[int]
    ) -> None:
        # Only the palette changes source data in place; pass it on for the visible range.
        if self._map:
            self.dataChanged.emit(
                self.index(0, top_left.column()), self.index(len(self._map) - 1, bottom_right.column()), roles
            )

    # --- Qt proxy interface ---------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._map)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        if parent.isValid() or not (0 <= row < len(self._map) and 0 <= column < len(Column)):
            return QModelIndex()
        return self.createIndex(row, column)

    def parent(self, child: AnyIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        return QModelIndex()

    def sibling(self, row: int, column: int, index: AnyIndex) -> QModelIndex:
        return self.index(row, column)

    def hasChildren(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and bool(self._map)

    def mapToSource(self, proxy_index: AnyIndex) -> QModelIndex:
        source = self.sourceModel()
        if source is None or not proxy_index.isValid() or proxy_index.row() >= len(self._map):
            return QModelIndex()
        return source.index(self._map[proxy_index.row()], proxy_index.column())

    def mapFromSource(self, source_index: AnyIndex) -> QModelIndex:
        if not source_index.isValid():
            return QModelIndex()
        row = _bisect(self._map, source_index.row())
        if row is None:
            return QModelIndex()
        return self.index(row, source_index.column())

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self._source is None or not index.isValid():
            return None
        row = index.row()
        if row >= len(self._map):
            return None
        return self._source.cell(self._map[row], index.column(), role)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Vertical:
            if role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self._map):
                return str(self._map[section] + 1)
            return None
        source = self.sourceModel()
        return source.headerData(section, orientation, role) if source is not None else None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


def _bisect(values: Sequence[int], wanted: int) -> int | None:
    i = bisect_left(values, wanted)
    if i < len(values) and values[i] == wanted:
        return i
    return None
