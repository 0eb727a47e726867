"""What the journal costs a job: throughput with and without it, and the longest call on the event loop.

    python tests/benchmarks/bench_journal.py                  # fast fake and sandbox (about a minute)
    python tests/benchmarks/bench_journal.py --only fake       # in-process platform, no network
    python tests/benchmarks/bench_journal.py --only sandbox    # Kit v4 bulk over loopback HTTP

Both run a 100,000-row tag job through the real `Runner` (100 rows a request, 10 in flight), once
without a recorder and once with the SQLite `Journal`, alternating, and compare rows per second.

- "fake" answers every request at once from memory: the harshest case (nothing else costs time),
  far faster than any platform.
- "sandbox" is the Kit v4 client over HTTP on loopback against the sandbox in a child process, with
  the sandbox's limits and the client's pacing lifted (Kit's own ceiling is 10 requests/s).

Every recorder call is timed (they run on the event loop, which the GUI shares), and a ticker
measures how late the loop answers while the job runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_kit_bulk import Served, start_sandbox

from audience_manager.api.kit_v4 import KitV4
from audience_manager.api.pacing import RateLimiter
from audience_manager.api.platform import AccountInfo, Platform, RateBudget, StateKey
from audience_manager.api.resolution import lookups
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome
from audience_manager.core.platforms import AuthKind, Capabilities, PlatformKind, RateLimit
from audience_manager.core.work import ItemResult, WorkItem
from audience_manager.jobs.journal import Journal
from audience_manager.jobs.runner import Runner

ROWS = 100_000
CONCURRENCY = 10
TAG = Target(TargetKind.TAG, "1", "Bench")


class FastFake:
    """A platform that answers every batch at once, from memory."""

    kind = PlatformKind.KIT_V4

    def __init__(self) -> None:
        self.tagged: set[str] = set()
        self._caps = Capabilities(
            actions=frozenset(Action),
            identifiers=frozenset({IdentifierKind.SUBSCRIBER_ID}),
            items_per_request=100,
            rate=RateLimit(10**9, 60.0),
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def budget(self) -> RateBudget:
        return RateBudget(remaining=1, limit=1, window_seconds=60)

    async def whoami(self) -> AccountInfo:
        return AccountInfo("fake")

    async def list_targets(self, kind: TargetKind) -> list[Target]:
        return [TAG]

    async def create_tag(self, name: str) -> Target:
        return TAG

    async def plan_resolution(self, emails: Sequence[str]) -> Any:
        return lookups(len(emails))

    async def resolve(self, emails: Sequence[str], **_: Any) -> dict[str, str | None]:
        return {}

    async def apply(
        self, action: Action, items: Sequence[WorkItem], value: str | None = None
    ) -> list[ItemResult]:
        await asyncio.sleep(0)  # one trip through the loop, as a response would take
        out = []
        for item in items:
            had = item.subject in self.tagged
            self.tagged.add(item.subject)
            out.append(
                ItemResult(
                    item, Outcome.UNCHANGED if had else Outcome.SUCCEEDED, previous="yes" if had else "no"
                )
            )
        return out

    async def read_state(self, action: Action, items: Sequence[WorkItem]) -> dict[StateKey, str | None]:
        return {}

    async def aclose(self) -> None:
        return None


class TimedJournal:
    """The journal, with every recorder call timed (they run on the event loop)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.calls: dict[str, list[float]] = defaultdict(list)

    def _timed(self, name: str, call: Callable[[], None]) -> None:
        start = time.perf_counter()
        call()
        self.calls[name].append(time.perf_counter() - start)

    def job_started(self, job_id: str) -> None:
        self._timed("job_started", lambda: self.journal.job_started(job_id))

    def batch_sent(self, job_id: str, items: Sequence[WorkItem], before: Any = None) -> None:
        self._timed("batch_sent", lambda: self.journal.batch_sent(job_id, items, before))

    def results_received(self, job_id: str, results: Sequence[ItemResult]) -> None:
        self._timed("results_received", lambda: self.journal.results_received(job_id, results))

    def outcomes_without_request(self, job_id: str, outcomes: Sequence[Any]) -> None:
        self._timed(
            "outcomes_without_request", lambda: self.journal.outcomes_without_request(job_id, outcomes)
        )

    def job_ended(self, job_id: str, state: Any, reason: str) -> None:
        self._timed("job_ended", lambda: self.journal.job_ended(job_id, state, reason))


