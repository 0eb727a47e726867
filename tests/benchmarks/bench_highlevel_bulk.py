"""HighLevel bulk tagging and Kit v3 per-row throughput against the sandbox, limits enforced, on loopback.

    python tests/benchmarks/bench_highlevel_bulk.py                  # both runs (about 4 minutes)
    python tests/benchmarks/bench_highlevel_bulk.py --only highlevel # HighLevel only (about 45 s)

Ceilings are the rate limit times the rows one request carries:
- HighLevel: 100 requests / 10 s x 100 contact ids = 1,000 rows/s;
- Kit v3: 120 requests / 60 s x 1 row = 2 rows/s.

Both limits are rolling windows, so a fresh credential may send a whole window's worth at once and a
short run's plain rows/s is flattered by that burst. The steady-state ratio therefore counts, on the
client's own send times, the rows carried from the first request of the 2nd window to the first
request of the last full one (windows counted in all requests, since lookups and member lists use
the same limit), per second, over the ceiling (HighLevel: requests 101 -> 401, ideally 30 s; Kit
v3: requests 121 -> 241, ideally 60 s). The plain ratio (rows / wall time / ceiling) is printed too.

Each job runs through the real `Runner` (the app's and the CLI's path), so the numbers include
batching, concurrency and outcome bookkeeping. The sandbox runs in a child process (its own
interpreter), so the client is not measured against the server's share of one GIL. "Rows lost" are
rows without an outcome, rows that did not end succeeded/unchanged, and rows whose contact or
subscriber does not show the change in the sandbox afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import httpx

from audience_manager.api.highlevel import HighLevel
from audience_manager.api.kit_v3 import KitV3
from audience_manager.api.platform import Platform
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.jobs.runner import Runner

HL_TAG = "benchmark 2026"


# -- the sandbox, in its own process ------------------------------------------------------------------


def _serve(conn: Connection, which: str, size: int) -> None:
    from audience_manager.sandbox import Sandbox
    from audience_manager.sandbox.server import serve

    if which == "highlevel":
        sb = Sandbox(subscribers=10, contacts=size)
        ids: list[Any] = sb.known_contact_ids(size)
        creds: tuple[str, ...] = (sb.credentials.highlevel_token, sb.credentials.highlevel_location)
        target = (HL_TAG, HL_TAG)
    else:
        sb = Sandbox(subscribers=size + size // 5, contacts=10)
        tag = list(sb.state.kit.tags.values())[-1]
        ids = sb.known_subscriber_ids(size, state=None)
        for sid in ids:  # every row really has the tag, so each untag changes something
            sb.state.kit.tag(sid, tag.id, "2026-01-01T00:00:00Z")
        creds = (sb.credentials.kit_v3_key, sb.credentials.kit_v3_secret)
        target = (str(tag.id), tag.name)
    with serve(sb, port=0) as base_url:
        conn.send((base_url, creds, target, ids))
        conn.recv()  # "report"
        if which == "highlevel":
            contacts = sb.state.highlevel.contacts
            changed = sum(1 for cid in ids if HL_TAG in contacts[cid].tags)
        else:
            changed = sum(1 for sid in ids if sid not in sb.state.kit.taggings[int(target[0])])
        conn.send({"total_429": sb.stats.total_429, "requests": sb.stats.total, "changed": changed})
        conn.recv()  # "stop"


@dataclass
class Served:
    process: Any
    conn: Connection
    base_url: str
    creds: tuple[str, ...]
    target: tuple[str, str]
    ids: list[Any]

    @classmethod
    def start(cls, which: str, size: int) -> Served:
        parent, child = mp.Pipe()
        process = mp.get_context("spawn").Process(target=_serve, args=(child, which, size), daemon=True)
        process.start()
        base_url, creds, target, ids = parent.recv()
        return cls(process, parent, base_url, tuple(creds), tuple(target), list(ids))  # type: ignore[arg-type]

    def report(self) -> dict[str, int]:
        self.conn.send("report")
        answer: dict[str, int] = self.conn.recv()
        return answer

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(10)


# -- the client side ----------------------------------------------------------------------------------


@dataclass
class SendTimes(httpx.AsyncBaseTransport):
    """Real HTTP, noting when each request left and whether it was a write (a row-carrying request)."""

    method: str
    path_prefix: str
    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    sent: list[tuple[float, bool]] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        write = request.method == self.method and request.url.path.startswith(self.path_prefix)
        self.sent.append((time.monotonic(), write))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Measured:
    name: str
    rows: int
    requests: int
    seconds: float
    ceiling: float
    steady_ratio: float | None
    steady_span: str
    total_429: int
    lost: int
    outcomes: dict[str, int]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def ratio(self) -> float:
        return self.rows_per_second / self.ceiling


def steady(
    sent: list[tuple[float, bool]], per_window: int, window: float, rows_per_write: int, ceiling: float
) -> tuple[float | None, str]:
    """Rows carried between the first requests of the 2nd and of the last full window, per second,
    over the ceiling. Windows are counted in all requests (lookups and listings use the limit too)."""
    full_windows = len(sent) // per_window
    if full_windows < 3:
        return None, "run too short for a steady-state figure (needs 3 windows)"
    first, last = per_window, (full_windows - 1) * per_window
    measured = sent[last][0] - sent[first][0]
    writes = sum(1 for _, write in sent[first:last] if write)
    ratio = writes * rows_per_write / measured / ceiling
    ideal = (full_windows - 2) * window
    return ratio, (
        f"requests {first + 1} -> {last + 1} ({writes} of them writes, {writes * rows_per_write:,} rows): "
        f"{measured:.2f} s, ideally {ideal:.0f} s"
    )


async def run_job(client: Platform, spec: JobSpec) -> tuple[float, dict[str, int], int]:
    runner = Runner(client, spec)
    start = time.monotonic()
    outcomes = await runner.run()
    seconds = time.monotonic() - start
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.outcome.value] = counts.get(o.outcome.value, 0) + 1
    bad = sum(1 for o in outcomes if o.outcome not in (Outcome.SUCCEEDED, Outcome.UNCHANGED))
    return seconds, counts, bad + (len(spec.audience.rows) - len(outcomes))


def bench_highlevel(contacts: int) -> Measured:
    served = Served.start("highlevel", contacts)
    try:
        token, location = served.creds
        account = Account(
            "Bench",
            PlatformKind.HIGHLEVEL,
            AuthKind.PRIVATE_TOKEN,
            base_url=served.base_url,
            location_id=location,
        )
        transport = SendTimes("POST", "/contacts/bulk/")
        client = HighLevel(account, Credentials(token), transport=transport)
        rows = [AudienceRow(n + 1, cid, IdentifierKind.CONTACT_ID) for n, cid in enumerate(served.ids)]
        spec = JobSpec("Bench", Action.TAG, (Target(TargetKind.TAG, HL_TAG, HL_TAG),), Audience(rows=rows))

        async def main() -> tuple[float, dict[str, int], int]:
            try:
                return await run_job(client, spec)
            finally:
                await client.aclose()

        seconds, counts, bad = asyncio.run(main())
        server = served.report()
        ratio, span = steady(transport.sent, 100, 10.0, 100, client.capabilities.ceiling_rows_per_second)
        return Measured(
            "HighLevel bulk add (100 ids a request)",
            len(rows),
            server["requests"],
            seconds,
            client.capabilities.ceiling_rows_per_second,
            ratio,
            span,
            server["total_429"],
            bad + (len(rows) - server["changed"]),
            counts,
        )
    finally:
        served.stop()


def bench_kit_v3(rows_wanted: int) -> Measured:
    served = Served.start("kit-v3", rows_wanted)
    try:
        key, secret = served.creds
        account = Account("Bench", PlatformKind.KIT_V3, AuthKind.LEGACY_KEY, base_url=served.base_url)
        transport = SendTimes("DELETE", "/v3/subscribers/")
        client = KitV3(account, Credentials(key, secret), transport=transport)
        tag_id, tag_name = served.target
        rows = [
            AudienceRow(n + 1, str(sid), IdentifierKind.SUBSCRIBER_ID) for n, sid in enumerate(served.ids)
        ]
        spec = JobSpec(
            "Bench", Action.UNTAG, (Target(TargetKind.TAG, tag_id, tag_name),), Audience(rows=rows)
        )

        async def main() -> tuple[float, dict[str, int], int]:
            try:
                return await run_job(client, spec)
            finally:
                await client.aclose()

        seconds, counts, bad = asyncio.run(main())
        server = served.report()
        ratio, span = steady(transport.sent, 120, 60.0, 1, client.capabilities.ceiling_rows_per_second)
        return Measured(
            "Kit v3 untag by subscriber id (1 row a request)",
            len(rows),
            server["requests"],
            seconds,
            client.capabilities.ceiling_rows_per_second,
            ratio,
            span,
            server["total_429"],
            bad + (len(rows) - server["changed"]),
            counts,
        )
    finally:
        served.stop()


def machine() -> str:
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}, httpx {httpx.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=50_000, help="HighLevel rows (at least 20,000)")
    parser.add_argument("--v3-rows", type=int, default=360, help="Kit v3 rows")
    parser.add_argument("--only", choices=("highlevel", "kit-v3"))
    args = parser.parse_args()

    results: list[Measured] = []
    if args.only in (None, "highlevel"):
        results.append(bench_highlevel(args.contacts))
    if args.only in (None, "kit-v3"):
        results.append(bench_kit_v3(args.v3_rows))

    print(f"Machine: {machine()}")
    print(f"Command: python tests/benchmarks/bench_highlevel_bulk.py {' '.join(sys.argv[1:])}".rstrip())
    print()
    print(
        "| run | rows | requests | wall s | rows/s | ceiling rows/s | ratio | steady ratio "
        "| 429s | rows lost |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in results:
        steady_text = f"{m.steady_ratio:.3f}" if m.steady_ratio is not None else "n/a"
        print(
            f"| {m.name} | {m.rows:,} | {m.requests:,} | {m.seconds:.1f} | {m.rows_per_second:.1f} | "
            f"{m.ceiling:,.0f} | {m.ratio:.3f} | {steady_text} | {m.total_429} | {m.lost} |"
        )
    print()
    for m in results:
        print(f"- {m.name}: steady state {m.steady_span}; outcomes {m.outcomes}")


if __name__ == "__main__":
    main()
