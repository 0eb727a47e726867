"""The same jobs as the app, headless: for scripts, for CI, and for checking the app from outside.

Exit codes (a script can rely on them):
  0  every row ended succeeded, unchanged or skipped (skipped rows, e.g. invalid input, are listed);
  1  some rows failed or were cancelled (Ctrl+C); the report is still complete;
  2  usage, authentication or connection errors (nothing sent, or the job stopped early).

Secrets come only from environment variables named on the command line (`--token-env VAR`), never
from arguments (they would show in `ps` and in shell history), and are masked in every message.
Nothing here imports Qt: the GUI is started from `__main__` only when no subcommand is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, TextIO, cast

from audience_manager import __version__
from audience_manager.api.errors import ApiError, AuthenticationError, GaveUpError
from audience_manager.api.redaction import known_secrets, redact, register_secret
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience
from audience_manager.core.audience_file import AudienceFileError, read_audience
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.core.platforms import AuthKind, Capabilities, PlatformKind
from audience_manager.core.report import write_report
from audience_manager.jobs.events import JobFinished, JobState, OutcomesReady, Progress
from audience_manager.jobs.runner import Runner
from audience_manager.jobs.signals import cancel_on_stop_signals
from audience_manager.logs import setup_logging

if TYPE_CHECKING:
    from audience_manager.api.platform import Platform

log = logging.getLogger("audience_manager.cli")

PROG = "audience-manager"
EXIT_OK, EXIT_ROWS_FAILED, EXIT_USAGE = 0, 1, 2
COMMANDS = ("apply", "list", "sandbox", "demo")
PROGRESS_EVERY_SECONDS = 5.0  # when stderr is not a terminal (a log file, CI)
SHOWN_PROBLEMS = 20  # rows listed on screen; the report has them all

# Which credential a platform takes when --auth is not given (Kit v4 has two, so it must be said).
DEFAULT_AUTH = {PlatformKind.KIT_V3: AuthKind.LEGACY_KEY, PlatformKind.HIGHLEVEL: AuthKind.PRIVATE_TOKEN}
ALLOWED_AUTH = {
    PlatformKind.KIT_V4: (AuthKind.OAUTH, AuthKind.API_KEY),
    PlatformKind.KIT_V3: (AuthKind.LEGACY_KEY,),
    PlatformKind.HIGHLEVEL: (AuthKind.PRIVATE_TOKEN,),
}
TARGET_WORDS = {TargetKind.TAG: "tag", TargetKind.FORM: "form", TargetKind.FIELD: "custom field"}
LIST_KINDS = {"tags": TargetKind.TAG, "forms": TargetKind.FORM, "fields": TargetKind.FIELD}


class UsageError(Exception):
    """The command line cannot be run as given; the message says what to change."""


# ------------------------------------------------------------------------------------------ parser


class _Parser(argparse.ArgumentParser):
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


def _connection_options() -> _Parser:
    common = _Parser(add_help=False)
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


def _verbose_option() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument("--verbose", "-v", action="store_true", help="log every request (secrets masked)")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Tag, untag, add to forms and set custom fields for many Kit or HighLevel subscribers. "
        "With no command, the desktop app starts.",
        epilog="Exit codes: 0 no row failed; 1 some rows failed or were cancelled (the report is complete); "
        "2 usage, authentication or connection error.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    verbose = _verbose_option()
    connection = _connection_options()
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    apply = commands.add_parser(
        "apply",
        parents=[connection, verbose],
        help="apply one action to every subscriber in a file or stdin",
        description="Apply one action to every identifier in INPUT and report every row's outcome.",
    )
    apply.add_argument("--action", required=True, choices=[a.value for a in Action])
    apply.add_argument(
        "--target", required=True, action="append", metavar="NAME_OR_ID", help="repeat for several"
    )
    apply.add_argument("--value", help="set-field: the value to write")
    apply.add_argument("--column", metavar="NAME_OR_INDEX", help="the file's column with the identifiers")
    apply.add_argument("--report", metavar="PATH", help="write every row's outcome as CSV (- for stdout)")
    apply.add_argument("input", metavar="INPUT", help="a .csv, .txt or .xlsx file, or - for stdin")

    listing = commands.add_parser(
        "list", parents=[connection, verbose], help="list the account's tags, forms or custom fields"
    )
    listing.add_argument("what", choices=list(LIST_KINDS))

    sandbox = commands.add_parser(
        "sandbox", parents=[verbose], help="serve the simulated platforms on 127.0.0.1 until Ctrl+C"
    )
    sandbox.add_argument("--port", type=int, default=8765, help="default: 8765; 0 picks any free port")

    commands.add_parser("demo", parents=[verbose], help="run a demo job on the built-in sandbox and print it")

    _add_extensions(commands, apply)
    return parser


def _add_extensions(commands: argparse._SubParsersAction[Any], apply: argparse.ArgumentParser) -> None:
    """Commands that live in their own modules: accounts, history/retry/undo, --dry-run, diagnose."""
    from audience_manager.cli_accounts import add_accounts_commands
    from audience_manager.cli_diagnose import add_diagnose_command
    from audience_manager.cli_jobs import add_dry_run_option, add_jobs_commands

    add_accounts_commands(commands)
    add_jobs_commands(commands)
    add_dry_run_option(apply)
    add_diagnose_command(commands)


def wants_cli(argv: Sequence[str]) -> bool:
    """True when the arguments name a command or ask for help/version; otherwise the GUI starts."""
    if any(a in ("-h", "--help", "--version") for a in argv):
        return True
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is None:
        return False
    commands = _command_names()
    if first in commands:
        return True
    # `audience-manager aply ...` is a typo to report, not a reason to open a window. Only the first
    # argument counts: a later one may be the value of a Qt option (`-platform offscreen`).
    return argv[0] == first and bool(difflib.get_close_matches(first, commands, n=1, cutoff=0.75))


def _command_names() -> set[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set(COMMANDS)


# --------------------------------------------------------------------------------------- secrets


@dataclass(frozen=True)
class Connection:
    account: Account
    credentials: Credentials
    # A saved account opens through the store (its OAuth token refreshes and is saved back).
    opener: Callable[[], Platform] | None = None


def read_connection(args: argparse.Namespace, environ: Mapping[str, str]) -> Connection:
    if getattr(args, "account", None):
        from audience_manager.cli_accounts import check_account_option, connection_for_account

        check_account_option(args)
        return connection_for_account(args.account)
    if not args.platform or not args.token_env:
        raise UsageError("give --account NAME (a saved account), or --platform with --token-env VAR")
    platform = PlatformKind(args.platform)
    auth = AuthKind(args.auth) if args.auth else DEFAULT_AUTH.get(platform)
    if auth is None:
        raise UsageError(f"--platform {platform} needs --auth oauth or --auth api-key")
    if auth not in ALLOWED_AUTH[platform]:
        allowed = " or ".join(a.value for a in ALLOWED_AUTH[platform])
        raise UsageError(f"--platform {platform} takes --auth {allowed}, not {auth}")
    token = _secret_from(environ, args.token_env, "--token-env")
    secret = ""
    if platform is PlatformKind.KIT_V3:
        if not args.secret_env:
            raise UsageError("--platform kit-v3 needs --secret-env VAR (the api_secret, for untag)")
        secret = _secret_from(environ, args.secret_env, "--secret-env")
    if platform is PlatformKind.HIGHLEVEL and not args.location:
        raise UsageError("--platform highlevel needs --location ID (the sub-account's location id)")
    account = Account(
        name=f"{platform.label} (command line)",
        platform=platform,
        auth=auth,
        base_url=args.base_url,
        location_id=args.location,
    )
    return Connection(account, Credentials(token=token, secret=secret))


def _secret_from(environ: Mapping[str, str], var: str, option: str) -> str:
    value = environ.get(var, "").strip()
    if not value:
        raise UsageError(
            f"{option} {var}: the environment variable {var} is not set or empty; "
            f"export {var}=... first (secrets are never taken as arguments)"
        )
    return value


class RedactingFilter(logging.Filter):
    """Masks every secret the process was given (`api.redaction`'s registry) in every log line,
    whatever logged it, traceback included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = redact(message, known_secrets()), None
        return True


@contextlib.contextmanager
def _logging(verbose: bool, secrets: Sequence[str], stream: IO[str]) -> Iterator[None]:
    register_secret(*secrets)
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)  # the log file takes INFO too
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


