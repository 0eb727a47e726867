"""Pictures of a job: the outcome bar (how the rows ended) and the rate sparkline (rows/s over time).

Painted with QPainter from the palette-aware outcome colours (`results_model.outcome_brushes`), and
never by colour alone: every outcome has its own hatch pattern, and a segment wide enough says its
name, count and share in words. The same painting serves the Results tab (`OutcomeBar`, clickable
to filter) and each job's row in History (`OutcomeBarDelegate`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFocusEvent,
    QFontMetrics,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QApplication,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionFocusRect,
    QStyleOptionViewItem,
    QToolTip,
    QWidget,
)

from audience_manager.core.outcomes import Outcome
from audience_manager.ui.results_model import outcome_brushes

AnyIndex = QModelIndex | QPersistentModelIndex

# Left to right, the order a marketer reads a job in: what worked, what needed nothing, what did not.
ORDER = (Outcome.SUCCEEDED, Outcome.UNCHANGED, Outcome.FAILED, Outcome.SKIPPED, Outcome.CANCELLED)
# One pattern an outcome, so the bar reads without telling the colours apart (and in grey print).
PATTERNS = {
    Outcome.SUCCEEDED: Qt.BrushStyle.NoBrush,
    Outcome.UNCHANGED: Qt.BrushStyle.Dense6Pattern,
    Outcome.FAILED: Qt.BrushStyle.DiagCrossPattern,
    Outcome.SKIPPED: Qt.BrushStyle.BDiagPattern,
    Outcome.CANCELLED: Qt.BrushStyle.HorPattern,
}
MIN_SEGMENT = 4.0  # px: one failed row in a million still shows
SWATCH = 14.0  # px: a legend entry's sample of colour and pattern
SPARK_POINTS = 120  # rate samples kept (progress comes a few times a second)


def outcome_name(outcome: Outcome) -> str:
    names = {
        Outcome.SUCCEEDED: QApplication.translate("OutcomeBar", "Succeeded"),
        Outcome.UNCHANGED: QApplication.translate("OutcomeBar", "Unchanged"),
        Outcome.FAILED: QApplication.translate("OutcomeBar", "Failed"),
        Outcome.SKIPPED: QApplication.translate("OutcomeBar", "Skipped"),
        Outcome.CANCELLED: QApplication.translate("OutcomeBar", "Cancelled"),
    }
    return names[outcome]


def percent_text(n: int, total: int) -> str:
    if total <= 0:
        return "0%"
    share = 100.0 * n / total
    if 0 < share < 1:
        return "<1%"
    if 99 < share < 100:
        return ">99%"
    return f"{round(share)}%"


def counts_text(counts: Mapping[Outcome, int]) -> str:
    """The bar in words, for its accessible description and tooltip: '40 succeeded (80%), …'."""
    total = sum(counts.get(o, 0) for o in ORDER)
    if not total:
        return QApplication.translate("OutcomeBar", "No outcomes yet")
    parts = [
        f"{counts[o]:,} {outcome_name(o).lower()} ({percent_text(counts[o], total)})"
        for o in ORDER
        if counts.get(o, 0)
    ]
    return ", ".join(parts)


@dataclass(frozen=True)
class Segment:
    outcome: Outcome
    count: int
    rect: QRectF


def segments(counts: Mapping[Outcome, int], rect: QRectF) -> list[Segment]:
    """The bar's segments inside `rect`, widths in proportion to the counts (at least MIN_SEGMENT)."""
    shown = [(o, counts.get(o, 0)) for o in ORDER if counts.get(o, 0) > 0]
    total = sum(n for _, n in shown)
    if not total or rect.width() <= 0:
        return []
    widths = [max(MIN_SEGMENT, rect.width() * n / total) for _, n in shown]
    excess = sum(widths) - rect.width()
    if excess > 0:  # the minimum widths were taken from the widest segment
        widest = max(range(len(widths)), key=widths.__getitem__)
        widths[widest] = max(MIN_SEGMENT, widths[widest] - excess)
    result, x = [], rect.left()
    for (outcome, n), width in zip(shown, widths, strict=True):
        result.append(Segment(outcome, n, QRectF(x, rect.top(), width, rect.height())))
        x += width
    return result


