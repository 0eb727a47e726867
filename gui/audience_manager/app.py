"""The composition root: the QApplication, the qasync loop, the workspace and the window.

`main(argv)` is what `audience-manager` with no subcommand runs. The window is shown before the
accounts (or the demo sandbox) are opened, so the user sees it at once; the catalog shows its busy
state meanwhile. `--smoke` drives one small demo job through the window's own Run path and exits 0
only if every row ended with an outcome.

Two hidden switches exist for the kill test (tests/ui/test_kill_app.py): `--smoke-rows N` makes the
smoke job N rows long (known demo subscribers, then ids nobody has), and `--resume-interrupted`
takes the resume offer at start exactly as the banner's Resume button does, then exits 0 once the
job has an outcome for every row.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from audience_manager import __version__
from audience_manager.logs import setup_logging

log = logging.getLogger(__name__)

ORGANIZATION = "Audience Manager"
APPLICATION = "audience-manager"
SMOKE_TIMEOUT_SECONDS = 60.0


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="audience-manager", description="Audience Manager window")
    parser.add_argument("--smoke", action="store_true", help="run a small demo job in the window and exit")
    parser.add_argument("--demo", action="store_true", help="open the demo workspace even if accounts exist")
    parser.add_argument(
        "--quit-after-show", action="store_true", help="quit as soon as the window is shown (startup timing)"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request to the log file")
    # Hidden, for the kill test: a long smoke job, and taking the resume offer at start.
    parser.add_argument("--smoke-rows", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--resume-interrupted", action="store_true", help=argparse.SUPPRESS)
    # Qt's own options (-style, -platform ...) pass through to QApplication.
    args, _qt = parser.parse_known_args(list(argv))
    return args


def _headless() -> bool:
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and sys.platform.startswith(
        "linux"
    )


def settings() -> Any:
    """The window's settings (geometry, splitters) in the app's own name; tests move them aside
    with AUDIENCE_MANAGER_HOME like every other file the app writes."""
    from PySide6.QtCore import QSettings

    home = os.environ.get("AUDIENCE_MANAGER_HOME")
    if home:
        return QSettings(os.path.join(home, "window.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


def make_application(argv: Sequence[str]) -> Any:
    from PySide6.QtWidgets import QApplication

    from audience_manager.ui.icons import app_icon

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv))
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Audience Manager")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APPLICATION)
    app.setWindowIcon(app_icon())
    return app


def open_demo(
    workspace: Any,
    *,
    enforce_limits: bool = True,
    sandbox: Any = None,
    demo: Any = None,
    factory: Any = None,
) -> asyncio.Task[None] | None:
    """Fill the workspace with the demo accounts, all served by one in-process sandbox.

    `demo` is a ready `DemoWorkspace` (seeded elsewhere); `factory(account, credentials, transport)`
    replaces `open_platform` (the benchmark opens the client's rate limiter with it)."""
    from audience_manager.api.clients import open_platform
    from audience_manager.sandbox.demo import demo_workspace
    from audience_manager.ui.workspace import AccountEntry

    demo = demo or demo_workspace(sandbox, enforce_limits=enforce_limits)
    transport = demo.transport

    def open_account(account: Any, credentials: Any) -> Any:
        if factory is not None:
            return factory(account, credentials, transport)
        return open_platform(account, credentials, transport=transport)

    async def close() -> None:
        await transport.aclose()

    entries = [AccountEntry(account, credentials) for account, credentials in demo.accounts]
    task: asyncio.Task[None] | None = workspace.set_entries(
        entries, open_account, demo=True, sandbox=demo.sandbox, on_close=close
    )
    return task


async def open_configured(workspace: Any) -> bool:
    """Offer the accounts the user added (secrets from the keyring) beside the demo ones; False when
    there are none."""
    from audience_manager.ui.accounts_dialog import offer_saved_accounts

    return await offer_saved_accounts(workspace)


async def open_accounts(workspace: Any, *, demo: bool) -> None:
    if demo or not await open_configured(workspace):
        from audience_manager.sandbox.demo import demo_workspace

        # Seeding the simulated accounts takes a few hundred ms: not on the GUI thread.
        made = await asyncio.get_running_loop().run_in_executor(None, demo_workspace)
        open_demo(workspace, demo=made)


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


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    setup_logging(args.verbose)
    args.smoke = args.smoke or args.smoke_rows > 0
    if (args.smoke or args.quit_after_show or args.resume_interrupted) and _headless():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import qasync

    from audience_manager.store.paths import journal_path
    from audience_manager.ui.main_window import MainWindow
    from audience_manager.ui.workspace import Workspace

    app = make_application([sys.argv[0] if sys.argv else APPLICATION, *argv])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    workspace = Workspace(journal_path=journal_path())
    window = MainWindow(workspace, settings())
    window.show()

    async def run() -> int:
        handle = window.windowHandle()
        while handle is not None and not handle.isExposed():  # really on screen, not just asked to be
            await asyncio.sleep(0.001)
        if os.environ.get("AUDIENCE_MANAGER_STARTUP_LOG"):
            shown = time.perf_counter() - started
            print(f"window shown: {time.time():.6f} ({shown:.3f} s after main())", file=sys.stderr)
        if args.quit_after_show:
            return 0
        closed = asyncio.Event()
        app.lastWindowClosed.connect(closed.set)
        await open_accounts(workspace, demo=args.demo or args.smoke)
        if args.resume_interrupted:
            code = await resume_interrupted(window)
            window.close()
            return code
        if args.smoke:
            code = await smoke(window, rows=args.smoke_rows)
            window.close()
            return code
        window.offer_resume()  # jobs a crash or kill cut off: offered in a banner
        await closed.wait()
        return 0

    try:
        with loop:
            code: int = loop.run_until_complete(run())
            loop.run_until_complete(workspace.aclose())
    except KeyboardInterrupt:
        code = 130
    return code
