"""Pictures of the job (issue 17, part 3): the outcome bar, the rate sparkline, History's bars."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtGui import QAccessible, QImage, QPainter, QPalette
from PySide6.QtTest import QTest

from audience_manager.core.actions import TargetKind
from audience_manager.core.outcomes import Outcome
from audience_manager.jobs.events import JobState, Progress
from audience_manager.ui.history_panel import HistoryColumn
from audience_manager.ui.main_window import MainWindow
from audience_manager.ui.outcome_charts import (
    MIN_SEGMENT,
    OutcomeBar,
    PeopleCountsRole,
    RateSparkline,
    counts_text,
    paint_outcome_bar,
    segments,
)
from audience_manager.ui.results_model import ResultsFilter

from .test_main_window import paste, run_confirmed


def _job_with_failures(window: MainWindow, qtbot, sandbox) -> str:
    known = [str(i) for i in sandbox.known_subscriber_ids(12, state=None)]
    unknown = [str(i) for i in sandbox.unknown_subscriber_ids(3)]
    paste(window, [*known, *unknown, "12ab"])
    window.catalog_panel.set_checked(TargetKind.TAG, {window.workspace.catalog[TargetKind.TAG][0].id})
    job_id, _state, _reason = run_confirmed(window, qtbot)
    return job_id


def _centre(bar: OutcomeBar, outcome: Outcome) -> QPoint:
    part = next(p for p in bar.segments() if p.outcome is outcome)
    return part.rect.center().toPoint()


def test_the_bar_shows_the_models_counts(window: MainWindow, qtbot, sandbox) -> None:
    _job_with_failures(window, qtbot, sandbox)
    panel = window.results_panel
    bar = panel.outcome_bar
    assert bar.isVisible()
    counts = panel.model.counts()
    assert counts[Outcome.SUCCEEDED] == 12 and counts[Outcome.FAILED] == 3 and counts[Outcome.SKIPPED] == 1
    assert bar.counts() == {o: counts[o] for o in Outcome}
    parts = bar.segments()
    assert [p.outcome for p in parts] == [Outcome.SUCCEEDED, Outcome.FAILED, Outcome.SKIPPED]
    assert [p.count for p in parts] == [12, 3, 1]
    widths = [p.rect.width() for p in parts]
    total_width = sum(widths)
    for part, width in zip(parts, widths, strict=True):
        # In proportion to the counts (a tiny segment is held at its minimum width).
        assert abs(width - max(MIN_SEGMENT, total_width * part.count / 16)) < total_width * 0.05
    # Named in words for a screen reader, and the small segments in the legend too.
    iface = QAccessible.queryAccessibleInterface(bar)
    assert iface.text(QAccessible.Text.Name) == "Outcomes of the job shown"
    description = iface.text(QAccessible.Text.Description)
    assert description.startswith("12 succeeded (75%), 3 failed (19%), 1 skipped (6%)")
    legend = [outcome for outcome, _rect, _text in bar.legend()]
    assert Outcome.SKIPPED in legend or bar.width() > 900


def test_clicking_a_segment_filters_to_that_outcome(window: MainWindow, qtbot, sandbox) -> None:
    _job_with_failures(window, qtbot, sandbox)
    panel = window.results_panel
    bar = panel.outcome_bar
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=_centre(bar, Outcome.FAILED))
    assert panel.filter_model.outcome_filter is ResultsFilter.FAILED
    assert panel.outcome_combo.currentData() == ResultsFilter.FAILED.value
    assert panel.filter_model.rowCount() == 3
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=_centre(bar, Outcome.SUCCEEDED))
    assert panel.filter_model.outcome_filter is ResultsFilter.SUCCEEDED
    assert panel.filter_model.rowCount() == 12
    # The same segment again shows every row.
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=_centre(bar, Outcome.SUCCEEDED))
    assert panel.filter_model.outcome_filter is ResultsFilter.ALL
    # By keyboard: arrows move between segments, Space filters.
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    bar.setFocus()
    qtbot.waitUntil(bar.hasFocus, timeout=2000)
    QTest.keyClick(bar, Qt.Key.Key_Right)
    QTest.keyClick(bar, Qt.Key.Key_Space)
    assert panel.filter_model.outcome_filter is not ResultsFilter.ALL


def test_segments_keep_small_outcomes_visible_and_fill_the_bar() -> None:
    rect = QRectF(0, 0, 300, 20)
    parts = segments({Outcome.SUCCEEDED: 1_000_000, Outcome.FAILED: 1}, rect)
    assert [p.outcome for p in parts] == [Outcome.SUCCEEDED, Outcome.FAILED]
    assert parts[1].rect.width() == MIN_SEGMENT
    assert abs(sum(p.rect.width() for p in parts) - 300) < 0.01
    assert segments({}, rect) == []
    assert counts_text({}) == "No outcomes yet"


def test_the_bar_paints_in_light_and_dark_without_warnings(qtbot) -> None:
    counts = {o: n for o, n in zip(Outcome, (50, 10, 5, 3, 2), strict=True)}
    for window_colour in ("#ffffff", "#1f1f22"):
        palette = QPalette()
        palette.setColor(QPalette.ColorRole.Base, window_colour)
        image = QImage(400, 24, QImage.Format.Format_ARGB32)
        image.fill(window_colour)
        painter = QPainter(image)
        parts = paint_outcome_bar(painter, QRectF(0, 0, 400, 24), counts, palette)
        painter.end()
        assert len(parts) == 5
        # Each segment is painted (not left the background colour).
        for part in parts:
            assert image.pixelColor(part.rect.center().toPoint()).name() != window_colour


def test_the_sparkline_accumulates_the_rates_of_progress_events(window: MainWindow, qtbot) -> None:
    panel = window.results_panel
    panel.job_started_event("j1", 500)
    assert panel.sparkline.isVisible()
    assert panel.sparkline.points() == []
    for done, rate in ((100, 40.0), (200, 55.0), (300, 50.0)):
        panel.progress_event(
            Progress(
                done, 500, done, 0, 0, 0, rate, 4.0, JobState.RUNNING, people_done=done, people_total=500
            )
        )
    assert panel.sparkline.points() == [40.0, 55.0, 50.0]
    line = panel.sparkline.polyline()
    assert line.size() == 3 and line.last().x() > line.first().x()
    iface = QAccessible.queryAccessibleInterface(panel.sparkline)
    assert iface.text(QAccessible.Text.Description) == "Now 50 rows/s, peak 55 rows/s"
    panel.sparkline.grab()  # paints
    panel.job_finished_event("j1", "finished", "")
    assert not panel.sparkline.isVisible()


def test_the_sparkline_keeps_a_bounded_history() -> None:
    spark = RateSparkline()
    for i in range(1000):
        spark.add_point(i)
    assert len(spark.points()) == 120 and spark.points()[-1] == 999.0
    spark.clear()
    assert spark.points() == []


def test_history_rows_paint_their_outcome_bars(window: MainWindow, qtbot, sandbox) -> None:
    _job_with_failures(window, qtbot, sandbox)
    history = window.history_panel
    window.bottom_tabs.setCurrentWidget(history)
    qtbot.waitUntil(lambda: history.model.rowCount() == 1 and len(history.background) == 0, timeout=5000)
    index = history.model.index(0, HistoryColumn.OUTCOMES)
    people = index.data(PeopleCountsRole)
    assert people[Outcome.SUCCEEDED] == 12 and people[Outcome.FAILED] == 3 and people[Outcome.SKIPPED] == 1
    assert "12 succeeded" in index.data(Qt.ItemDataRole.AccessibleTextRole)
    assert history.table.itemDelegateForColumn(HistoryColumn.OUTCOMES) is history.outcome_delegate
    history.table.selectRow(0)
    image = history.table.viewport().grab().toImage()  # paints every row (warnings fail the test)
    rect = history.table.visualRect(index)
    assert rect.width() > 100
    part = segments(people, QRectF(rect).adjusted(4, 4, -4, -4))[0]
    assert image.pixelColor(part.rect.center().toPoint()) != image.pixelColor(rect.topLeft() + QPoint(1, 1))