def _ink(fill: QColor) -> QColor:
    """Black or white, whichever reads on `fill`."""
    return QColor("#111111") if fill.lightnessF() > 0.55 else QColor("#ffffff")


def paint_outcome_bar(
    painter: QPainter,
    rect: QRectF,
    counts: Mapping[Outcome, int],
    palette: QPalette,
    *,
    labels: bool = True,
    focused: Outcome | None = None,
) -> list[Segment]:
    """Paint the bar; returns its segments (for hit tests). Labels go where they fit."""
    parts = segments(counts, rect)
    if not parts:
        return parts
    total = sum(s.count for s in parts)
    colours = outcome_brushes(palette)
    metrics = QFontMetrics(painter.font())
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    outline = QPainterPath()
    outline.addRoundedRect(rect, 3, 3)
    painter.setClipPath(outline)
    for part in parts:
        fill = colours[part.outcome].color()
        ink = _ink(fill)
        painter.fillRect(part.rect, fill)
        pattern = PATTERNS[part.outcome]
        if pattern != Qt.BrushStyle.NoBrush:
            hatch = QColor(ink)
            hatch.setAlpha(110)
            painter.fillRect(part.rect, QBrush(hatch, pattern))
        if labels:
            _label(painter, metrics, part, total, fill, ink)
    painter.setClipping(False)
    # Separators between segments, and the outline, in the window's own colours.
    painter.setPen(QPen(palette.color(QPalette.ColorRole.Base), 1.5))
    for part in parts[1:]:
        painter.drawLine(QPointF(part.rect.left(), rect.top()), QPointF(part.rect.left(), rect.bottom()))
    painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(outline)
    if focused is not None:
        for part in parts:
            if part.outcome is focused:
                painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2.5))
                painter.drawRoundedRect(part.rect.adjusted(1.5, 1.5, -1.5, -1.5), 2, 2)
    painter.restore()
    return parts


def label_text(metrics: QFontMetrics, part: Segment, total: int) -> str | None:
    """The longest label that fits in the segment: name, count and share; count and share; count."""
    count, share = f"{part.count:,}", percent_text(part.count, total)
    for text in (f"{outcome_name(part.outcome)} {count} · {share}", f"{count} · {share}", count):
        if metrics.horizontalAdvance(text) + 10 <= part.rect.width():
            return text
    return None


def named(metrics: QFontMetrics, part: Segment, total: int) -> bool:
    text = label_text(metrics, part, total)
    return text is not None and text.startswith(outcome_name(part.outcome))


def _label(
    painter: QPainter, metrics: QFontMetrics, part: Segment, total: int, fill: QColor, ink: QColor
) -> None:
    text = label_text(metrics, part, total)
    if text is None:
        return
    width = metrics.horizontalAdvance(text) + 10
    box = QRectF(0, 0, width, min(part.rect.height() - 4, metrics.height() + 2))
    box.moveCenter(part.rect.center())
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)  # a plain patch behind the words keeps them clear of the hatching
    painter.drawRoundedRect(box, 3, 3)
    painter.setPen(ink)
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


