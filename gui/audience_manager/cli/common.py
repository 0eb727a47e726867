"""What every command of the CLI shares: the parser, the usage error and the exit codes, reading a
connection (a saved account, or a platform and a token from the environment), logging to stderr,
running a job with a progress line, and printing and writing its outcomes.

Command modules import this one and never each other (an import-linter contract says so).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, TextIO, TypeAlias, cast

from audience_manager.api.clients import open_platform
from audience_manager.api.redaction import register_secret
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.durations import format_duration as format_duration
from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.core.platforms import (
    AuthKind,
    PlatformKind,
    UnknownAccountKindError,
    account_kind,
    kinds_of,
)
from audience_manager.core.report import write_report
from audience_manager.jobs.events import JobFinished, JobState, Progress
from audience_manager.jobs.journal import Journal
from audience_manager.jobs.progress_text import describe_progress
from audience_manager.jobs.runner import Runner
from audience_manager.jobs.signals import cancel_on_stop_signals
from audience_manager.jobs.workflows import JobRun, start_job
from audience_manager.logs import stream_handler
from audience_manager.store.accounts import AccountBook
from audience_manager.store.connections import open_account
from audience_manager.store.paths import journal_path, settings_path
from audience_manager.store.secrets import KeyringUnavailableError, Secrets, shared_secrets

if TYPE_CHECKING:
    from audience_manager.api.platform import Platform
    from audience_manager.core.job_spec import JobSpec

PROG = "audience-manager"
EXIT_OK, EXIT_ROWS_FAILED, EXIT_USAGE = 0, 1, 2
PROGRESS_EVERY_SECONDS = 5.0  # when stderr is not a terminal (a log file, CI)
SHOWN_PROBLEMS = 20  # rows listed on screen; the report has them all


class UsageError(Exception):
    """The command line cannot be run as given; the message says what to change."""


@dataclass
class Streams:
    """Where a command writes, and the environment its secrets come from (`main`'s arguments)."""

    stdout: IO[str]
    stderr: IO[str]
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)


Handler = Callable[[argparse.Namespace, Streams], int]


# ------------------------------------------------------------------------------------------ parser


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises instead of exiting, so `main` decides the exit code.

    No abbreviated options (`--token` must not quietly mean `--token-env`), and unrecognised
    arguments are named by their options only: a value typed by mistake may be a secret.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            words = message[len(prefix) :].split()
            options = [w.split("=", 1)[0] for w in words if w.startswith("-")]
            shown = " ".join(options) if options else f"{len(words)} extra value(s)"
            message = f"unrecognized arguments: {shown} (values not shown; secrets go in --token-env VAR)"
        raise UsageError(message)


# What `add_subparsers` returns, each command module adds its commands to it (argparse's private name).
Subcommands: TypeAlias = "argparse._SubParsersAction[Parser]"


def verbose_option() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--verbose", "-v", action="store_true", help="log every request (secrets masked)")
    return common


def connection_options() -> Parser:
    """--account NAME, or --platform with --token-env VAR and what the platform needs."""
    common = Parser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument("--account", metavar="NAME", help="a saved account (see: accounts list), instead of:")
    group.add_argument("--platform", choices=[p.value for p in PlatformKind])
    group.add_argument("--base-url", default="", help="the API's address (default: the platform's own)")
    group.add_argument(
        "--auth",
        choices=[a.value for a in AuthKind],
        help="kit-v4: oauth (bulk requests) or api-key (one request per row); others need not say",
    )
    group.add_argument("--token-env", metavar="VAR", help="variable holding the token")
    group.add_argument("--secret-env", metavar="VAR", help="kit-v3: variable holding the api_secret")
    group.add_argument("--location", default="", metavar="ID", help="highlevel: the location id")
    return common


# ------------------------------------------------------------------------------------ connections


@dataclass(frozen=True)
class Connection:
    account: Account
    credentials: Credentials
    # A saved account opens through the store (its OAuth token refreshes and is saved back).
    opener: Callable[[], Platform] | None = None

    def open(self) -> Platform:
        if self.opener is not None:
            return self.opener()
        return open_platform(self.account, self.credentials)