def spec_of(ids: Sequence[int | str], target: Target) -> JobSpec:
    rows = [AudienceRow(n + 1, str(sid), IdentifierKind.SUBSCRIBER_ID) for n, sid in enumerate(ids)]
    return JobSpec(
        account="Bench", action=Action.TAG, targets=(target,), audience=Audience(rows=rows, source="bench")
    )


async def _with_ticker(work: Callable[[], Any]) -> tuple[Any, float]:
    """Run `work()` while a 10 ms ticker measures the loop's worst lateness."""
    worst = 0.0
    stop = asyncio.Event()

    async def tick() -> None:
        nonlocal worst
        while not stop.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            worst = max(worst, time.perf_counter() - start - 0.01)

    ticker = asyncio.create_task(tick())
    try:
        result = await work()
    finally:
        stop.set()
        await ticker
    return result, worst


def run_once(
    make_platform: Callable[[], Platform], spec: JobSpec, journal_dir: Path | None
) -> tuple[float, float, TimedJournal | None, float, float]:
    """(seconds, loop lateness, timed journal, create_job seconds, CPU seconds of this process)."""
    timed: TimedJournal | None = None
    job_id = None
    create = 0.0
    if journal_dir is not None:
        journal = Journal(journal_dir / f"journal-{time.monotonic_ns()}.sqlite3")
        timed = TimedJournal(journal)
        start = time.perf_counter()
        job_id = journal.create_job(spec, Account("Bench", PlatformKind.KIT_V4, AuthKind.OAUTH))
        create = time.perf_counter() - start

    async def job() -> float:
        platform = make_platform()
        runner = Runner(platform, spec, recorder=timed, job_id=job_id, concurrency=CONCURRENCY)
        start = time.perf_counter()
        try:
            outcomes = await runner.run()
        finally:
            await platform.aclose()
        elapsed = time.perf_counter() - start
        assert len(outcomes) == len(spec.audience.rows)
        return elapsed

    cpu = time.process_time()
    seconds, late = asyncio.run(_with_ticker(job))
    cpu = time.process_time() - cpu
    if timed is not None:
        timed.journal.close()
    return seconds, late, timed, create, cpu


def compare(
    name: str,
    make_run: Callable[[], tuple[Callable[[], Platform], JobSpec, Callable[[], None]]],
    repeats: int,
) -> dict[str, Any]:
    """Runs with and without the journal, alternating which goes first, each on a fresh platform."""
    plain: list[float] = []
    journaled: list[float] = []
    late_plain: list[float] = []
    late_journal: list[float] = []
    calls: dict[str, list[float]] = defaultdict(list)
    creates: list[float] = []
    cpu_plain: list[float] = []
    cpu_journal: list[float] = []
    rows = 0
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as folder:
        for n in range(repeats):
            for with_journal in (False, True) if n % 2 == 0 else (True, False):
                make_platform, spec, done = make_run()
                rows = len(spec.audience.rows)
                try:
                    seconds, late, timed, create, cpu = run_once(
                        make_platform, spec, Path(folder) if with_journal else None
                    )
                finally:
                    done()
                if timed is None:
                    plain.append(seconds)
                    late_plain.append(late)
                    cpu_plain.append(cpu)
                    continue
                cpu_journal.append(cpu)
                journaled.append(seconds)
                late_journal.append(late)
                creates.append(create)
                for k, v in timed.calls.items():
                    calls[k] += v
        load = measure_resume_load(Path(folder))
    best_plain, best_journal = min(plain), min(journaled)
    med_plain, med_journal = statistics.median(plain), statistics.median(journaled)
    return {
        "name": name,
        "rows": rows,
        "plain_rows_s": rows / best_plain,
        "journal_rows_s": rows / best_journal,
        "overhead_best": best_journal / best_plain - 1,
        "overhead_median": med_journal / med_plain - 1,
        "late_plain_ms": max(late_plain) * 1000,
        "late_journal_ms": max(late_journal) * 1000,
        "calls": {
            k: (len(v), max(v) * 1000, statistics.quantiles(v, n=100)[98] * 1000 if len(v) > 1 else 0)
            for k, v in calls.items()
        },
        "journal_seconds": sum(sum(v) for v in calls.values()) / repeats,
        "create_s": statistics.median(creates),
        "resume_load_s": load,
        "cpu_overhead": statistics.median(cpu_journal) / statistics.median(cpu_plain) - 1,
        "cpu_plain": statistics.median(cpu_plain),
        "cpu_journal": statistics.median(cpu_journal),
        "wall_median": med_journal,
        "plain_runs": plain,
        "journal_runs": journaled,
    }