# ------------------------------------------------------------------------------------- platforms


async def _open(connection: Connection) -> Platform:
    from audience_manager.api.clients import open_platform

    if connection.opener is not None:
        return connection.opener()
    return open_platform(connection.account, connection.credentials)


def check_action(action: Action, capabilities: Capabilities, platform: PlatformKind) -> None:
    why = capabilities.why_not(action)
    if why is not None:
        raise UsageError(f"{platform.label} cannot {action.label.lower()}: {why}")


def match_targets(wanted: Sequence[str], available: Sequence[Target], kind: TargetKind) -> tuple[Target, ...]:
    """Each NAME_OR_ID as an id, else as a name (case-insensitive); unknown ones listed with close matches."""
    by_id = {t.id: t for t in available}
    by_name: dict[str, Target] = {}
    for t in available:
        by_name.setdefault(t.name.casefold(), t)
        if t.key:
            by_name.setdefault(t.key.casefold(), t)
    found: list[Target] = []
    unknown: list[str] = []
    for text in wanted:
        target = by_id.get(text.strip()) or by_name.get(text.strip().casefold())
        if target is None:
            unknown.append(text)
        elif target not in found:
            found.append(target)
    if unknown:
        word = TARGET_WORDS[kind]
        names = [t.name for t in available]
        lines = []
        for text in unknown:
            close = difflib.get_close_matches(text, names, n=5, cutoff=0.5)
            contains = [n for n in names if text.casefold() in n.casefold() and n not in close]
            close += contains[: 5 - len(close)]
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            lines.append(f"no {word} named or numbered {text!r}.{hint}")
        more = f" (see: {PROG} list {kind.value}s)"
        raise UsageError("; ".join(lines) + more)
    return tuple(found)