class OutcomeBar(QWidget):
    """How the rows of the job shown ended; a click on a segment (or Space on it) filters to it."""

    outcome_clicked = Signal(object)  # Outcome

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._counts: dict[Outcome, int] = {}
        self._current: Outcome | None = None  # the segment the keyboard is on
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.setAccessibleName(self.tr("Outcomes"))
        self._describe()

    def counts(self) -> dict[Outcome, int]:
        return dict(self._counts)

    def set_counts(self, counts: Mapping[Outcome, int]) -> None:
        new = {o: int(counts.get(o, 0)) for o in ORDER}
        if new == self._counts:
            return
        self._counts = new
        if self._current is not None and not new[self._current]:
            self._current = None
        self._describe()
        self.update()

    def segments(self) -> list[Segment]:
        """The segments as laid out for the widget's size."""
        return segments(self._counts, self._layout()[0])

    def legend(self) -> list[tuple[Outcome, QRectF, str]]:
        """The outcomes too narrow to carry their name, named at the bar's right end."""
        return self._layout()[1]

    def segment_at(self, x: float) -> Outcome | None:
        bar, legend = self._layout()
        for part in segments(self._counts, bar):
            if part.rect.left() <= x < part.rect.right():
                return part.outcome
        for outcome, rect, _text in legend:
            if rect.left() <= x < rect.right():
                return outcome
        return None

    def _layout(self) -> tuple[QRectF, list[tuple[Outcome, QRectF, str]]]:
        """The bar's rectangle, and a legend beside it for the segments that cannot say their name
        (so the small ones are named in words too, not by colour or pattern alone)."""
        full = self._bar_rect()
        metrics = self.fontMetrics()
        total = sum(self._counts.values())

        def entry(outcome: Outcome) -> str:
            return f"{outcome_name(outcome)} {self._counts[outcome]:,}"

        def unnamed(bar: QRectF) -> list[Outcome]:
            return [p.outcome for p in segments(self._counts, bar) if not named(metrics, p, total)]

        bar, legend = full, list[Outcome]()
        for _ in range(3):
            missing = unnamed(bar)
            if missing == legend:
                break
            legend = sorted(set(legend) | set(missing), key=ORDER.index)
            width = 8 + sum(SWATCH + 4 + metrics.horizontalAdvance(entry(o)) + 12 for o in legend)
            bar = QRectF(full)
            bar.setWidth(max(full.width() * 0.5, full.width() - width))
        items: list[tuple[Outcome, QRectF, str]] = []
        x = bar.right() + 8
        for outcome in legend:
            width = SWATCH + 4 + metrics.horizontalAdvance(entry(outcome))
            items.append((outcome, QRectF(x, full.top(), width, full.height()), entry(outcome)))
            x += width + 12
        return bar, items

    def sizeHint(self) -> QSize:
        return QSize(400, self.fontMetrics().height() + 12)

    def minimumSizeHint(self) -> QSize:
        return QSize(80, self.fontMetrics().height() + 12)

    def _bar_rect(self) -> QRectF:
        return QRectF(self.rect()).adjusted(1, 2, -1, -2)

    def _describe(self) -> None:
        text = counts_text(self._counts)
        self.setAccessibleDescription(
            text + self.tr(". Click a part, or press Space on it, to show only those rows")
            if any(self._counts.values())
            else text
        )
        self.setToolTip("")

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        focused = self._current if self.hasFocus() else None
        bar, legend = self._layout()
        palette = self.palette()
        paint_outcome_bar(painter, bar, self._counts, palette, focused=focused)
        colours = outcome_brushes(palette)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for outcome, rect, text in legend:
            fill = colours[outcome].color()
            swatch = QRectF(rect.left(), rect.center().y() - SWATCH / 2 + 1, SWATCH, SWATCH - 2)
            painter.fillRect(swatch, fill)
            if PATTERNS[outcome] != Qt.BrushStyle.NoBrush:
                hatch = _ink(fill)
                hatch.setAlpha(110)
                painter.fillRect(swatch, QBrush(hatch, PATTERNS[outcome]))
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(swatch)
            painter.setPen(palette.color(QPalette.ColorRole.WindowText))
            text_rect = rect.adjusted(SWATCH + 4, 0, 0, 0)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        if self.hasFocus() and focused is None:
            option = QStyleOptionFocusRect()
            option.initFrom(self)
            self.style().drawPrimitive(QStyle.PrimitiveElement.PE_FrameFocusRect, option, painter, self)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        outcome = self.segment_at(event.position().x())
        if event.button() == Qt.MouseButton.LeftButton and outcome is not None:
            self._current = outcome
            self.update()
            self.outcome_clicked.emit(outcome)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        over = self.segment_at(event.position().x())
        self.setCursor(Qt.CursorShape.PointingHandCursor if over else Qt.CursorShape.ArrowCursor)
        super().mouseMoveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        shown = [p.outcome for p in self.segments()]
        key = event.key()
        if shown and key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            at = shown.index(self._current) if self._current in shown else -1
            step = 1 if key == Qt.Key.Key_Right else -1
            self._current = shown[(at + step) % len(shown)] if at >= 0 else shown[0]
            self.update()
            event.accept()
            return
        if shown and key in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Select):
            self.outcome_clicked.emit(self._current or shown[0])
            event.accept()
            return
        super().keyPressEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:
        shown = [p.outcome for p in self.segments()]
        if self._current is None and shown:
            self._current = shown[0]
        self.update()
        super().focusInEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.update()
        super().focusOutEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            outcome = self.segment_at(event.pos().x())
            if outcome is None:
                QToolTip.hideText()
            else:
                total = sum(self._counts.values())
                n = self._counts[outcome]
                QToolTip.showText(
                    event.globalPos(),
                    self.tr("{name}: {n} of {total} ({share}). Click to show only these rows").format(
                        name=outcome_name(outcome),
                        n=f"{n:,}",
                        total=f"{total:,}",
                        share=percent_text(n, total),
                    ),
                    self,
                )
            return True
        return super().event(event)


