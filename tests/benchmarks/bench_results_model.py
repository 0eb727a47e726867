"""How long and how much memory the results table takes for a million outcomes.

Loads outcomes into `ResultsModel` in batches the size the runner delivers (shown through
`ResultsFilterModel` in a `QTableView`, as in the app), then filters them (failed only; one reason),
and compares with a `QSortFilterProxyModel` doing the same filtering. Prints a Markdown table.

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_results_model.py [--rows 1000000] [--batch 100]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtWidgets import QApplication, QTableView

from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.ui.results_model import (
    Column,
    OutcomeRole,
    ResultsFilter,
    ResultsFilterModel,
    ResultsModel,
)
from audience_manager.ui.results_panel import COPY_MAX_ROWS, outcomes_as_tsv, write_report_rows

REASONS = (
    "Subscriber not found",
    "Kit kept answering 429 Retry later; gave up after 5 tries",
    "Cancelled before sending",
    "The access token is invalid",
)


def rss_kib() -> tuple[int, int]:
    """(current, peak) resident set size of this process, from /proc (Linux)."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def batches(rows: int, size: int) -> Iterator[list[RowOutcome]]:
    """A realistic mix: 90 % succeeded, 4 % unchanged, 5 % failed (four reasons), 1 % skipped."""
    target = "VIP customers"
    for start in range(1, rows + 1, size):
        batch = []
        for row in range(start, min(start + size, rows + 1)):
            k = row % 100
            email = f"subscriber{row}@example.com"
            if k < 90:
                batch.append(RowOutcome(row, email, target, Outcome.SUCCEEDED, target_id=target))
            elif k < 94:
                batch.append(RowOutcome(row, email, target, Outcome.UNCHANGED, target_id=target))
            elif k < 99:
                batch.append(
                    RowOutcome(
                        row, email, target, Outcome.FAILED, REASONS[row % len(REASONS)], target_id=target
                    )
                )
            else:
                batch.append(
                    RowOutcome(
                        row, f"bad {row}", target, Outcome.SKIPPED, "Not an email address", target_id=target
                    )
                )
        yield batch


def timed(label: str, results: list[tuple[str, str, str]], action: Callable[[], object]) -> object:
    gc.collect()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    started = time.perf_counter()
    value = action()
    elapsed = time.perf_counter() - started
    after, peak = tracemalloc.get_traced_memory()
    rss, hwm = rss_kib()
    traced = (
        f"{(after - before) / 2**20:+.1f} (peak +{(peak - before) / 2**20:.1f}); "
        if tracemalloc.is_tracing()
        else ""
    )
    results.append((label, f"{elapsed:.3f}", f"{traced}RSS {rss / 1024:.0f}, peak {hwm / 1024:.0f}"))
    return value


