"""How long the GUI's event loop goes unanswered while a 100,000-row job streams into the window.

    python tests/benchmarks/bench_ui_stall.py [--rows 100000] [--platform offscreen|xcb]

The real window runs on the demo accounts with the sandbox's limits lifted and the client's rate
limiter opened up, so the job runs as fast as the client can go (the worst case for the GUI: the
most outcomes per second, about 25x what Kit allows). Two placements of the sandbox:
- `--server process` (default): served by uvicorn in a child process on 127.0.0.1, so the GUI
  thread does only what it does for a real account (client, runner, journal, results table);
- `--server inprocess`: inside the app, as the demo workspace runs, so the simulated server's own
  work also lands on the GUI thread.
A 10 ms heartbeat QTimer records every gap; a stall is how much later than 10 ms a beat came.
Goal: longest < 50 ms. `--why` prints the GUI thread's stack during stalls over 60 ms.

Phases measured separately: importing a 1,000,000-row CSV (read in a worker thread, with the
progress bar), pasting the 100,000 ids (parsed in a worker thread), then the job (journal write of
the audience in a worker thread, runner + results table on the loop).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("AUDIENCE_MANAGER_HOME", tempfile.mkdtemp(prefix="am-stall-"))

import qasync
from PySide6.QtCore import QTimer

from audience_manager.api.kit_v4 import KitV4
from audience_manager.api.pacing import RateLimiter
from audience_manager.app import make_application, open_demo, settings
from audience_manager.core.actions import Action, TargetKind
from audience_manager.core.platforms import RateLimit
from audience_manager.sandbox.demo import demo_workspace
from audience_manager.sandbox.sandbox import Sandbox
from audience_manager.store.paths import journal_path
from audience_manager.ui.main_window import MainWindow
from audience_manager.ui.workspace import AccountEntry, Workspace

BEAT_MS = 10
WHY = "--why" in sys.argv


class GcWatch:
    """Longest garbage-collector pause per generation during a phase (a full collection walks every
    tracked object, and 100,000 outcomes are a lot of objects)."""

    def __init__(self) -> None:
        import gc

        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def take(self) -> str:
        text = ", ".join(f"gen{g}: {len(p)} x, max {max(p):.0f} ms" for g, p in self.pauses.items() if p)
        self.pauses = {0: [], 1: [], 2: []}
        return f"GC {text}" if text else "no GC"


class StallWatch:
    """With --why: a thread that prints the GUI thread's stack whenever a beat is 100 ms late."""

    def __init__(self, heart: Heartbeat) -> None:
        import threading

        self.heart = heart
        self.main = threading.main_thread().ident
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        import traceback

        while True:
            time.sleep(0.05)
            late = time.perf_counter() - self.heart.last
            if self.heart.timer.isActive() and late > 0.06:
                frame = sys._current_frames().get(self.main)
                where = traceback.extract_stack(frame)[-14:]
                print(f"--- GUI thread {late * 1000:.0f} ms late, in:", file=sys.stderr)
                for f in where:
                    print(f"    {f.filename.split('/')[-1]}:{f.lineno} {f.name}", file=sys.stderr)


class Heartbeat:
    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(BEAT_MS)
        self.timer.timeout.connect(self._beat)
        self.last = 0.0
        self.stalls: list[float] = []

    def start(self) -> None:
        self.stalls = []
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.stalls

    def _beat(self) -> None:
        now = time.perf_counter()
        self.stalls.append(max(0.0, (now - self.last) * 1000 - BEAT_MS))
        self.last = now


def summary(name: str, stalls: list[float], seconds: float, extra: str = "") -> str:
    ordered = sorted(stalls)
    p99 = ordered[int(len(ordered) * 0.99) - 1] if ordered else 0.0
    over = sum(1 for s in stalls if s > 50)
    return (
        f"| {name} | {seconds:.1f} | {len(stalls):,} | **{max(stalls, default=0):.1f}** | {p99:.1f} "
        f"| {statistics.median(stalls) if stalls else 0:.1f} | {over} | {extra} |"
    )


async def wait_for(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.01)


async def import_phase(window: MainWindow, heart: Heartbeat, gcw: GcWatch, file_rows: int) -> str:
    """Drop-equivalent of a big CSV export: read in a worker thread with a progress bar."""
    from pathlib import Path

    path = Path(os.environ["AUDIENCE_MANAGER_HOME"]) / "big-export.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("First name,Email,Subscriber ID\n")
        out.writelines(f"P{n},person{n}@example.com,{2_000_000 + n}\n" for n in range(file_rows))
    panel = window.audience_panel
    gcw.take()
    heart.start()
    started = time.perf_counter()
    task = panel.load_file(path)
    assert task is not None
    await task
    seconds = time.perf_counter() - started
    audience = panel.audience
    assert audience is not None, panel.notes_label.text()
    line = summary(
        f"import a {file_rows:,}-row CSV ({path.stat().st_size / 1e6:.0f} MB)",
        heart.stop(),
        seconds,
        f"{len(audience.rows):,} rows, {file_rows / seconds:,.0f} rows/s; {gcw.take()}",
    )
    panel.clear_action()
    return line