def measure_resume_load(folder: Path) -> float:
    """Reading a 100,000-row job back for a resume: spec, done pairs, rows in flight."""
    path = next(folder.glob("journal-*.sqlite3"))
    with Journal(path) as journal:
        job_id = journal.read().execute("SELECT id FROM jobs").fetchone()[0]
        start = time.perf_counter()
        journal.spec(job_id)
        journal.done_pairs(job_id)
        journal.sent_without_outcome(job_id)
        return time.perf_counter() - start


def sandbox_case(repeats: int) -> dict[str, Any]:
    def make_run() -> tuple[Callable[[], Platform], JobSpec, Callable[[], None]]:
        served: Served = start_sandbox(ROWS, enforce=False)  # a fresh sandbox: nobody tagged yet
        account = Account("Bench", PlatformKind.KIT_V4, AuthKind.OAUTH, base_url=served.base_url)

        def make() -> Platform:
            return KitV4(account, Credentials(served.token), limiter=RateLimiter(RateLimit(10**9, 60.0)))

        def done() -> None:
            served.report()  # the sandbox process answers "report" before it waits for "stop"
            served.stop()

        return make, spec_of(served.ids, served.tag), done

    return compare("Kit v4 bulk on the sandbox (loopback HTTP, limits lifted)", make_run, repeats)


def fake_case(repeats: int) -> dict[str, Any]:
    def make_run() -> tuple[Callable[[], Platform], JobSpec, Callable[[], None]]:
        return FastFake, spec_of(range(1, ROWS + 1), TAG), lambda: None

    return compare("in-process fast fake", make_run, repeats)


def print_result(r: dict[str, Any]) -> None:
    print(f"\n## {r['name']}: {r['rows']:,} rows, {CONCURRENCY} requests in flight")
    runs = ", ".join(f"{s:.2f}" for s in r["plain_runs"])
    print(f"without journal: {r['plain_rows_s']:,.0f} rows/s (runs: {runs} s)")
    runs = ", ".join(f"{s:.2f}" for s in r["journal_runs"])
    print(f"with journal:    {r['journal_rows_s']:,.0f} rows/s (runs: {runs} s)")
    print(f"overhead: {r['overhead_best']:+.1%} (best runs), {r['overhead_median']:+.1%} (median runs)")
    print(
        f"client CPU per job (median): {r['cpu_plain']:.2f} s without, {r['cpu_journal']:.2f} s with"
        f" ({r['cpu_overhead']:+.1%})"
    )
    share = r["journal_seconds"] / r["wall_median"]
    print(f"time inside recorder calls per job: {r['journal_seconds']:.3f} s ({share:.1%} of the job's time)")
    late = f"{r['late_plain_ms']:.1f} ms without, {r['late_journal_ms']:.1f} ms with"
    print(f"loop lateness (10 ms ticker), worst: {late}")
    for name, (count, worst, p99) in sorted(r["calls"].items()):
        print(f"  {name:<26} {count:>6} calls, longest {worst:6.2f} ms, p99 {p99:5.2f} ms")
    print(f"create_job (stores the 100,000 rows, before the run): {r['create_s']:.2f} s")
    print(f"reading the job back for a resume: {r['resume_load_s']:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["fake", "sandbox"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {ROWS:,} rows")
    if args.only in (None, "fake"):
        print_result(fake_case(args.repeats))
    if args.only in (None, "sandbox"):
        print_result(sandbox_case(args.repeats))


if __name__ == "__main__":
    main()
