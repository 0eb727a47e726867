"""Kill the CLI with SIGKILL at random moments of a 100,000-row job, resume it each time, and check
that every row ends with exactly one outcome and that only the batches in flight were sent twice.

The sandbox runs in this process on loopback (limits lifted, a small latency) and counts every
(tag, subscriber) it receives. The CLI runs as `python -m audience_manager` with its data directory
in a temporary folder; its client-side pacing (10 requests/s, Kit's OAuth limit) is lifted by a
`sitecustomize` on PYTHONPATH so the test takes seconds, not minutes: nothing else is changed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from audience_manager.core.platforms import RateLimit
from audience_manager.jobs.journal import Journal
from audience_manager.jobs.runner import default_concurrency
from audience_manager.sandbox import Faults, Sandbox, SandboxCredentials
from audience_manager.sandbox.server import serve

ROWS = 100_000
KILLS = 10
SEED = 20261122
BATCH = 100
BULK_TAGS = "/v4/bulk/tags/subscribers"
TOKEN = SandboxCredentials().kit_oauth_token  # the sandbox's public demo token

UNPACED = """
from audience_manager.api import pacing

async def _no_wait(self):
    return None

pacing.RateLimiter.acquire = _no_wait
"""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class CountingSandbox:
    """The sandbox's ASGI app, counting each tagging of every bulk tag request when it arrives."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.received: Counter[tuple[int, int]] = Counter()

        self.app = self._counting_app()  # a plain coroutine function: uvicorn then speaks ASGI 3

    def _counting_app(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            inner = self.sandbox.app
            if scope["type"] != "http" or scope["path"] != BULK_TAGS or scope["method"] != "POST":
                await inner(scope, receive, send)  # type: ignore[arg-type]
                return
            chunks: list[bytes] = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body = b"".join(chunks)
            for t in json.loads(body).get("taggings", []):
                self.received[(int(t["tag_id"]), int(t["subscriber_id"]))] += 1
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            await inner(scope, replay, send)  # type: ignore[arg-type]

        return app


def _cli(home: Path, shim: Path, base_url: str, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AUDIENCE_MANAGER_HOME": str(home),
        "PYTHONPATH": str(shim),
        "KIT_TOKEN": TOKEN,
    }
    connection = [
        "--platform",
        "kit-v4",
        "--auth",
        "oauth",
        "--token-env",
        "KIT_TOKEN",
        "--base-url",
        base_url,
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "audience_manager", *args, *connection],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _batches(journal_file: Path) -> int:
    if not journal_file.exists():
        return 0
    db = sqlite3.connect(journal_file, timeout=5)
    try:
        (n,) = db.execute("SELECT count(*) FROM batches").fetchone()
    except sqlite3.OperationalError:
        n = 0
    finally:
        db.close()
    return int(n)


def _job_id(journal_file: Path) -> str | None:
    if not journal_file.exists():
        return None
    db = sqlite3.connect(journal_file, timeout=5)
    try:
        row = db.execute("SELECT id FROM jobs").fetchone()
    except sqlite3.OperationalError:
        row = None
    finally:
        db.close()
    return None if row is None else str(row[0])


@pytest.mark.slow
def test_sigkill_at_ten_random_moments_loses_nothing_and_resends_only_in_flight_batches(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox(subscribers=ROWS, enforce_limits=False, faults=Faults(latency=0.05))
    ids = sandbox.known_subscriber_ids(ROWS, state=None)
    tag = next(iter(sandbox.state.kit.tags.values()))
    had_before = set(sandbox.state.kit.taggings[tag.id])
    counting = CountingSandbox(sandbox)
    audience = tmp_path / "audience.txt"
    audience.write_text("\n".join(map(str, ids)) + "\n")
    home = tmp_path / "home"
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(UNPACED)
    journal_file = home / "journal.sqlite3"
    concurrency = default_concurrency_for_kit_oauth()
    rng = random.Random(SEED)
    started = time.monotonic()

    resent_per_kill: list[int] = []
    in_flight_per_kill: list[int] = []
    kills = 0
    with serve(counting) as base_url:
        while kills < KILLS:
            job_id = _job_id(journal_file)
            args = ["apply", "--action", "tag", "--target", tag.name, str(audience)]
            if job_id is not None:
                args = ["jobs", "resume", job_id]
            before_batches = _batches(journal_file)
            before = Counter(counting.received)
            process = _cli(home, shim, base_url, *args)
            # A random moment: mostly while sending, sometimes still starting up.
            if rng.random() < 0.8:
                deadline = time.monotonic() + 30
                while _batches(journal_file) <= before_batches and process.poll() is None:
                    assert time.monotonic() < deadline, "the job never started sending"
                    time.sleep(0.005)
            # At most 0.4 s of sending (<= 8,000 rows at 10 x 100 rows per 50 ms): 10 kills never end the job.
            time.sleep(rng.uniform(0.0, 0.4))
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                assert process.returncode in (0, 1), err
                break  # the job finished before this kill
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            time.sleep(0.05)  # requests that were on the wire reach the sandbox
            job_id = _job_id(journal_file)
            if job_id is not None:
                with Journal(journal_file) as journal:
                    in_flight_per_kill.append(len(journal.sent_without_outcome(job_id)))
            # Re-sent by the previous run: pairs the sandbox had already received before it started.
            after = counting.received
            resent_per_kill.append(sum(1 for p, n in after.items() if before[p] and n > before[p]))

        job_id = _job_id(journal_file)
        assert job_id is not None
        before = Counter(counting.received)
        final = _cli(home, shim, base_url, "jobs", "resume", job_id)
        _, err = final.communicate(timeout=120)
        assert final.returncode == 0, err.decode()
        resent_per_kill.append(sum(1 for p, n in counting.received.items() if before[p] and n > before[p]))
    elapsed = time.monotonic() - started

    assert kills == KILLS, f"the job finished after {kills} kills; slow the sandbox down"
    with Journal(journal_file) as journal:
        record = journal.job(job_id)
        # A kill while the CLI was still starting up comes before the job (re)started.
        assert record.state.value == "finished" and 1 <= record.starts <= KILLS + 1
        assert record.done == record.succeeded + record.unchanged == ROWS
        rows = [(r.row, r.outcome.value) for r in journal.outcome_records(job_id).values()]
        assert len(rows) == ROWS and {r for r, _ in rows} == set(range(1, ROWS + 1))
        assert {o for _, o in rows} <= {"succeeded", "unchanged"}
        sends = journal.sends(job_id)
    # The platform: everyone tagged, and each re-send bounded by the batches in flight.
    assert set(sandbox.state.kit.taggings[tag.id]) == had_before | set(ids)
    received = Counter({sid: n for (t, sid), n in counting.received.items() if t == tag.id})
    assert set(received) == set(ids)
    bound = concurrency * BATCH
    assert max(resent_per_kill) <= bound, (resent_per_kill, bound)
    assert max(in_flight_per_kill) <= bound, (in_flight_per_kill, bound)
    assert sum(received.values()) - ROWS == sum(resent_per_kill)
    assert sum(1 for n in sends.values() if n > 1) <= KILLS * bound
    print(
        f"\n{kills} kills, re-sent per kill {resent_per_kill}, in flight at each kill {in_flight_per_kill},"
        f" bound {bound}, {elapsed:.1f} s"
    )


def default_concurrency_for_kit_oauth() -> int:
    """What the CLI's runner uses for Kit OAuth (600 requests a minute)."""
    from audience_manager.core.platforms import Capabilities

    caps = Capabilities(
        actions=frozenset(), identifiers=frozenset(), items_per_request=BATCH, rate=RateLimit(600, 60)
    )
    return default_concurrency(caps)


UNDO_ROWS = 20_000
UNDO_KILLS = 4


@pytest.mark.slow
def test_sigkill_then_resume_then_undo_leaves_the_platform_exactly_as_before_the_job(tmp_path: Path) -> None:
    """Rows in flight at each kill were applied by the platform but never answered; the resume finds
    them "already tagged". Undo must still untag them (their state before the job was journaled
    with their batch), and leave alone whoever had the tag before."""
    sandbox = Sandbox(subscribers=UNDO_ROWS, enforce_limits=False, faults=Faults(latency=0.05))
    ids = sandbox.known_subscriber_ids(UNDO_ROWS, state=None)
    tag = next(iter(sandbox.state.kit.tags.values()))
    for sid in ids[::7]:  # some already have it: they must keep it, with its original date
        sandbox.state.kit.tag(sid, tag.id, "2025-01-01T00:00:00Z")
    before = dict(sandbox.state.kit.taggings[tag.id])
    audience = tmp_path / "audience.txt"
    audience.write_text("\n".join(map(str, ids)) + "\n")
    home = tmp_path / "home"
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(UNPACED)
    journal_file = home / "journal.sqlite3"
    rng = random.Random(SEED + 1)
    with serve(sandbox) as base_url:
        kills = 0
        while kills < UNDO_KILLS:
            job_id = _job_id(journal_file)
            args = ["apply", "--action", "tag", "--target", tag.name, str(audience)]
            if job_id is not None:
                args = ["jobs", "resume", job_id]
            sent = _batches(journal_file)
            process = _cli(home, shim, base_url, *args)
            deadline = time.monotonic() + 30
            while _batches(journal_file) <= sent + 2 and process.poll() is None:
                assert time.monotonic() < deadline, "the job never started sending"
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.1))
            if process.poll() is not None:
                break
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            time.sleep(0.1)  # requests that were on the wire reach the sandbox and are applied
        job_id = _job_id(journal_file)
        assert job_id is not None
        with Journal(journal_file) as journal:
            lost = len(journal.sent_without_outcome(job_id))
        final = _cli(home, shim, base_url, "jobs", "resume", job_id)
        _, err = final.communicate(timeout=120)
        assert final.returncode == 0, err.decode()
        assert set(sandbox.state.kit.taggings[tag.id]) == set(before) | set(ids)
        with Journal(journal_file) as journal:
            records = journal.outcome_records(job_id).values()
            unchanged = {int(r.subject or 0) for r in records if r.outcome.value == "unchanged"}
        # Some rows the platform tagged during a killed run came back "already had this tag".
        assert lost == 0 or unchanged - set(before), "no row was in flight at a kill"
        undo = _cli(home, shim, base_url, "jobs", "undo", job_id)
        _, err = undo.communicate(timeout=120)
        assert undo.returncode == 0, err.decode()
    assert kills == UNDO_KILLS, f"the job finished after {kills} kills"
    assert sandbox.state.kit.taggings[tag.id] == before


