"""`audience-manager list tags|forms|fields`: the account's targets, one a line, id first."""

from __future__ import annotations

import argparse
import asyncio

from audience_manager.cli.common import (
    EXIT_OK,
    Connection,
    Streams,
    Subcommands,
    connection_options,
    read_connection,
    verbose_option,
)
from audience_manager.core.actions import TargetKind

LIST_KINDS = {"tags": TargetKind.TAG, "forms": TargetKind.FORM, "fields": TargetKind.FIELD}


def add_command(commands: Subcommands) -> None:
    listing = commands.add_parser(
        "list",
        parents=[connection_options(), verbose_option()],
        help="list the account's tags, forms or custom fields",
    )
    listing.add_argument("what", choices=list(LIST_KINDS))
    listing.set_defaults(handler=handle)


def handle(args: argparse.Namespace, streams: Streams) -> int:
    # Before the event loop: a saved account's secret is read from the keyring with its own.
    connection = read_connection(args, streams.environ)
    return asyncio.run(list_targets(args, connection, streams))


async def list_targets(args: argparse.Namespace, connection: Connection, streams: Streams) -> int:
    kind = LIST_KINDS[args.what]
    platform = connection.open()
    try:
        targets = await platform.list_targets(kind)
    finally:
        await platform.aclose()
    for t in targets:
        extra = f"\t{t.key}" if kind is TargetKind.FIELD else ""
        streams.stdout.write(f"{t.id}\t{t.name}{extra}\n")
    return EXIT_OK