class PythonFilterProxy(QSortFilterProxyModel):
    """The textbook alternative: filterAcceptsRow in Python, asking the model per row."""

    def __init__(self, reason: str | None) -> None:
        super().__init__()
        self.reason = reason

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        model = self.sourceModel()
        if self.reason is None:
            return bool(model.data(model.index(source_row, Column.OUTCOME), OutcomeRole) is Outcome.FAILED)
        return bool(
            model.data(model.index(source_row, Column.REASON), Qt.ItemDataRole.ToolTipRole) == self.reason
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--skip-proxy", action="store_true", help="skip the QSortFilterProxyModel comparison")
    parser.add_argument(
        "--no-tracemalloc",
        action="store_true",
        help="measure RSS only: tracemalloc keeps a record per allocation, which inflates RSS",
    )
    args = parser.parse_args()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    results: list[tuple[str, str, str]] = []
    rss, _ = rss_kib()
    results.append(("(before: Qt loaded, no rows)", "", f"RSS {rss / 1024:.0f}"))
    if not args.no_tracemalloc:
        tracemalloc.start()

    model = ResultsModel()
    proxy = ResultsFilterModel()
    proxy.setSourceModel(model)
    view = QTableView()
    view.verticalHeader().setSectionResizeMode(view.verticalHeader().ResizeMode.Fixed)
    view.setModel(proxy)
    view.resize(1000, 600)
    view.show()
    app.processEvents()

    # Batches are made on the fly and dropped, as the runner's are; making them is timed on its own
    # first, so the append cost is the difference.
    def make_only() -> None:
        for _batch in batches(args.rows, args.batch):
            pass

    timed(f"(only making {args.rows:,} RowOutcomes in batches, no model)", results, make_only)

    append_times: list[float] = []
    paint_times: list[float] = []

    def load() -> None:
        for i, batch in enumerate(batches(args.rows, args.batch)):
            started = time.perf_counter()
            model.append(batch)
            append_times.append(time.perf_counter() - started)
            if i % 40 == 0:  # the runner flushes a few times a second; let the view repaint as it would
                started = time.perf_counter()
                app.processEvents()
                paint_times.append(time.perf_counter() - started)
        app.processEvents()

    timed(f"make + append {args.rows:,} outcomes in batches of {args.batch} (view attached)", results, load)
    append_times.sort()
    results.append(
        (
            f"  of which model.append ({len(append_times):,} calls): median / p99 / max ms",
            f"{sum(append_times):.3f}",
            f"{append_times[len(append_times) // 2] * 1000:.2f} / "
            f"{append_times[int(len(append_times) * 0.99)] * 1000:.2f} / {append_times[-1] * 1000:.2f} ms",
        )
    )
    paint_times.sort()
    results.append(
        (
            f"  of which view updates ({len(paint_times):,} processEvents): median / max ms",
            f"{sum(paint_times):.3f}",
            f"{paint_times[len(paint_times) // 2] * 1000:.2f} / {paint_times[-1] * 1000:.2f} ms",
        )
    )
    assert model.rowCount() == args.rows
    gc.collect()
    rss, _ = rss_kib()
    current, _ = tracemalloc.get_traced_memory()
    traced = f"{current / 2**20:.1f} traced; " if tracemalloc.is_tracing() else ""
    results.append(("(model held)", "", f"{traced}RSS {rss / 1024:.0f}"))

    timed("filter: failed only", results, lambda: proxy.set_filter(ResultsFilter.FAILED))
    failed_rows = proxy.rowCount()
    timed(
        f"filter: one reason ({REASONS[1][:24]}…)",
        results,
        lambda: proxy.set_filter(ResultsFilter.ALL, REASONS[1]),
    )
    reason_rows = proxy.rowCount()
    timed("filter: failed + that reason", results, lambda: proxy.set_filter(ResultsFilter.FAILED, REASONS[1]))
    timed("filter: back to all", results, lambda: proxy.set_filter(ResultsFilter.ALL))
    timed("reason counts for the combo", results, model.reason_counts)
    timed("failed() for Retry failed", results, model.failed)

    def scroll() -> None:
        bar = view.verticalScrollBar()
        for step in range(50):
            bar.setValue(bar.maximum() * step // 49)
            app.processEvents()

    timed("scroll the view top to bottom in 50 jumps (repaints)", results, scroll)

    # What the panel runs in a worker thread for Export CSV and for copying a huge selection. The
    # GUI thread meanwhile runs a 10 ms timer: its worst gap is how long a click would wait.
    def in_worker(label: str, work: Callable[[], object]) -> object:
        done: dict[str, object] = {}
        thread = threading.Thread(target=lambda: done.setdefault("value", work()))
        gaps: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(tick)

        def run() -> None:
            last[0] = time.perf_counter()
            timer.start()
            thread.start()
            while thread.is_alive():
                app.processEvents()
                thread.join(0.002)
            timer.stop()

        timed(label, results, run)
        gaps.sort()
        results[-1] = (
            *results[-1][:2],
            f"{results[-1][2]}; GUI timer gap p99 {gaps[int(len(gaps) * 0.99)] * 1000:.0f} ms,"
            f" max {gaps[-1] * 1000:.0f} ms",
        )
        return done["value"]

    snapshot = model.snapshot()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.csv"
        written = in_worker(
            f"export CSV of all {args.rows:,} rows (worker thread)",
            lambda: write_report_rows(report, snapshot, None),
        )
        assert written == args.rows
        size = report.stat().st_size / 2**20
        results[-1] = (*results[-1][:2], f"{results[-1][2]}; file {size:.0f} MiB")
    copy_rows = min(args.rows, COPY_MAX_ROWS)
    in_worker(
        f"copy: TSV text of {copy_rows:,} rows, the most Copy takes (worker thread)",
        lambda: len(outcomes_as_tsv(snapshot.outcomes(range(copy_rows)))),
    )

    if not args.skip_proxy:
        for label, reason in (("failed only", None), ("one reason", REASONS[1])):
            py_proxy = PythonFilterProxy(reason)

            def run(p: PythonFilterProxy = py_proxy) -> int:
                p.setSourceModel(model)
                return p.rowCount()

            count = timed(f"QSortFilterProxyModel, Python filterAcceptsRow: {label}", results, run)
            assert count == (failed_rows if reason is None else reason_rows), count
        regex = QSortFilterProxyModel()
        regex.setFilterKeyColumn(Column.OUTCOME)
        regex.setFilterFixedString("Failed")  # the table's label for Outcome.FAILED

        def run_regex() -> int:
            regex.setSourceModel(model)
            return regex.rowCount()

        count = timed("QSortFilterProxyModel, fixed-string filter on Outcome (C++)", results, run_regex)
        assert count == failed_rows, count

    timed("clear the model", results, model.clear)
    view.close()
    print(f"rows {args.rows:,}, batch {args.batch}, failed {failed_rows:,}, one reason {reason_rows:,}")
    print(
        f"Python {platform.python_version()}, PySide6 {pyside_version}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, QT_QPA_PLATFORM={os.environ.get('QT_QPA_PLATFORM')}"
    )
    print()
    print("| step | seconds | memory MiB (tracemalloc; RSS) |")
    print("|---|---|---|")
    for label, seconds, memory in results:
        print(f"| {label} | {seconds} | {memory} |")


if __name__ == "__main__":
    main()
