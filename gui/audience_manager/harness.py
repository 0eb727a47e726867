"""The app's test harness: the hidden switches that drive the real window from outside, for the
package smoke test and the kill and SIGTERM tests. `app.main` calls `run` when one is given; the
window knows nothing of them.

- `--smoke`: paste demo ids, tick a tag, press Run and confirm, exactly as a user would; exit 0 only
  if every row ended with an outcome. `--smoke-rows N` makes the job N rows long (known demo
  subscribers, then ids nobody has).
- `--resume-interrupted`: take the resume offer at start exactly as the banner's Resume button does,
  then exit 0 once the job has an outcome for every row.
- `--report-audience`: print what the audience panel read from the file given on the command line
  and exit (the package's smoke test uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

SMOKE_TIMEOUT_SECONDS = 60.0


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smoke", action="store_true", help="run a small demo job in the window and exit")
    # Hidden, for the kill tests: a long smoke job, and taking the resume offer at start.
    parser.add_argument("--smoke-rows", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--resume-interrupted", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--report-audience", action="store_true", help=argparse.SUPPRESS)


def wanted(args: argparse.Namespace) -> bool:
    """Whether the harness drives this run (then the demo workspace opens, and the app exits after)."""
    return bool(args.smoke or args.smoke_rows > 0 or args.resume_interrupted or args.report_audience)


def wants_demo(args: argparse.Namespace) -> bool:
    """Whether this run opens the demo workspace even if accounts are saved (a resume takes the
    accounts the user has, like any start)."""
    return bool(args.smoke or args.smoke_rows > 0 or args.report_audience)


async def run(window: Any, args: argparse.Namespace, given: asyncio.Task[None] | None = None) -> int:
    """The harness's part of this run; the window is open on the demo workspace. `given` is the
    loading of the file named on the command line, if any."""
    if args.report_audience:
        return await report_audience(window, given)
    if args.resume_interrupted:
        return await resume_interrupted(window)
    return await smoke(window, rows=args.smoke_rows)


async def smoke(window: Any, timeout: float = SMOKE_TIMEOUT_SECONDS, *, rows: int = 0) -> int:
    """Paste demo ids, tick a tag, press Run and confirm, exactly as a user would; check the results."""
    from audience_manager.core.actions import Action, TargetKind

    workspace = window.workspace
    deadline = time.monotonic() + timeout
    while (workspace.platform is None or workspace.catalog_busy) and not workspace.catalog_error:
        if time.monotonic() > deadline:
            print("smoke: the catalog did not load in time", file=sys.stderr)
            return 1
        await asyncio.sleep(0.02)
    if workspace.catalog_error:
        print(f"smoke: the catalog failed: {workspace.catalog_error}", file=sys.stderr)
        return 1
    sandbox = workspace.sandbox
    if rows > 0:
        ids = sandbox.known_subscriber_ids(rows, state=None)
        ids += sandbox.unknown_subscriber_ids(rows - len(ids))
        text = "\n".join(str(i) for i in ids)
    else:
        known = [str(i) for i in sandbox.known_subscriber_ids(12)]
        unknown = [str(i) for i in sandbox.unknown_subscriber_ids(3)]
        text = "\n".join([*known, *unknown, "not-an-id", known[0]])
    window.audience_panel.paste_action(text)
    while window.audience_panel.busy:  # a long paste is read in the background
        if time.monotonic() > deadline:
            print("smoke: the audience was not read in time", file=sys.stderr)
            return 1
        await asyncio.sleep(0.02)
    tags = workspace.catalog.get(TargetKind.TAG, [])
    if not tags:
        print("smoke: the demo account has no tags", file=sys.stderr)
        return 1
    window.action_bar.set_action(Action.TAG)
    window.catalog_panel.set_checked(TargetKind.TAG, {tags[0].id})

    finished: asyncio.Future[tuple[str, str, str]] = asyncio.get_running_loop().create_future()

    def job_finished(*args: str) -> None:
        if not finished.done():
            finished.set_result((args[0], args[1], args[2]))

    window.job_finished.connect(job_finished)
    dialog = window.run_action()
    if dialog is None:
        print(f"smoke: Run was refused: {window.run_blocker()}", file=sys.stderr)
        return 1
    dialog.run_button.click()
    try:
        job_id, state, _reason = await asyncio.wait_for(finished, max(1.0, deadline - time.monotonic()))
    except TimeoutError:
        print("smoke: the job did not finish in time", file=sys.stderr)
        return 1
    shown = window.session.state.job
    if shown is None:
        print("smoke: the window shows no job", file=sys.stderr)
        return 1
    spec = shown.spec
    audience = spec.audience
    expected = {
        (row, str(t))
        for row in [
            *(r.row for r in audience.rows),
            *(p.row for p in (*audience.invalid, *audience.duplicates)),
        ]
        for t in spec.targets
    }
    outcomes = window.results_panel.model.outcomes()
    got = [(o.row, o.target) for o in outcomes]
    counts = window.results_panel.model.counts()
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    pairs = len(expected)
    print(f"smoke: job {job_id} {state}: {len(outcomes)} outcomes for {pairs} row x target pairs ({summary})")
    if len(got) != len(set(got)) or set(got) != expected:
        missing = expected - set(got)
        print(
            f"smoke: FAILED: {len(missing)} rows without an outcome, {len(got) - len(set(got))} twice",
            file=sys.stderr,
        )
        return 1
    return 0


async def resume_interrupted(window: Any, timeout: float = SMOKE_TIMEOUT_SECONDS) -> int:
    """Take the resume offer as a user would (the banner's Resume), wait for the job to end; 0 when
    the journal then holds an outcome for every row of it."""
    jobs = await window.offer_resume()
    if not jobs:
        print("resume: no interrupted job", file=sys.stderr)
        return 1
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[Any] = loop.create_future()
    refused: asyncio.Future[Any] = loop.create_future()

    def job_finished(*args: str) -> None:
        if not finished.done():
            finished.set_result((args[0], args[1]))

    def job_refused(message: str) -> None:
        if not refused.done():
            refused.set_result(message)

    window.job_finished.connect(job_finished)
    window.workspace.job_refused.connect(job_refused)
    job_id = window.resume_banner.job_id
    window.resume_banner.resume_button.click()
    while window.confirm_dialog is None and not refused.done():  # Resume asks first, like Run
        await asyncio.sleep(0.02)
    if window.confirm_dialog is not None:
        window.confirm_dialog.run_button.click()
    done, _ = await asyncio.wait({finished, refused}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if refused in done:
        print(f"resume: refused: {refused.result()}", file=sys.stderr)
        return 1
    if finished not in done:
        print("resume: the job did not finish in time", file=sys.stderr)
        return 1
    from audience_manager.jobs.history import missing_rows

    journal = window.workspace.journal()
    missing = await loop.run_in_executor(None, missing_rows, journal, job_id)
    shown = window.results_panel.model.rowCount()
    print(f"resume: job {job_id} {finished.result()[1]}: {shown} outcomes shown, {missing} missing")
    return 0 if missing == 0 else 1


async def report_audience(
    window: Any, task: asyncio.Task[None] | None, timeout: float = SMOKE_TIMEOUT_SECONDS
) -> int:
    """Wait for the audience panel to read the file given on the command line; print what it read."""
    panel = window.audience_panel
    if task is None:
        print("audience: no file given that the audience panel reads", file=sys.stderr)
        return 1
    deadline = time.monotonic() + timeout
    workspace = window.workspace
    # The account's identifiers decide what is valid: let it load first (the panel re-reads then).
    while (workspace.platform is None or workspace.catalog_busy) and not workspace.catalog_error:
        if time.monotonic() > deadline:
            print("audience: the account did not load in time", file=sys.stderr)
            return 1
        await asyncio.sleep(0.02)
    while not task.done() or panel.busy:
        if time.monotonic() > deadline:
            print("audience: the file was not read in time", file=sys.stderr)
            return 1
        await asyncio.sleep(0.02)
    audience = panel.audience
    if audience is None or audience.total == 0:
        print(f"audience: nothing read from {panel.file_path}", file=sys.stderr)
        return 1
    print(
        f"audience: {len(audience.rows)} rows to send, {len(audience.invalid)} invalid, "
        f"{len(audience.duplicates)} duplicate from {panel.file_path}"
    )
    return 0