@pytest.mark.slow
def test_two_resumes_of_one_job_at_once_the_second_is_refused_and_nothing_is_lost(tmp_path: Path) -> None:
    rows = 20_000
    sandbox = Sandbox(subscribers=rows, enforce_limits=False, faults=Faults(latency=0.05))
    ids = sandbox.known_subscriber_ids(rows, state=None)
    tag = next(iter(sandbox.state.kit.tags.values()))
    audience = tmp_path / "audience.txt"
    audience.write_text("\n".join(map(str, ids)) + "\n")
    home = tmp_path / "home"
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(UNPACED)
    journal_file = home / "journal.sqlite3"
    with serve(sandbox) as base_url:
        first = _cli(home, shim, base_url, "apply", "--action", "tag", "--target", tag.name, str(audience))
        deadline = time.monotonic() + 30
        while _batches(journal_file) < 5:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.005)
        first.send_signal(signal.SIGKILL)
        first.wait()
        job_id = _job_id(journal_file)
        assert job_id is not None
        one = _cli(home, shim, base_url, "jobs", "resume", job_id)
        sent = _batches(journal_file)
        while _batches(journal_file) <= sent + 2:
            assert time.monotonic() < deadline + 30 and one.poll() is None
            time.sleep(0.005)
        two = _cli(home, shim, base_url, "jobs", "resume", job_id)
        _, err_two = two.communicate(timeout=60)
        _, err_one = one.communicate(timeout=120)
    assert one.returncode == 0, err_one.decode()
    assert two.returncode == 2, err_two.decode()
    message = err_two.decode()
    # resume_plan or, when both got past it together, the lock taken as the job starts
    assert "running in another" in message and "Traceback" not in message
    assert "IntegrityError" not in message
    with Journal(journal_file) as journal:
        record = journal.job(job_id)
        assert record.state.value == "finished" and record.done == rows