# ------------------------------------------------------------------------------------------ input


def read_input(source: str, column: str | None, accepted: frozenset[IdentifierKind]) -> Audience:
    from audience_manager.core.audience_file import read_audience_stream

    if source == "-":  # the same checks as a file (binary, encodings, size): core reads both
        return read_audience_stream(sys.stdin.buffer, column, accepted=accepted)
    return read_audience(Path(source), column, accepted=accepted)


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
    left = "" if p.seconds_left is None else f", {format_duration(p.seconds_left)} left"
    what = "looking up emails: " if p.state is JobState.RESOLVING else ""
    return (
        f"{what}{p.done:,}/{p.total:,} rows ({p.failed:,} failed, {p.skipped:,} skipped), "
        f"{p.rows_per_second:,.0f} rows/s{left}"
    )


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# ------------------------------------------------------------------------------------------ runs


@dataclass
class JobResult:
    outcomes: list[RowOutcome]
    state: JobState
    reason: str


async def run_job(platform: Platform, spec: JobSpec, *, stderr: IO[str], **runner_options: Any) -> JobResult:
    """Run with a progress line; the first Ctrl+C cancels cleanly (the report is still written)."""
    runner = Runner(platform, spec, **runner_options)
    progress = ProgressLine(stderr)
    outcomes: list[RowOutcome] = []
    finished: JobFinished | None = None
    with _cancel_on_interrupt(runner, stderr):
        async for event in runner.events():
            if isinstance(event, OutcomesReady):
                outcomes.extend(event.outcomes)
            elif isinstance(event, Progress):
                progress.update(event)
            elif isinstance(event, JobFinished):
                finished = event
    progress.close()
    assert finished is not None
    return JobResult(runner.outcomes(), finished.state, finished.reason)


