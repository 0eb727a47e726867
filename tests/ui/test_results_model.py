"""The results model and its filter hold real outcomes, append in batches and filter by outcome and reason."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor, QPalette

from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.ui.results_model import (
    Column,
    OutcomeRole,
    ResultsFilter,
    ResultsFilterModel,
    ResultsModel,
    RowOutcomeRole,
)


def sample(n: int = 20, start: int = 1) -> list[RowOutcome]:
    """A realistic mix: mostly succeeded, some unchanged, failures with two reasons, skipped rows."""
    out: list[RowOutcome] = []
    for row in range(start, start + n):
        if row % 10 == 3:
            out.append(
                RowOutcome(
                    row, f"{row}@example.com", "VIP", Outcome.FAILED, "Subscriber not found", target_id="1"
                )
            )
        elif row % 10 == 7:
            reason = "Rate limited\nafter 5 retries"
            out.append(RowOutcome(row, f"{row}@example.com", "VIP", Outcome.FAILED, reason, target_id="1"))
        elif row % 10 == 5:
            out.append(
                RowOutcome(
                    row, f"{row}@example.com", "VIP", Outcome.UNCHANGED, "Already tagged", target_id="1"
                )
            )
        elif row % 10 == 9:
            out.append(
                RowOutcome(row, f"bad{row}", "VIP", Outcome.SKIPPED, "Not an email address", target_id="1")
            )
        else:
            out.append(RowOutcome(row, f"{row}@example.com", "VIP", Outcome.SUCCEEDED, target_id="1"))
    return out


def test_model_passes_the_model_tester_while_batches_arrive(qtmodeltester) -> None:
    # The tester stays connected after check(): it verifies every later insert and the reset.
    model = ResultsModel()
    model.append(sample(20))
    qtmodeltester.check(model, force_py=True)
    model.append(sample(15, start=21))
    model.append([])
    assert model.rowCount() == 35
    model.clear()
    assert model.rowCount() == 0


def test_each_batch_is_one_insert(qtbot) -> None:
    model = ResultsModel()
    inserts: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _parent, first, last: inserts.append((first, last)))
    model.append(sample(100))
    model.append(sample(50, start=101))
    assert inserts == [(0, 99), (100, 149)]


def test_data_roles_give_text_meaning_colour_and_full_reason(qtbot) -> None:
    model = ResultsModel()
    model.append(sample(10))
    failed = model.index(6, Column.REASON)  # row 7: a two-line reason
    assert model.data(model.index(6, Column.ROW)) == "7"
    assert model.data(model.index(6, Column.IDENTIFIER)) == "7@example.com"
    assert model.data(model.index(6, Column.TARGET)) == "VIP"
    assert model.data(model.index(6, Column.OUTCOME)) == "Failed"
    assert model.data(failed) == "Rate limited"
    assert model.data(failed, Qt.ItemDataRole.ToolTipRole) == "Rate limited\nafter 5 retries"
    assert model.data(failed, OutcomeRole) is Outcome.FAILED
    assert model.data(failed, RowOutcomeRole) == sample(10)[6]
    assert model.data(model.index(0, Column.REASON), Qt.ItemDataRole.ToolTipRole) is None


def test_outcome_colour_follows_light_and_dark_palettes(qtbot) -> None:
    model = ResultsModel()
    model.append(sample(10))
    index = model.index(6, Column.OUTCOME)
    light = QPalette()
    light.setColor(QPalette.ColorRole.Base, QColor("white"))
    dark = QPalette()
    dark.setColor(QPalette.ColorRole.Base, QColor("#202020"))
    model.set_palette(light)
    on_light = model.data(index, Qt.ItemDataRole.ForegroundRole).color()
    with qtbot.waitSignal(model.dataChanged):
        model.set_palette(dark)
    on_dark = model.data(index, Qt.ItemDataRole.ForegroundRole).color()
    assert on_light.lightness() < 128 < on_dark.lightness()


def test_outcomes_failed_counts_and_reasons(qtbot) -> None:
    model = ResultsModel()
    rows = sample(40)
    model.append(rows)
    assert model.outcomes() == rows
    assert model.failed() == [o for o in rows if o.outcome is Outcome.FAILED]
    assert model.counts()[Outcome.SUCCEEDED] == sum(o.outcome is Outcome.SUCCEEDED for o in rows)
    assert model.reason_counts() == [
        ("Already tagged", 4),
        ("Not an email address", 4),
        ("Rate limited\nafter 5 retries", 4),
        ("Subscriber not found", 4),
    ]


def shown_rows(proxy: ResultsFilterModel) -> list[int]:
    return [int(proxy.data(proxy.index(r, Column.ROW))) for r in range(proxy.rowCount())]


def test_filter_passes_the_model_tester_and_filters(qtmodeltester) -> None:
    model = ResultsModel()
    model.append(sample(40))
    proxy = ResultsFilterModel()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy, force_py=True)
    assert proxy.rowCount() == 40
    proxy.set_filter(ResultsFilter.FAILED)
    assert shown_rows(proxy) == [3, 7, 13, 17, 23, 27, 33, 37]
    proxy.set_filter(ResultsFilter.ALL, reason="Subscriber not found")
    assert shown_rows(proxy) == [3, 13, 23, 33]
    proxy.set_filter(ResultsFilter.SUCCEEDED, reason="Subscriber not found")
    assert proxy.rowCount() == 0
    proxy.set_filter(ResultsFilter.SKIPPED)
    assert proxy.rowCount() == 4
    proxy.set_filter(ResultsFilter.CANCELLED)
    assert proxy.rowCount() == 0
    proxy.set_filter(ResultsFilter.ALL, reason="no such reason")
    assert proxy.rowCount() == 0


def test_filter_stays_live_while_batches_arrive(qtmodeltester) -> None:
    model = ResultsModel()
    proxy = ResultsFilterModel()
    proxy.setSourceModel(model)
    proxy.set_filter(ResultsFilter.FAILED)
    qtmodeltester.check(proxy, force_py=True)
    model.append(sample(20))
    model.append(sample(20, start=21))
    assert proxy.rowCount() == 8
    assert proxy.mapToSource(proxy.index(2, Column.ROW)).row() == 12
    assert proxy.mapFromSource(model.index(12, Column.OUTCOME)).row() == 2
    assert not proxy.mapFromSource(model.index(0, 0)).isValid()
    assert proxy.headerData(2, Qt.Orientation.Vertical) == "13"
    model.clear()
    assert proxy.rowCount() == 0
    assert not proxy.index(0, 0).isValid()
    assert proxy.data(QModelIndex()) is None


def test_reason_filter_stays_live_and_matches_a_scan(qtmodeltester) -> None:
    model = ResultsModel()
    proxy = ResultsFilterModel()
    proxy.setSourceModel(model)
    proxy.set_filter(ResultsFilter.FAILED, reason="Subscriber not found")
    qtmodeltester.check(proxy, force_py=True)
    for start in range(1, 200, 25):
        model.append(sample(25, start=start))
    expected = [
        i
        for i, o in enumerate(model.outcomes())
        if o.outcome is Outcome.FAILED and o.reason == "Subscriber not found"
    ]
    assert list(proxy.source_rows()) == expected and len(expected) == 20
    assert model.rows_matching(None, "Subscriber not found", start=100) == [e for e in expected if e >= 100]
    assert model.rows_matching(None, "", start=190) == [190, 191, 193, 195, 197, 199]


def test_unfiltered_view_follows_appends_without_a_copy(qtbot) -> None:
    model = ResultsModel()
    proxy = ResultsFilterModel()
    proxy.setSourceModel(model)
    model.append(sample(10))
    model.append(sample(10, start=11))
    assert proxy.shows_everything
    assert list(proxy.source_rows()) == list(range(20))
    assert proxy.mapToSource(proxy.index(19, 0)).row() == 19
    proxy.set_filter(ResultsFilter.SKIPPED)
    assert not proxy.shows_everything
    assert list(proxy.source_rows()) == [8, 18]


def test_qts_own_model_tester_accepts_both_models(qtmodeltester) -> None:
    """Qt's C++ QAbstractItemModelTester too (it checks a few things the Python port does not)."""
    model = ResultsModel()
    model.append(sample(30))
    proxy = ResultsFilterModel()
    proxy.setSourceModel(model)
    proxy.set_filter(ResultsFilter.FAILED)
    qtmodeltester.check(model, force_py=False)
    qtmodeltester.check(proxy, force_py=False)
    model.append(sample(30, start=31))
    proxy.set_filter(ResultsFilter.ALL, reason="Already tagged")
    model.clear()
