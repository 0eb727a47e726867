"""The same jobs as the app, headless: for scripts, for CI, and for checking the app from outside.

Exit codes (a script can rely on them):
  0  every row ended succeeded, unchanged or skipped (skipped rows, e.g. invalid input, are listed);
  1  some rows failed or were cancelled (Ctrl+C); the report is still complete;
  2  usage, authentication or connection errors (nothing sent, or the job stopped early).

Secrets come only from environment variables named on the command line (`--token-env VAR`), never
from arguments (they would show in `ps` and in shell history), and are masked in every message.
Nothing here imports Qt: the GUI is started from `__main__` only when no subcommand is given.

One module a command group (`apply`, `listing`, `jobs`, `accounts`, `diagnose`, `directory`, `demo`), each
adding its parser with a handler; what they share is in `common`. They never import each other.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
from collections.abc import Sequence
from typing import IO

from audience_manager import __version__
from audience_manager.api.errors import ApiError, AuthenticationError, GaveUpError
from audience_manager.api.redaction import known_secrets, redact
from audience_manager.cli import accounts, apply, demo, diagnose, directory, jobs, listing
from audience_manager.cli.common import EXIT_USAGE, PROG, Handler, Parser, Streams, UsageError, logging_to
from audience_manager.core.audience_file import AudienceFileError
from audience_manager.logs import setup_logging

__all__ = ["build_parser", "main", "wants_cli"]

log = logging.getLogger("audience_manager.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="Tag, untag, add to forms and set custom fields for many Kit or HighLevel subscribers. "
        "With no command, the desktop app starts.",
        epilog="Exit codes: 0 no row failed; 1 some rows failed or were cancelled (the report is complete); "
        "2 usage, authentication or connection error.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    apply.add_command(commands)
    listing.add_command(commands)
    demo.add_commands(commands)
    accounts.add_command(commands)
    jobs.add_command(commands)
    diagnose.add_command(commands)
    directory.add_command(commands)
    return parser


def command_names() -> list[str]:
    parser = build_parser()
    return [
        name
        for action in parser._actions  # argparse keeps its subcommands here, privately
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    ]


def wants_cli(argv: Sequence[str]) -> bool:
    """True when the arguments name a command or ask for help/version; otherwise the GUI starts."""
    if any(a in ("-h", "--help", "--version") for a in argv):
        return True
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is None:
        return False
    commands = command_names()
    if first in commands:
        return True
    # `audience-manager aply ...` is a typo to report, not a reason to open a window. Only the first
    # argument counts: a later one may be the value of a Qt option (`-platform offscreen`).
    return argv[0] == first and bool(difflib.get_close_matches(first, commands, n=1, cutoff=0.75))


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    environ: dict[str, str] | None = None,
) -> int:
    """Run one command and return its exit code; never lets a traceback reach the user."""
    streams = Streams(stdout or sys.stdout, stderr or sys.stderr, os.environ if environ is None else environ)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exit_:  # --help and --version print and exit 0 through argparse
            return int(exit_.code or 0)
        if args.command is None:
            raise UsageError(f"choose a command ({', '.join(sorted(command_names()))}), or run without one")
        verbose = bool(getattr(args, "verbose", False))
        setup_logging(verbose)  # the log file: secrets and emails masked
        handler: Handler = args.handler
        with logging_to(streams.stderr, verbose):
            return int(handler(args, streams))
    except (UsageError, AudienceFileError) as exc:
        _fail(streams.stderr, str(exc))
    except AuthenticationError as exc:
        refused = str(exc).rstrip(".")
        _fail(streams.stderr, f"the platform refused the credential: {refused}. Check --token-env and --auth")
    except GaveUpError as exc:
        _fail(streams.stderr, exc.reason)
    except ApiError as exc:
        _fail(streams.stderr, str(exc))
    except KeyboardInterrupt:
        _fail(streams.stderr, "interrupted")
    except Exception as exc:  # a clear line instead of a traceback; --verbose logs the details
        log.debug("Unexpected error", exc_info=True)
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        _fail(streams.stderr, _describe_error(exc, message))
    return EXIT_USAGE


def _describe_error(exc: Exception, message: str) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    known = isinstance(exc, ValueError)  # InsecureURLError, UnsupportedPlatformError: written for users
    return message if known else f"unexpected error ({type(exc).__name__}: {message}); run with --verbose"


def _fail(stderr: IO[str], message: str) -> None:
    stderr.write(f"{PROG}: error: {redact(message, known_secrets())}\n")
    stderr.flush()