@contextlib.contextmanager
def _cancel_on_interrupt(runner: Runner, stderr: IO[str]) -> Iterator[None]:
    def say(what: str) -> None:
        stderr.write(
            f"\nCancelling ({what}): requests in flight finish, the rest are reported as cancelled...\n"
        )
        stderr.flush()

    with cancel_on_stop_signals(runner.cancel, say):  # Ctrl+C, SIGTERM, SIGHUP
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


def print_outcomes(outcomes: Sequence[RowOutcome], out: IO[str]) -> None:
    for o in outcomes:
        reason = f"  {o.reason}" if o.reason else ""
        out.write(f"{o.row:>5}  {o.identifier:<32} {o.target:<24} {o.outcome.value:<10}{reason}\n")


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


# ------------------------------------------------------------------------------------- commands


async def _apply(args: argparse.Namespace, connection: Connection, stdout: IO[str], stderr: IO[str]) -> int:
    action = Action(args.action)
    if action is Action.SET_FIELD and args.value is None:
        raise UsageError("--action set-field needs --value TEXT")
    if action is not Action.SET_FIELD and args.value is not None:
        raise UsageError(f"--value is only for --action set-field, not {action}")
    platform = await _open(connection)
    try:
        kind = connection.account.platform
        capabilities = platform.capabilities
        check_action(action, capabilities, kind)
        if args.report:
            check_report_path(args.report)
        accepted = frozenset(capabilities.identifiers | {IdentifierKind.EMAIL})
        audience = read_input(args.input, args.column, accepted)
        available = await platform.list_targets(action.target_kind)
        targets = match_targets(args.target, available, action.target_kind)
        spec = JobSpec(connection.account.name, action, targets, audience, value=args.value)
        for note in audience.notes:
            stderr.write(f"note: {note}\n")
        dry_run = _dry_run_hook(args)
        if dry_run is not None:
            return int(await dry_run(platform, spec, stdout=stdout, stderr=stderr))
        from audience_manager.cli_jobs import run_journaled  # journals every row: resume, retry, undo

        result = await run_journaled(platform, spec, connection.account, stderr=stderr)
    finally:
        await platform.aclose()
    summary_to = stderr if args.report == "-" else stdout
    if args.report:
        try:
            write_report_to(args.report, result.outcomes, stdout)
        except UsageError:
            print_summary(result, summary_to)  # the outcomes are at least on screen
            raise
    print_summary(result, summary_to)
    return exit_code(result)


def _dry_run_hook(args: argparse.Namespace) -> Callable[..., Any] | None:
    if not getattr(args, "dry_run", False):
        return None
    from audience_manager.cli_jobs import dry_run

    return dry_run


async def _list(args: argparse.Namespace, connection: Connection, stdout: IO[str]) -> int:
    kind = LIST_KINDS[args.what]
    platform = await _open(connection)
    try:
        targets = await platform.list_targets(kind)
    finally:
        await platform.aclose()
    for t in targets:
        extra = f"\t{t.key}" if kind is TargetKind.FIELD else ""
        stdout.write(f"{t.id}\t{t.name}{extra}\n")
    return EXIT_OK


def _sandbox(args: argparse.Namespace, stdout: IO[str]) -> int:
    from audience_manager.sandbox import Sandbox
    from audience_manager.sandbox.server import run_forever

    with contextlib.suppress(KeyboardInterrupt):
        run_forever(Sandbox(), port=args.port, out=stdout)  # type: ignore[arg-type]
    return EXIT_OK