def read_connection(args: argparse.Namespace, environ: Mapping[str, str]) -> Connection:
    """The connection `connection_options()` describe; what each platform needs is read from its
    description (`core.platforms`). The secrets are registered for masking as they are read."""
    if getattr(args, "account", None):
        if args.platform or args.token_env or args.auth or args.secret_env:
            raise UsageError("give either --account NAME or --platform/--auth/--token-env, not both")
        return connection_for_account(args.account)
    if not args.platform or not args.token_env:
        raise UsageError("give --account NAME (a saved account), or --platform with --token-env VAR")
    platform = PlatformKind(args.platform)
    auth = AuthKind(args.auth) if args.auth else platform.info.default_auth
    # The kinds a platform takes, the one that signs in (bulk requests on Kit) named first.
    offered = sorted(kinds_of(platform), key=lambda k: not k.signs_in)
    if auth is None:
        choices = " or ".join(f"--auth {k.auth}" for k in offered)
        raise UsageError(f"--platform {platform} needs {choices}")
    try:
        kind = account_kind(platform, auth)
    except UnknownAccountKindError:
        allowed = " or ".join(k.auth.value for k in offered)
        raise UsageError(f"--platform {platform} takes --auth {allowed}, not {auth}") from None
    token = secret_from(environ, args.token_env, "--token-env")
    secret = ""
    if kind.needs_secret:
        if not args.secret_env:
            raise UsageError(f"--platform {platform} needs --secret-env VAR ({kind.secret_hint})")
        secret = secret_from(environ, args.secret_env, "--secret-env")
    location = kind.info.location
    if location is not None and not args.location:
        raise UsageError(f"--platform {platform} needs --location ID ({location.hint})")
    account = Account(
        name=f"{platform.label} (command line)",
        platform=platform,
        auth=auth,
        base_url=args.base_url,
        location_id=args.location,
    )
    credentials = Credentials(token=token, secret=secret)
    register_secret(*credentials.secrets())
    return Connection(account, credentials)


def connection_for_account(
    name: str, *, secrets: Secrets | None = None, book: AccountBook | None = None
) -> Connection:
    """The saved account `name` with its secret from the keyring, opened with refreshing OAuth."""
    account = saved_account(name, book or AccountBook(settings_path()))
    secrets = secrets or shared_secrets()
    credentials = load_secret(secrets, account)

    def opener() -> Platform:
        return open_account(account, credentials, secrets)

    return Connection(account, credentials, opener=opener)


def load_secret(secrets: Secrets, account: Account) -> Credentials:
    """The saved account's secret from the keyring (registered for masking), or a usage error that
    says how to save it again."""
    try:
        credentials: Credentials | None = asyncio.run(secrets.load_async(account.name))
    except KeyringUnavailableError as exc:
        raise UsageError(f"the secret of {account.name!r} cannot be read: {exc}") from None
    if credentials is None:
        raise UsageError(
            f"no secret is saved for {account.name!r} in the keyring; add it again with "
            f"`{PROG} accounts add --replace --name {account.name!r} ...`"
        )
    register_secret(*credentials.secrets())
    return credentials


def saved_account(name: str, book: AccountBook) -> Account:
    """The saved account called `name`; a usage error naming the saved ones when there is none."""
    account = book.get(name)
    if account is None:
        raise UsageError(unknown_account(name, book))
    return account


def unknown_account(name: str, book: AccountBook) -> str:
    names = ", ".join(repr(a.name) for a in book.accounts())
    return f"no saved account is called {name!r}" + (
        f" (saved: {names})" if names else f"; add one with `{PROG} accounts add`"
    )


def secret_from(environ: Mapping[str, str], var: str, option: str) -> str:
    value = environ.get(var, "").strip()
    if not value:
        raise UsageError(
            f"{option} {var}: the environment variable {var} is not set or empty; "
            f"export {var}=... first (secrets are never taken as arguments)"
        )
    return value


@contextlib.contextmanager
def logging_to(stream: IO[str], verbose: bool) -> Iterator[None]:
    """Log lines on `stream` (warnings; every request with --verbose), masked like the log file."""
    handler = stream_handler(stream, verbose)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)  # the log file takes INFO too
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def open_journal() -> Journal:
    """The user's journal (`AUDIENCE_MANAGER_HOME` moves it, for tests and portable installs)."""
    return Journal(journal_path())


# --------------------------------------------------------------------------------------- progress