class RateSparkline(QWidget):
    """Rows per second over the job so far, from its Progress events: a small line, newest right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._points: deque[float] = deque(maxlen=SPARK_POINTS)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setAccessibleName(self.tr("Rows per second over time"))
        self._describe()

    def points(self) -> list[float]:
        return list(self._points)

    def add_point(self, rows_per_second: float) -> None:
        self._points.append(max(0.0, float(rows_per_second)))
        self._describe()
        self.update()

    def clear(self) -> None:
        self._points.clear()
        self._describe()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(120, self.fontMetrics().height() + 8)

    def _describe(self) -> None:
        if not self._points:
            self.setAccessibleDescription(self.tr("No rate yet"))
            self.setToolTip(self.tr("Rows per second over the job; no rate yet"))
            return
        now, peak = self._points[-1], max(self._points)
        text = self.tr("Now {now} rows/s, peak {peak} rows/s").format(now=f"{now:,.0f}", peak=f"{peak:,.0f}")
        self.setAccessibleDescription(text)
        self.setToolTip(text)

    def polyline(self) -> QPolygonF:
        """The line for the widget's size: oldest point kept at the left edge, the newest at the
        right, zero at the bottom and the peak at the top."""
        points: Sequence[float] = self._points
        area = QRectF(self.rect()).adjusted(2, 3, -2, -3)
        peak = max(points, default=0.0) or 1.0
        step = area.width() / max(len(points) - 1, 1)
        return QPolygonF(
            [
                QPointF(area.left() + i * step, area.bottom() - area.height() * value / peak)
                for i, value in enumerate(points)
            ]
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        palette = self.palette()
        base = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(base, 3, 3)
        line = self.polyline()
        if line.size() >= 2:
            colour = palette.color(QPalette.ColorRole.Highlight)
            area = QPolygonF(line)
            area.append(QPointF(line.last().x(), base.bottom()))
            area.append(QPointF(line.first().x(), base.bottom()))
            fill = QColor(colour)
            fill.setAlpha(60)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawPolygon(area)
            painter.setPen(QPen(colour, 1.6))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPolyline(line)
        painter.end()


PeopleCountsRole = Qt.ItemDataRole.UserRole + 7  # a History row's {Outcome: people}


class OutcomeBarDelegate(QStyledItemDelegate):
    """Paints a History row's outcome bar from the people counts its model gives (PeopleCountsRole)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""  # type: ignore[attr-defined]
        widget = opt.widget  # type: ignore[attr-defined]
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        counts = index.data(PeopleCountsRole)
        if not isinstance(counts, dict):
            return
        rect = QRectF(opt.rect).adjusted(4, 4, -4, -4)  # type: ignore[attr-defined]
        painter.save()
        font = painter.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        paint_outcome_bar(painter, rect, counts, opt.palette)  # type: ignore[attr-defined]
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), 180), hint.height())