async def bench(window: MainWindow, rows: int, file_rows: int = 0) -> list[str]:
    ws = window.workspace
    await wait_for(lambda: bool(ws.catalog) and not ws.catalog_busy, 60)
    ids = ws.sandbox.known_subscriber_ids(rows, state=None)
    heart = Heartbeat()
    gcw = GcWatch()
    if WHY:
        StallWatch(heart)
    lines = []
    if file_rows:
        lines.append(await import_phase(window, heart, gcw, file_rows))

    gcw.take()
    heart.start()
    started = time.perf_counter()
    window.audience_panel.paste_action("\n".join(map(str, ids)))
    await wait_for(lambda: window.audience_panel.audience is not None and not window.audience_panel.busy, 60)
    lines.append(
        summary(
            f"paste {rows:,} ids (parsed off-thread)", heart.stop(), time.perf_counter() - started, gcw.take()
        )
    )

    window.action_bar.set_action(Action.TAG)
    window.catalog_panel.set_checked(TargetKind.TAG, {ws.catalog[TargetKind.TAG][0].id})
    finished: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    window.job_finished.connect(lambda *a: finished.done() or finished.set_result(a))
    dialog = window.run_action()
    assert dialog is not None, window.run_blocker()
    gcw.take()
    heart.start()
    started = time.perf_counter()
    dialog.run_button.click()
    _job, state, _reason = await asyncio.wait_for(finished, 600)
    seconds = time.perf_counter() - started
    stalls = heart.stop()
    shown = window.results_panel.model.rowCount()
    lines.append(
        summary(
            f"tag job, {rows:,} rows streaming into the table",
            stalls,
            seconds,
            f"{state}, {shown:,} outcomes, {rows / seconds:,.0f} rows/s; {gcw.take()}",
        )
    )
    return lines


def _serve(conn: Any, rows: int, enforce: bool = False) -> None:
    from audience_manager.sandbox.demo import demo_accounts
    from audience_manager.sandbox.server import serve

    sb = Sandbox(subscribers=rows, contacts=100, enforce_limits=enforce)
    ids = sb.known_subscriber_ids(rows, state=None)
    with serve(sb, port=0) as base_url:
        conn.send((demo_accounts(sb, base_url), ids))
        conn.recv()


class Served:
    """Stands in for the in-process sandbox where the bench reads ids from it."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids

    def known_subscriber_ids(self, n: int, *, state: str | None = "active") -> list[int]:
        return self.ids[:n]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", choices=["process", "inprocess"], default="process")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--file-rows", type=int, default=1_000_000, help="rows of the imported CSV (0: skip)")
    parser.add_argument("--why", action="store_true", help="print the GUI thread's stack during long stalls")
    parser.add_argument(
        "--kit-rate",
        action="store_true",
        help="keep Kit's 600 requests / 60 s (sandbox and client): what a user sees, not the worst case",
    )
    args = parser.parse_args()
    app = make_application(["bench"])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    seeded = time.perf_counter()
    child = None
    if args.server == "process":
        import multiprocessing as mp

        here, there = mp.Pipe()
        child = mp.get_context("spawn").Process(
            target=_serve, args=(there, args.rows, args.kit_rate), daemon=True
        )
        child.start()
        accounts, ids = here.recv()
    else:
        sandbox = Sandbox(subscribers=args.rows, contacts=100, enforce_limits=args.kit_rate)
    seeded = time.perf_counter() - seeded

    def lifted(account: Any, credentials: Any, transport: Any = None) -> Any:
        if args.kit_rate:
            return KitV4(account, credentials, transport=transport)
        return KitV4(account, credentials, transport=transport, limiter=RateLimiter(RateLimit(10**9, 60.0)))

    workspace = Workspace(journal_path=journal_path())
    window = MainWindow(workspace, settings())
    window.resize(1280, 800)
    window.show()
    if args.server == "process":
        entries = [AccountEntry(a, c) for a, c in accounts]
        workspace.set_entries(entries, lifted, demo=True, sandbox=Served(ids))
    else:
        open_demo(workspace, demo=demo_workspace(sandbox), factory=lifted)
    with loop:
        lines = loop.run_until_complete(bench(window, args.rows, args.file_rows))
        loop.run_until_complete(workspace.aclose())
    if child is not None:
        here.send("stop")
        child.join(5)
    print(
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} "
        f"{platform.release()}, QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}; sandbox {args.server}, "
        f"seeded in {seeded:.1f} s"
    )
    print("| phase | seconds | beats | longest stall ms | p99 ms | median ms | stalls > 50 ms | notes |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