class ProgressLine:
    """rows done/total, rows/s, time left: rewritten in place on a terminal, every few seconds otherwise."""

    def __init__(self, stream: IO[str], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.clock = clock
        self.started = clock()
        self.last_written = self.started
        self.written = False

    def update(self, progress: Progress) -> None:
        now = self.clock()
        every = 0.2 if self.tty else PROGRESS_EVERY_SECONDS
        if now - self.last_written < every:
            return
        self.last_written = now
        line = format_progress(progress)
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.written = True

    def close(self) -> None:
        if self.tty and self.written:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def format_progress(p: Progress) -> str:
    return describe_progress(p)


# ------------------------------------------------------------------------------------------ runs


@dataclass
class JobResult:
    outcomes: list[RowOutcome]
    state: JobState
    reason: str


async def run_job(platform: Platform, spec: JobSpec, *, stderr: IO[str], **runner_options: Any) -> JobResult:
    """Run without a journal (the demo), with a progress line."""
    return await render(Runner(platform, spec, **runner_options), stderr)


async def render(run: JobRun | Runner, stderr: IO[str]) -> JobResult:
    """Consume a started job's events with a progress line on stderr; the first Ctrl+C (or SIGTERM)
    cancels cleanly: rows not sent end cancelled, in the journal too, and the report is written."""
    progress = ProgressLine(stderr)
    finished: JobFinished | None = None
    runner = run.runner if isinstance(run, JobRun) else run
    told = False
    with _cancel_on_interrupt(run, stderr):
        async for event in run.events():
            if isinstance(event, Progress):
                if runner.resolution is not None and not told:  # the way chosen and its cost, once
                    stderr.write(f"{runner.resolution.describe()}\n")
                    told = True
                progress.update(event)
            elif isinstance(event, JobFinished):
                finished = event
    progress.close()
    assert finished is not None
    return JobResult(run.outcomes(), finished.state, finished.reason)


async def run_journaled(
    journal: Journal,
    platform: Platform,
    account: Account,
    spec: JobSpec,
    *,
    stderr: IO[str],
    describe: str = "",
    **options: Any,
) -> tuple[str, JobResult]:
    """A new job through `jobs.workflows.start_job` (recorded before its first request, so it can be
    resumed, retried and undone), rendered. Says the job's id on stderr first: after a crash,
    `jobs resume ID` finishes it. `options` are `start_job`'s (`parent_id`, `kind`)."""
    run = start_job(journal, platform, account, spec, **options)
    return await render_run(run, stderr, describe=describe)


async def render_run(run: JobRun, stderr: IO[str], *, describe: str = "") -> tuple[str, JobResult]:
    """A recorded job (started, resumed, or one step of an undo) rendered, its id said first."""
    job_id = run.job_id or ""
    stderr.write(f"job {job_id} {describe or f'(see: {PROG} jobs show {job_id})'}\n")
    stderr.flush()
    return job_id, await render(run, stderr)


@contextlib.contextmanager
def _cancel_on_interrupt(run: JobRun | Runner, stderr: IO[str]) -> Iterator[None]:
    def say(what: str) -> None:
        stderr.write(
            f"\nCancelling ({what}): requests in flight finish, the rest are reported as cancelled...\n"
        )
        stderr.flush()

    with cancel_on_stop_signals(run.cancel, say):  # Ctrl+C, SIGTERM, SIGHUP
        yield


def exit_code(result: JobResult) -> int:
    if result.state is JobState.FAILED:
        return EXIT_USAGE
    bad = (Outcome.FAILED, Outcome.CANCELLED)
    return EXIT_ROWS_FAILED if any(o.outcome in bad for o in result.outcomes) else EXIT_OK


def print_summary(result: JobResult, out: IO[str], *, list_problems: bool = True) -> None:
    counts = {o: 0 for o in Outcome}
    for row in result.outcomes:
        counts[row.outcome] += 1
    parts = ", ".join(f"{n:,} {o.value}" for o, n in counts.items() if n)
    out.write(f"{len(result.outcomes):,} outcomes: {parts or 'nothing to do'}\n")
    fine = (Outcome.SUCCEEDED, Outcome.UNCHANGED)
    problems = [o for o in result.outcomes if o.outcome not in fine]
    for o in problems[:SHOWN_PROBLEMS] if list_problems else ():
        out.write(f"  row {o.row} {o.identifier} -> {o.target}: {o.outcome.value}: {o.reason}\n")
    if list_problems and len(problems) > SHOWN_PROBLEMS:
        out.write(f"  ... and {len(problems) - SHOWN_PROBLEMS:,} more (--report PATH lists every row)\n")
    if result.reason:
        out.write(f"Stopped: {result.reason}\n")


def check_report_path(path: str) -> None:
    """Before anything is sent: a report that cannot be written must not be found out after the job."""
    if path == "-":
        return
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"--report {path}: is a folder; give a file name")
    if not folder.is_dir():
        raise UsageError(f"--report {path}: the folder {folder} does not exist")
    if not os.access(target if target.exists() else folder, os.W_OK):
        raise UsageError(f"--report {path}: not allowed to write there")


def write_report_to(path: str, outcomes: Sequence[RowOutcome], stdout: IO[str]) -> None:
    if path == "-":
        write_report(cast(TextIO, stdout), outcomes)
        stdout.flush()
        return
    try:
        write_report(Path(path), outcomes)
    except OSError as exc:
        raise UsageError(f"--report {path}: cannot write the report ({exc.strerror or exc})") from exc


def finish(result: JobResult, report: str | None, outcomes: Sequence[RowOutcome], streams: Streams) -> int:
    """The report when asked (on stdout for `-`, the summary then on stderr), then the summary;
    a report that cannot be written still leaves the summary on screen."""
    summary_to = streams.stderr if report == "-" else streams.stdout
    if report:
        try:
            write_report_to(report, outcomes, streams.stdout)
        except UsageError:
            print_summary(result, summary_to)
            raise
    print_summary(result, summary_to)
    return exit_code(result)
