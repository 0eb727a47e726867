"""`audience-manager directory clear [--account NAME]`: forget the emails looked up before.

Each job keeps the email -> id answers it got (`jobs.directory`), so the next job on the same list
sends no lookups; this forgets them, for one account or for all.
"""

from __future__ import annotations

import argparse

from audience_manager.cli.common import EXIT_OK, Streams, Subcommands
from audience_manager.jobs.directory import clear_directory
from audience_manager.store.paths import journal_path


def add_command(commands: Subcommands) -> None:
    directory = commands.add_parser(
        "directory",
        help="the emails looked up before (kept so the next job on the same list sends no lookups)",
        description="The email -> id answers kept from earlier jobs, in the journal.",
    )
    actions = directory.add_subparsers(dest="directory_command", metavar="COMMAND", required=True)
    clear = actions.add_parser("clear", help="forget the looked-up emails (of one account, or of all)")
    clear.add_argument(
        "--account", metavar="NAME", help="only this saved account's (default: every account's)"
    )
    clear.set_defaults(handler=_clear)


def _clear(args: argparse.Namespace, streams: Streams) -> int:
    forgotten = clear_directory(journal_path(), args.account)
    whose = f"account {args.account!r}" if args.account else "every account"
    streams.stdout.write(f"Forgot {forgotten:,} looked-up emails of {whose}.\n")
    return EXIT_OK
