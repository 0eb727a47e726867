"""The composition root: the QApplication, the qasync loop, the workspace and the window.

`main(argv)` is what `audience-manager` with no subcommand runs. The window is shown before the
accounts (or the demo sandbox) are opened, so the user sees it at once; the catalog shows its busy
state meanwhile. The demo accounts are composed here and handed to the window (`ui/` never imports
the sandbox). `--smoke` and the hidden test switches live in `harness.py`.

Files given on the command line (the menu entry's %F: files opened with the app or dropped on its
launcher) open in the audience panel exactly as a file dropped on the window does.

An unhandled exception (in a slot, an asyncio task or a thread) is logged, masked, and shown in a
dialog that says where the log is; SIGTERM and SIGINT close the window as its close button does, so
a running job is cancelled and journaled before the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from audience_manager import __version__, harness
from audience_manager.logs import setup_logging

log = logging.getLogger(__name__)

ORGANIZATION = "Audience Manager"
APPLICATION = "audience-manager"
# The one application id: desktop file, Wayland app id, X11 WM_CLASS, icon, AppStream id.
APP_ID = "io.github.audiencemanager.AudienceManager"
DISPLAY_NAME = "Audience Manager"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="audience-manager", description="Audience Manager window")
    parser.add_argument("--demo", action="store_true", help="open the demo workspace even if accounts exist")
    parser.add_argument(
        "--quit-after-show", action="store_true", help="quit as soon as the window is shown (startup timing)"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request to the log file")
    harness.add_options(parser)
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


class CrashReporter:
    """Logs an unhandled exception (masked, like every log line) and tells the user in a dialog that
    does not block: what happened, that the app keeps running, and where the log is.

    Installed for `sys.excepthook` (a slot that raised), the asyncio loop's exception handler (a
    task or callback) and `threading.excepthook` (a worker thread, reported on the GUI thread).
    One dialog at a time: a burst of errors updates it instead of stacking dialogs."""

    def __init__(self, parent: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.parent = parent
        self.loop = loop
        self.dialog: Any = None
        self.count = 0

    def install(self) -> None:
        sys.excepthook = self.excepthook
        threading.excepthook = self.thread_excepthook
        self.loop.set_exception_handler(self.loop_exception)

    def excepthook(self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        self.report(exc, "in the window", (kind, exc, tb))

    def thread_excepthook(self, hook: threading.ExceptHookArgs) -> None:
        exc = hook.exc_value or hook.exc_type()
        where = f"in the background thread {hook.thread.name if hook.thread else ''}".rstrip()
        log.error("Unhandled error %s", where, exc_info=(hook.exc_type, exc, hook.exc_traceback))
        self.loop.call_soon_threadsafe(self.show, exc)

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if not isinstance(exc, BaseException):
            log.error("Unhandled error in a background task: %s", context.get("message", context))
            return
        self.report(exc, "in a background task", (type(exc), exc, exc.__traceback__))

    def report(self, exc: BaseException, where: str, info: Any) -> None:
        log.error("Unhandled error %s", where, exc_info=info)
        self.show(exc)

    def show(self, exc: BaseException) -> None:
        from PySide6.QtWidgets import QMessageBox

        from audience_manager.api.redaction import known_secrets, redact
        from audience_manager.logs import log_file

        self.count += 1
        where = log_file()
        text = redact(f"{type(exc).__name__}: {exc}", known_secrets())
        details = (
            f"Something went wrong ({text}). The app keeps running; if something looks wrong, "
            "restart it. " + (f"The details are in the log: {where}" if where else "No log file is written.")
        )
        if self.count > 1:
            details += f"\n({self.count} errors so far.)"
        if self.dialog is None or not self.dialog.isVisible():
            self.dialog = QMessageBox(
                QMessageBox.Icon.Critical, "Audience Manager", "An unexpected error", parent=self.parent
            )
        self.dialog.setInformativeText(details)
        self.dialog.open()  # never exec(): the window and its jobs keep going


class SignalCloser:
    """SIGTERM and SIGINT close the window as its close button does (a running job is cancelled and
    journaled, then `Workspace.aclose` runs); the process then exits with 128 + the signal's number.

    Qt's loop runs in C, where Python's signal handlers cannot run, so the signal is written to a
    socket (`signal.set_wakeup_fd`) that a `QSocketNotifier` watches: Qt wakes, and Python runs the
    handler."""

    def __init__(self, app: Any, window: Any) -> None:
        self.app = app
        self.window = window
        self.received: int | None = None
        self.reader, self.writer = socket.socketpair()
        self.notifier: Any = None

    def install(self) -> None:
        from PySide6.QtCore import QSocketNotifier

        for sock in (self.reader, self.writer):
            sock.setblocking(False)
        signal.set_wakeup_fd(self.writer.fileno(), warn_on_full_buffer=False)
        self.notifier = QSocketNotifier(self.reader.fileno(), QSocketNotifier.Type.Read, self.app)
        self.notifier.activated.connect(self._drain)
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._received)

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            self.reader.recv(64)  # Python has run the handler by now

    def _received(self, number: int, _frame: Any) -> None:
        if self.received is not None:
            return
        self.received = number
        log.info("%s received: closing the window", signal.Signals(number).name)
        asyncio.get_event_loop().call_soon(self.window.close)

    def uninstall(self) -> None:
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(-1)
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, signal.SIG_DFL)
        if self.notifier is not None:
            self.notifier.setEnabled(False)
        self.reader.close()
        self.writer.close()


async def demo_accounts(sandbox: Any, transport: Any) -> tuple[Any, Any, list[tuple[Any, Any]]]:
    """The demo accounts offered beside saved ones (`ui.accounts_dialog.provide_demo_accounts`):
    the sandbox and transport already open or new ones (seeded off the GUI thread), its accounts."""
    from audience_manager.sandbox.demo import SandboxTransport
    from audience_manager.sandbox.demo import demo_accounts as accounts_of
    from audience_manager.sandbox.sandbox import Sandbox
    from audience_manager.ui.background import in_worker

    sandbox = sandbox or await in_worker(Sandbox)
    return sandbox, transport or SandboxTransport(app=sandbox.app), accounts_of(sandbox)


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    setup_logging(args.verbose)
    driven = harness.wanted(args)
    if (driven or args.quit_after_show) and _headless():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import qasync

    from audience_manager.child_env import restore_for_children
    from audience_manager.store.paths import journal_path
    from audience_manager.ui.accounts_dialog import provide_demo_accounts
    from audience_manager.ui.main_window import MainWindow
    from audience_manager.ui.workspace import Workspace

    app = make_application([sys.argv[0] if sys.argv else APPLICATION, *argv])
    # Qt has loaded its plugins: programs started from now on (the browser) get the user's
    # environment, not the bundle's library and plugin paths.
    restore_for_children()
    # The window's closing ends `run()`, which then closes the workspace: Qt must not stop the loop
    # first (a job being cancelled still has outcomes to journal).
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    provide_demo_accounts(demo_accounts)
    workspace = Workspace(journal_path=journal_path())
    window = MainWindow(workspace, settings())
    CrashReporter(window, loop).install()
    closer = SignalCloser(app, window)
    closer.install()
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
        work = asyncio.ensure_future(session(closed, given))
        closing = asyncio.ensure_future(closed.wait())
        await asyncio.wait({work, closing}, return_when=asyncio.FIRST_COMPLETED)
        closing.cancel()
        if not work.done():  # the window was closed (by the user or a signal) first
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            return 0
        return work.result()

    async def session(closed: asyncio.Event, given: asyncio.Task[None] | None) -> int:
        await open_accounts(workspace, demo=args.demo or harness.wants_demo(args))
        if driven:
            code = await harness.run(window, args, given)
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
    finally:
        closer.uninstall()
    if closer.received is not None:
        log.info("Closed on %s", signal.Signals(closer.received).name)
        return 128 + closer.received
    return code
