"""`audience-manager sandbox` (the simulated platforms on 127.0.0.1) and `audience-manager demo` (a
job on the built-in sandbox, its outcomes printed): trying the app with nothing leaving the computer."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence
from typing import IO

from audience_manager.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    Streams,
    Subcommands,
    UsageError,
    print_summary,
    run_job,
    verbose_option,
)
from audience_manager.core.actions import Action, TargetKind
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import RowOutcome
from audience_manager.jobs.events import JobState


def add_commands(commands: Subcommands) -> None:
    sandbox = commands.add_parser(
        "sandbox", parents=[verbose_option()], help="serve the simulated platforms on 127.0.0.1 until Ctrl+C"
    )
    sandbox.add_argument("--port", type=int, default=8765, help="default: 8765; 0 picks any free port")
    sandbox.set_defaults(handler=serve)
    demo = commands.add_parser(
        "demo", parents=[verbose_option()], help="run a demo job on the built-in sandbox and print it"
    )
    demo.set_defaults(handler=lambda _args, streams: asyncio.run(run_demo(streams)))


def serve(args: argparse.Namespace, streams: Streams) -> int:
    from audience_manager.sandbox import Sandbox
    from audience_manager.sandbox.server import run_forever

    with contextlib.suppress(KeyboardInterrupt):
        run_forever(Sandbox(), port=args.port, out=streams.stdout)  # type: ignore[arg-type]
    return EXIT_OK


async def run_demo(streams: Streams) -> int:
    """Tag a few subscribers of the built-in simulated Kit account: some exist, some do not, one line
    is not an id and one is repeated, so every kind of outcome shows."""
    from audience_manager.api.clients import open_platform
    from audience_manager.core.paste import parse_text
    from audience_manager.sandbox.demo import demo_workspace

    stdout = streams.stdout
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
        result = await run_job(platform, spec, stderr=streams.stderr)
    finally:
        await platform.aclose()
    print_outcomes(result.outcomes, stdout)
    print_summary(result, stdout, list_problems=False)
    # Failed rows are part of the show (unknown ids); only a job that could not run is an error.
    return EXIT_USAGE if result.state is JobState.FAILED else EXIT_OK


def print_outcomes(outcomes: Sequence[RowOutcome], out: IO[str]) -> None:
    for o in outcomes:
        reason = f"  {o.reason}" if o.reason else ""
        out.write(f"{o.row:>5}  {o.identifier:<32} {o.target:<24} {o.outcome.value:<10}{reason}\n")
