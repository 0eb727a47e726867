"""The composition root: the QApplication, the qasync loop, the workspace and the window.

`main(argv)` is what `audience-manager` with no subcommand runs. The window is shown before the
accounts (or the demo sandbox) are opened, so the user sees it at once; the catalog shows its busy
state meanwhile. `--smoke` drives one small demo job through the window's own Run path and exits 0
only if every row ended with an outcome.

Files given on the command line (the menu entry's %F: files opened with the app or dropped on its
launcher) open in the audience panel exactly as a file dropped on the window does.

Two hidden switches exist for the kill test (tests/ui/test_kill_app.py): `--smoke-rows N` makes the
smoke job N rows long (known demo subscribers, then ids nobody has), and `--resume-interrupted`
takes the resume offer at start exactly as the banner's Resume button does, then exits 0 once the
job has an outcome for every row. A third, `--report-audience`, prints what the audience panel read
from the file given on the command line and exits (the package's smoke test uses it).
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
# The one application id: desktop file, Wayland app id, X11 WM_CLASS, icon, AppStream id.
APP_ID = "io.github.audiencemanager.AudienceManager"
DISPLAY_NAME = "Audience Manager"
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
    parser.add_argument("--report-audience", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", metavar="FILE", help="a CSV, TSV, text or .xlsx file to open")
    # Qt's own options (-style, -platform ...) pass through to QApplication.
    args, _qt = parser.parse_known_args(list(argv))
    # A Qt option's value (`-style fusion`) lands among the files: only what exists is a file.
    args.files = [f for f in args.files if os.path.isfile(f)]
    return args


def _headless() -> bool:
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and sys.platform.startswith(
        "linux"
    )


def settings() -> Any:
    """The window's settings (geometry, splitters): an ini file in the config folder beside the
    app's other settings (tests move it aside with AUDIENCE_MANAGER_HOME like every other file).
    The first time, what Qt kept in its own place (QSettings(ORGANIZATION, APPLICATION): a .conf
    file, the macOS defaults or the Windows registry) is copied in."""
    from PySide6.QtCore import QSettings

    from audience_manager.store.paths import HOME_VARIABLE, window_settings_path

    path = window_settings_path()
    fresh = not path.exists()
    result = QSettings(str(path), QSettings.Format.IniFormat)
    if fresh and not os.environ.get(HOME_VARIABLE):
        old = QSettings(ORGANIZATION, APPLICATION)
        for key in old.allKeys():
            result.setValue(key, old.value(key))
        result.sync()
    return result


def open_given_files(window: Any, paths: Sequence[str]) -> asyncio.Task[None] | None:
    """Files from the command line, taken as a drop on the window: the same filter (the suffixes
    the audience reads) and the same loading path; the first one opens."""
    from PySide6.QtCore import QUrl

    from audience_manager.ui.audience_panel import dropped_files

    files = dropped_files([QUrl.fromLocalFile(os.path.abspath(p)) for p in paths])
    if not files:
        if paths:
            log.warning("none of the files given can be opened as an audience: %s", ", ".join(paths))
        return None
    task: asyncio.Task[None] | None = window.audience_panel.load_file(files[0])
    return task


def file_open_filter(window: Any) -> Any:
    """macOS hands files opened from Finder or dropped on the Dock icon to the app as FileOpen
    events (not as arguments): they go the same way as files on the command line."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtGui import QFileOpenEvent

    class FileOpenFilter(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
                if event.file():
                    open_given_files(window, [event.file()])
                return True
            return False

    return FileOpenFilter(window)


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


def make_application(argv: Sequence[str]) -> Any:
    from PySide6.QtWidgets import QApplication

    from audience_manager.ui.icons import app_icon

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv))
    app.setOrganizationName(ORGANIZATION)
    # The application name is the X11 WM_CLASS (the desktop file's StartupWMClass), the desktop
    # file name the Wayland app id: both the desktop file's id, so the window gets its icon and
    # pins to its launcher. The display name is what users read, appended once to window titles.
    app.setApplicationName(APP_ID)
    app.setApplicationDisplayName(DISPLAY_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)
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
    spec = window.last_spec
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
    quits_by_itself = args.smoke or args.quit_after_show or args.resume_interrupted or args.report_audience
    if quits_by_itself and _headless():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import qasync

    from audience_manager.child_env import restore_for_children
    from audience_manager.store.paths import journal_path
    from audience_manager.ui.main_window import MainWindow
    from audience_manager.ui.workspace import Workspace

    app = make_application([sys.argv[0] if sys.argv else APPLICATION, *argv])
    # Qt has loaded its plugins: programs started from now on (the browser) get the user's
    # environment, not the bundle's library and plugin paths.
    restore_for_children()
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
        given = open_given_files(window, args.files)
        app.installEventFilter(file_open_filter(window))
        closed = asyncio.Event()
        app.lastWindowClosed.connect(closed.set)
        await open_accounts(workspace, demo=args.demo or args.smoke or args.report_audience)
        if args.report_audience:
            code = await report_audience(window, given)
            window.close()
            return code
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