async def _demo(stdout: IO[str], stderr: IO[str]) -> int:
    """Tag a few subscribers of the built-in simulated Kit account: some exist, some do not, one line
    is not an id and one is repeated, so every kind of outcome shows."""
    from audience_manager.api.clients import open_platform
    from audience_manager.core.paste import parse_text
    from audience_manager.sandbox.demo import demo_workspace

    workspace = demo_workspace()
    account, credentials = workspace.accounts[0]
    sb = workspace.sandbox
    ids = [str(i) for i in sb.known_subscriber_ids(8) + sb.unknown_subscriber_ids(2)]
    text = "\n".join([*ids, "not-an-id", ids[0]])
    platform = open_platform(account, credentials, transport=workspace.transport)
    try:
        accepted = frozenset(platform.capabilities.identifiers | {IdentifierKind.EMAIL})
        audience = parse_text(text, accepted, source="demo list")
        tags = await platform.list_targets(TargetKind.TAG)
        if not tags:
            raise UsageError("the demo account has no tags")
        spec = JobSpec(account=account.name, action=Action.TAG, targets=(tags[0],), audience=audience)
        stdout.write(
            f"Demo: {Action.TAG.label.lower()} {audience.total} rows with {tags[0]!s} on {account.name!r}"
            " (simulated; nothing leaves this computer)\n"
        )
        result = await run_job(platform, spec, stderr=stderr)
    finally:
        await platform.aclose()
    print_outcomes(result.outcomes, stdout)
    print_summary(result, stdout, list_problems=False)
    # Failed rows are part of the show (unknown ids); only a job that could not run is an error.
    return EXIT_USAGE if result.state is JobState.FAILED else EXIT_OK


# ------------------------------------------------------------------------------------------ main


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    environ: dict[str, str] | None = None,
) -> int:
    """Run one command and return its exit code; never lets a traceback reach the user."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    env = os.environ if environ is None else environ
    argv = list(sys.argv[1:] if argv is None else argv)
    secrets: list[str] = []
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exit_:  # --help and --version print and exit 0 through argparse
            return int(exit_.code or 0)
        if args.command is None:
            raise UsageError(f"choose a command ({', '.join(sorted(_command_names()))}), or run without one")
        setup_logging(getattr(args, "verbose", False))  # the log file: secrets and emails masked
        connection = None
        if hasattr(args, "token_env"):
            connection = read_connection(args, env)
            secrets = list(connection.credentials.secrets())
        with _logging(getattr(args, "verbose", False), secrets, stderr):
            return _dispatch(args, connection, stdout, stderr)
    except (UsageError, AudienceFileError) as exc:
        _fail(stderr, str(exc), secrets)
    except AuthenticationError as exc:
        _fail(
            stderr,
            f"the platform refused the credential: {str(exc).rstrip('.')}. Check --token-env and --auth",
            secrets,
        )
    except GaveUpError as exc:
        _fail(stderr, exc.reason, secrets)
    except ApiError as exc:
        _fail(stderr, str(exc), secrets)
    except KeyboardInterrupt:
        _fail(stderr, "interrupted", secrets)
    except Exception as exc:  # a clear line instead of a traceback; --verbose logs the details
        log.debug("Unexpected error", exc_info=True)
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        _fail(stderr, _describe_error(exc, message), secrets)
    return EXIT_USAGE


def _describe_error(exc: Exception, message: str) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    known = isinstance(exc, ValueError)  # InsecureURLError, UnsupportedPlatformError: written for users
    return message if known else f"unexpected error ({type(exc).__name__}: {message}); run with --verbose"


def _fail(stderr: IO[str], message: str, secrets: Sequence[str]) -> None:
    stderr.write(f"{PROG}: error: {redact(message, secrets)}\n")
    stderr.flush()


def _dispatch(
    args: argparse.Namespace, connection: Connection | None, stdout: IO[str], stderr: IO[str]
) -> int:
    command = args.command
    if command == "apply":
        assert connection is not None
        return asyncio.run(_apply(args, connection, stdout, stderr))
    if command == "list":
        assert connection is not None
        return asyncio.run(_list(args, connection, stdout))
    if command == "sandbox":
        return _sandbox(args, stdout)
    if command == "demo":
        return asyncio.run(_demo(stdout, stderr))
    handler = getattr(args, "handler", None)
    if handler is not None:  # commands added by extensions carry their own handler
        # The streams main() was given, for handlers that write (tests pass StringIO).
        args.stdout, args.stderr = stdout, stderr
        return int(handler(args))
    raise UsageError(f"unknown command {command}")
