"""Email audiences end to end at the platforms' real limits: resolving plus writing, cold and cached.

    python tests/benchmarks/bench_email_resolution.py                  # all runs (about 12 minutes)
    python tests/benchmarks/bench_email_resolution.py --only kit        # 100,000 emails, 500,000 subscribers
    python tests/benchmarks/bench_email_resolution.py --only highlevel  # 50,000 emails, 200,000 contacts
    python tests/benchmarks/bench_email_resolution.py --only done-when  # the issue's two small shapes

Each run tags an email audience (1 % of it unknown to the platform) through the real runner, the real
client and a real journal (so the directory cache is in play), against the sandbox served by uvicorn
in a child process with the platform's limit enforced (Kit OAuth 600 / 60 s, HighLevel 100 / 10 s).
"cold" is the first job on the list (every email resolved the platform's cheapest way); "cached" is
the next job on the same list (another tag), whose emails all come from the directory.

Ratio = rows/s end to end / the id audience's ceiling (rate x 100 rows a request = 1,000 rows/s on
both). Requests are counted by kind as the client sent them; 429s as the sandbox answered them.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import httpx

from audience_manager.api.highlevel import HighLevel
from audience_manager.api.kit_v4 import KitV4
from audience_manager.api.platform import Platform
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.jobs.journal import Journal
from audience_manager.jobs.runner import Runner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kit_bulk import machine

CEILING_ROWS_PER_S = 1000.0
RESOLVING_PATHS = ("/v4/subscribers", "/contacts/search")
TAGS = ("Bench cold", "Bench cached")


def _serve(conn: Connection, platform: str, population: int, emails: int, unknown: int) -> None:
    from audience_manager.sandbox import Sandbox
    from audience_manager.sandbox.server import serve

    rng = random.Random(12)
    if platform == "kit":
        sb = Sandbox(subscribers=population, contacts=10)
        kit = sb.state.kit
        pool = [s.email_address for s in kit.subscribers.values()]
        tags = {name: kit.create_tag(name)[0].id for name in TAGS}
    else:
        sb = Sandbox(subscribers=10, contacts=population)
        loc = sb.credentials.highlevel_location
        hl = sb.state.highlevel
        pool = sorted({c.email for c in hl.contacts.values() if c.location_id == loc and not c.deleted})
        tags = {name: name.lower() for name in TAGS}
    chosen = rng.sample(pool, emails - unknown) + [f"nobody{n}@nowhere.example" for n in range(unknown)]
    rng.shuffle(chosen)
    credentials = sb.credentials
    with serve(sb, port=0) as base_url:
        conn.send(
            (
                base_url,
                credentials.kit_oauth_token,
                credentials.highlevel_token,
                loc if platform != "kit" else "",
                tags,
                chosen,
            )
        )
        while (message := conn.recv()) != "stop":
            name = message
            if platform == "kit":
                tagged = len(sb.state.kit.taggings[tags[name]])
            else:
                tagged = sum(1 for c in sb.state.highlevel.contacts.values() if tags[name] in c.tags)
            conn.send({"total_429": sb.stats.total_429, "tagged": tagged})


class Counting(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=32))
        self.kinds: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.kinds["resolving" if request.url.path in RESOLVING_PATHS else "writing"] += 1
        response = await self.inner.handle_async_request(request)
        self.statuses[response.status_code] += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Result:
    name: str
    rows: int
    seconds: float
    resolving: int
    writing: int
    client_429: int
    lost: int
    not_found: int
    failed: int
    tagged: int
    method: str
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def ratio(self) -> float:
        return self.rows / self.seconds / CEILING_ROWS_PER_S

    def line(self) -> str:
        requests = self.resolving + self.writing
        share = self.client_429 / max(1, requests)
        return (
            f"| {self.name} | {self.rows:,} | {self.method} | {self.seconds:.1f} | "
            f"{self.rows / self.seconds:,.0f} | **{self.ratio:.3f}** | {self.resolving:,} | "
            f"{self.writing:,} | {self.client_429} ({share:.2%}) | "
            f"{self.lost} | {self.not_found:,} | {self.failed} | {self.tagged:,} |"
        )


async def _job(platform: Platform, journal: Journal, account: Account, spec: JobSpec) -> tuple[float, Runner]:
    job_id = journal.create_job(spec, account)
    runner = Runner(platform, spec, recorder=journal, job_id=job_id)
    started = time.monotonic()
    try:
        await runner.run()
    finally:
        await platform.aclose()
    return time.monotonic() - started, runner


def measure(
    platform: str, population: int, emails: int, *, label: str, unknown: int | None = None
) -> list[Result]:
    unknown = max(1, emails // 100) if unknown is None else unknown
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(child, platform, population, emails, unknown), daemon=True)
    process.start()
    base_url, kit_token, hl_token, location, tags, chosen = parent.recv()
    rows = [AudienceRow(n, e, IdentifierKind.EMAIL) for n, e in enumerate(chosen, 1)]
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory() as folder, Journal(Path(folder) / "journal.sqlite3") as journal:
            for run, tag_name in zip(("cold", "cached"), TAGS, strict=True):
                counting = Counting()
                if platform == "kit":
                    account = Account("Bench", PlatformKind.KIT_V4, AuthKind.OAUTH, base_url=base_url)
                    client: Platform = KitV4(account, Credentials(kit_token), transport=counting)
                    target = Target(TargetKind.TAG, str(tags[tag_name]), tag_name)
                else:
                    account = Account(
                        "Bench",
                        PlatformKind.HIGHLEVEL,
                        AuthKind.PRIVATE_TOKEN,
                        base_url=base_url,
                        location_id=location,
                    )
                    client = HighLevel(account, Credentials(hl_token), transport=counting)
                    target = Target(TargetKind.TAG, tags[tag_name], tags[tag_name])
                spec = JobSpec("Bench", Action.TAG, (target,), Audience(rows=rows, source="benchmark"))
                seconds, runner = asyncio.run(_job(client, journal, account, spec))
                parent.send(tag_name)
                report = parent.recv()
                outcomes = runner.outcomes()
                by = Counter(o.outcome for o in outcomes)
                plan = runner.resolution
                results.append(
                    Result(
                        name=f"{label}, {run}",
                        rows=len(rows),
                        seconds=seconds,
                        resolving=counting.kinds["resolving"],
                        writing=counting.kinds["writing"],
                        client_429=counting.statuses[429],
                        lost=len(rows) - len({o.row for o in outcomes}),
                        not_found=by[Outcome.SKIPPED],
                        failed=by[Outcome.FAILED] + by[Outcome.CANCELLED],
                        tagged=int(report["tagged"]),
                        method=plan.describe() if plan is not None else "all from the directory",
                        outcomes=Counter(str(k) for k in by.elements()),
                    )
                )
                print(results[-1].line(), flush=True)
    finally:
        parent.send("stop")
        process.join(10)
    return results


HEADER = (
    "| run | rows | how emails were resolved | seconds | rows/s | ratio to 1,000 rows/s | resolving requests "
    "| write requests | 429s | rows lost | not found (skipped) | failed | tagged on server |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["kit", "highlevel", "done-when"], action="append")
    args = parser.parse_args(argv)
    chosen = args.only or ["done-when", "kit", "highlevel"]
    print(f"machine: {machine()}", flush=True)
    print(HEADER, flush=True)
    results: list[Result] = []
    if "done-when" in chosen:
        results += measure(
            "kit", 20_000, 3_050, label="Kit v4 OAuth, 3,050 emails / 20,000 subscribers", unknown=50
        )
        results += measure(
            "highlevel", 10_000, 1_530, label="HighLevel, 1,530 emails / 10,000 contacts", unknown=30
        )
    if "kit" in chosen:
        results += measure(
            "kit", 500_000, 100_000, label="Kit v4 OAuth, 100,000 emails / 500,000 subscribers"
        )
    if "highlevel" in chosen:
        results += measure("highlevel", 200_000, 50_000, label="HighLevel, 50,000 emails / 200,000 contacts")
    print()
    print(HEADER)
    for r in results:
        print(r.line())
    bad = [r for r in results if r.lost or r.failed or r.tagged != r.rows - r.not_found]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
