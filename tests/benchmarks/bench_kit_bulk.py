"""Kit v4 OAuth bulk tagging throughput against the sandbox, on loopback, with Kit's 600/60 s enforced.

    python tests/benchmarks/bench_kit_bulk.py               # all three runs (about 6 minutes)
    python tests/benchmarks/bench_kit_bulk.py --only lifted # just the client's own speed

The ceiling is the rate limit times the batch size: 10 requests/s x 100 rows = 1,000 rows/s.

The limiter sends a first burst of 60 (a tenth of the window) and then one request every 0.1 s, so
the 100,000-row run's rows/s is close to the sustained rate. The steady-state figure comes from a
longer run (250,000 rows): the time from the
first request of the 2nd window (request 601) to the first request of the 5th (request 2,401) is
1,800 requests, ideally 3 x 60 s; steady ratio = 180 s / measured time.

The sandbox runs in a child process (its own interpreter and event loop), so the client's numbers
are not taken from the same GIL as the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx

from audience_manager.api.kit_v4 import KitV4
from audience_manager.api.pacing import RateLimiter
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome
from audience_manager.core.platforms import AuthKind, PlatformKind, RateLimit
from audience_manager.jobs.runner import Runner

CEILING_ROWS_PER_S = 1000.0
BULK_PATH = "/v4/bulk/tags/subscribers"


# -- the sandbox, in its own process ------------------------------------------------------------------


def _serve(conn: Connection, subscribers: int, enforce: bool) -> None:
    from audience_manager.sandbox import Sandbox
    from audience_manager.sandbox.server import serve

    sb = Sandbox(subscribers=subscribers, enforce_limits=enforce)
    tag = next(iter(sb.state.kit.tags.values()))
    ids = sb.known_subscriber_ids(subscribers, state=None)
    with serve(sb, port=0) as base_url:
        conn.send((base_url, sb.credentials.kit_oauth_token, tag.id, tag.name, ids))
        conn.recv()  # "report"
        requests = {f"{t} {s}": n for (t, s), n in sb.stats.requests.items()}
        conn.send(
            {
                "total_429": sb.stats.total_429,
                "requests": requests,
                "tagged": len(sb.state.kit.taggings[tag.id]),
            }
        )
        conn.recv()  # "stop"


@dataclass
class Served:
    process: Any
    conn: Connection
    base_url: str
    token: str
    tag: Target
    ids: list[int]

    def report(self) -> dict[str, Any]:
        self.conn.send("report")
        result: dict[str, Any] = self.conn.recv()
        return result

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(10)


def start_sandbox(subscribers: int, enforce: bool) -> Served:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(child, subscribers, enforce), daemon=True)
    process.start()
    base_url, token, tag_id, tag_name, ids = parent.recv()
    return Served(process, parent, base_url, token, Target(TargetKind.TAG, str(tag_id), tag_name), ids)


# -- the client -------------------------------------------------------------------------------------


class Recording(httpx.AsyncBaseTransport):
    """Notes when each bulk request left and what came back (send times are what the server counts)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sends: list[float] = []
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == BULK_PATH:
            self.sends.append(time.monotonic())
        response = await self.inner.handle_async_request(request)
        if request.url.path == BULK_PATH:
            self.statuses.append(response.status_code)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class RunResult:
    name: str
    rows: int
    seconds: float
    requests: int
    server_429: int
    lost: int
    failed: int  # unchanged (already tagged in the seed) counts as done
    tagged_on_server: int
    steady_ratio: float | None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    def line(self) -> str:
        steady = f"{self.steady_ratio:.3f}" if self.steady_ratio is not None else "n/a"
        share_429 = self.server_429 / max(1, self.requests + self.server_429)
        return (
            f"| {self.name} | {self.rows:,} | {self.seconds:.1f} | {self.rows_per_s:,.0f} | "
            f"{self.rows_per_s / CEILING_ROWS_PER_S:.3f} | {steady} | {self.requests:,} | "
            f"{self.server_429} ({share_429:.2%}) | {self.lost} | {self.tagged_on_server:,} |"
        )


async def run_job(served: Served, rows: int, *, lifted: bool) -> tuple[float, Recording, list[Any]]:
    account = Account("Bench", PlatformKind.KIT_V4, AuthKind.OAUTH, base_url=served.base_url)
    recording = Recording(httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=32)))
    limiter = RateLimiter(RateLimit(10**9, 60.0)) if lifted else None
    kit = KitV4(account, Credentials(served.token), transport=recording, limiter=limiter)
    audience = Audience(
        rows=[
            AudienceRow(n + 1, str(sid), IdentifierKind.SUBSCRIBER_ID)
            for n, sid in enumerate(served.ids[:rows])
        ],
        source="benchmark",
    )
    spec = JobSpec(account="Bench", action=Action.TAG, targets=(served.tag,), audience=audience)
    started = time.monotonic()
    try:
        outcomes = await Runner(kit, spec).run()
    finally:
        await kit.aclose()
    return time.monotonic() - started, recording, outcomes


def measure(name: str, rows: int, *, lifted: bool = False) -> RunResult:
    served = start_sandbox(rows, enforce=not lifted)
    try:
        seconds, recording, outcomes = asyncio.run(run_job(served, rows, lifted=lifted))
        report = served.report()
    finally:
        served.stop()
    sends = recording.sends
    steady = None
    if not lifted and len(sends) > 2400:
        steady = 180.0 / (sends[2400] - sends[600])
    return RunResult(
        name=name,
        rows=rows,
        seconds=seconds,
        requests=sum(1 for s in recording.statuses if s != 429),
        server_429=int(report["total_429"]),
        lost=rows - len(outcomes),
        failed=sum(1 for o in outcomes if o.outcome not in (Outcome.SUCCEEDED, Outcome.UNCHANGED)),
        tagged_on_server=int(report["tagged"]),
        steady_ratio=steady,
    )


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()} on {system}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["headline", "steady", "lifted"], action="append")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--steady-rows", type=int, default=250_000)
    args = parser.parse_args(argv)
    chosen = args.only or ["headline", "steady", "lifted"]
    print(f"machine: {machine()}", flush=True)
    results: list[RunResult] = []
    if "headline" in chosen:
        results.append(measure("600/60 s enforced", args.rows))
        print(results[-1].line(), flush=True)
    if "steady" in chosen:
        results.append(measure("600/60 s enforced, long run", args.steady_rows))
        print(results[-1].line(), flush=True)
    if "lifted" in chosen:
        results.append(measure("limit lifted (client's own speed)", args.rows, lifted=True))
        print(results[-1].line(), flush=True)
    print()
    print(
        "| run | rows | seconds | rows/s | ratio to 1,000 rows/s | steady ratio | requests | 429s "
        "| rows lost | tagged on server |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(r.line())
    bad = [r for r in results if r.lost or r.failed or r.tagged_on_server != r.rows]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
