"""`audience-manager apply`: one action for every subscriber in a file or on stdin, journaled (so it
can be resumed, retried and undone), or only previewed with `--dry-run`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from audience_manager.api.platform import MEMBER_STATUSES, Platform
from audience_manager.cli.common import (
    EXIT_OK,
    PROG,
    Connection,
    Streams,
    Subcommands,
    UsageError,
    check_report_path,
    connection_options,
    finish,
    open_journal,
    read_connection,
    run_journaled,
    verbose_option,
)
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience
from audience_manager.core.audience_file import read_audience
from audience_manager.core.audience_query import AudienceQuery, QueryError, Source, SourceKind
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import BlankCells, JobSpec
from audience_manager.core.platforms import Capabilities, PlatformKind
from audience_manager.jobs import workflows
from audience_manager.jobs.platform_audience import (
    AudienceReadCancelled,
    ReadProgress,
    UnknownSourceError,
    find_targets,
    read_platform_audience,
)

TARGET_WORDS = {TargetKind.TAG: "tag", TargetKind.FORM: "form", TargetKind.FIELD: "custom field"}


def add_command(commands: Subcommands) -> None:
    apply = commands.add_parser(
        "apply",
        parents=[connection_options(), verbose_option()],
        help="apply one action to every subscriber in a file or stdin",
        description="Apply one action to every identifier in INPUT and report every row's outcome.",
    )
    apply.add_argument("--action", required=True, choices=[a.value for a in Action])
    apply.add_argument(
        "--target", action="append", default=[], metavar="NAME_OR_ID", help="repeat for several"
    )
    apply.add_argument("--value", help="set-field: the value to write (the same for every row)")
    apply.add_argument(
        "--all-tags",
        action="store_true",
        help="with --action untag on HighLevel: remove every tag each contact has (undo puts them back)",
    )
    apply.add_argument(
        "--confirm",
        type=int,
        metavar="COUNT",
        help="with --all-tags: the number of people, as said by a run without it (a safeguard)",
    )
    apply.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="set-field: write each row's own cell of the file's COLUMN to FIELD (repeat for several)",
    )
    apply.add_argument(
        "--blank",
        choices=[b.value for b in BlankCells],
        default=BlankCells.SKIP.value,
        help="set-field with --field: a blank cell leaves the field as it is (skip, default) or clears it",
    )
    apply.add_argument(
        "--create-missing",
        action="store_true",
        help="tag, add-to-form, set-field with emails: create the people who are not there yet, then apply",
    )
    apply.add_argument(
        "--first-name-column",
        metavar="COLUMN",
        help="with --create-missing: the file's column with the first names of the people created",
    )
    apply.add_argument("--column", metavar="NAME_OR_INDEX", help="the file's column with the identifiers")
    apply.add_argument("--report", metavar="PATH", help="write every row's outcome as CSV (- for stdout)")
    apply.add_argument(
        "--dry-run",
        action="store_true",
        help="preview: look subscribers up and read their current state; change nothing",
    )
    apply.add_argument(
        "input", metavar="INPUT", nargs="?", help="a .csv, .txt or .xlsx file, or - for stdin (or --from)"
    )
    audience = apply.add_argument_group(
        "an audience from the platform (instead of INPUT)",
        "SOURCE is tag:NAME, form:NAME or a file path. Everyone in any --from, minus everyone in any "
        "--except, kept only if also in every --only-in; the count is printed before anything is sent.",
    )
    audience.add_argument(
        "--from",
        dest="sources",
        action="append",
        default=[],
        metavar="SOURCE",
        help="repeat for several (union)",
    )
    audience.add_argument(
        "--except",
        dest="excluded",
        action="append",
        default=[],
        metavar="SOURCE",
        help="leave these people out",
    )
    audience.add_argument(
        "--only-in",
        dest="only_in",
        action="append",
        default=[],
        metavar="SOURCE",
        help="keep only people also here",
    )
    audience.add_argument(
        "--status",
        default="active",
        choices=MEMBER_STATUSES,
        help="which subscribers a tag or form lists (Kit; default: active)",
    )
    apply.set_defaults(handler=handle)


def handle(args: argparse.Namespace, streams: Streams) -> int:
    # Before the event loop: a saved account's secret is read from the keyring with its own.
    connection = read_connection(args, streams.environ)
    return asyncio.run(apply(args, connection, streams))


async def apply(args: argparse.Namespace, connection: Connection, streams: Streams) -> int:
    action = Action(args.action)
    mapping = parse_fields(args.field)
    if mapping and action is not Action.SET_FIELD:
        raise UsageError(f"--field is only for --action set-field, not {action}")
    if mapping and (args.value is not None or args.target):
        raise UsageError(
            "--field FIELD=COLUMN sets each row's own value: use it without --target and --value"
        )
    if not mapping and not args.target and not args.all_tags:
        raise UsageError(
            "choose at least one --target"
            + (" (or --field FIELD=COLUMN)" if action is Action.SET_FIELD else "")
        )
    if action is Action.SET_FIELD and args.value is None and not mapping:
        raise UsageError(
            "--action set-field needs --value TEXT, or --field FIELD=COLUMN for each row's own value"
        )
    if action is not Action.SET_FIELD and args.value is not None:
        raise UsageError(f"--value is only for --action set-field, not {action}")
    if args.all_tags and (action is not Action.UNTAG or args.target):
        raise UsageError("--all-tags goes with --action untag and no --target")
    if args.create_missing and action is Action.UNTAG:
        raise UsageError("--create-missing is for tag, add-to-form and set-field (untag creates no one)")
    if args.first_name_column and not args.create_missing:
        raise UsageError(
            "--first-name-column names the first names of the people created: add --create-missing"
        )
    stdout, stderr = streams.stdout, streams.stderr
    platform = connection.open()
    try:
        capabilities = platform.capabilities
        check_action(action, capabilities, connection.account.platform)
        if args.all_tags and not capabilities.can_remove_all_tags:
            raise UsageError(f"{connection.account.platform.label} cannot remove all tags at once")
        if args.create_missing and not capabilities.can_create:
            raise UsageError(
                f"{connection.account.platform.label} cannot create people: {capabilities.cannot_create}"
            )
        if args.report:
            check_report_path(args.report)
        accepted = frozenset(capabilities.identifiers | {IdentifierKind.EMAIL})
        query = audience_query(args)
        if action is Action.MOVE_TAG:
            check_move(args, query)
        columns = [column for _name, column in mapping]
        if args.first_name_column and args.first_name_column not in columns:
            columns.append(args.first_name_column)
        if query is None:
            audience = read_input(args.input, args.column, accepted, columns)
        else:
            audience = await read_query(platform, query, args, accepted, stderr)
        available: list[Target] = []
        if args.all_tags:
            targets: tuple[Target, ...] = ()
        else:
            available = await platform.list_targets(action.target_kind)
            wanted = args.target or [name for name, _c in mapping]
            targets = match_targets(wanted, available, action.target_kind)
        fields = (
            tuple((t.id, column) for t, (_n, column) in zip(targets, mapping, strict=True)) if mapping else ()
        )
        move_from = None
        if action is Action.MOVE_TAG and query is not None:
            (move_from,) = match_targets([query.sources[0].name], available, TargetKind.TAG)
            if move_from.id == targets[0].id:
                raise UsageError(f"--from tag:{move_from} and --target {targets[0]} are the same tag")
        spec = JobSpec(
            connection.account.name,
            action,
            targets,
            audience,
            value=args.value,
            remove_all_tags=args.all_tags,
            move_from=move_from,
            fields=fields,
            blank=BlankCells(args.blank),
            create_missing=bool(args.create_missing),
            first_name_column=args.first_name_column,
        )
        if args.all_tags and not args.dry_run and args.confirm != len(audience.rows):
            n = len(audience.rows)
            said = "" if args.confirm is None else f" (--confirm {args.confirm} does not match)"
            raise UsageError(
                f"this removes every tag from {n:,} {connection.account.platform.label} contacts{said};"
                f" to go ahead, run again with --confirm {n}"
            )
        for note in audience.notes:
            stderr.write(f"note: {note}\n")
        if args.dry_run:  # nothing is written to the platform, and no job to the journal
            with open_journal() as journal:  # its directory of looked-up emails prices as the run will
                report = await workflows.preview_job(journal, platform, connection.account, spec)
            stdout.write(report.summary() + "\n")
            return EXIT_OK
        with open_journal() as journal:
            for record in journal.interrupted_jobs()[:3]:
                stderr.write(
                    f"note: job {record.id} ({record.action.label}, {record.total} rows) was interrupted;"
                    f" finish it with: {PROG} jobs resume {record.id}\n"
                )
            _job_id, result = await run_journaled(journal, platform, connection.account, spec, stderr=stderr)
    finally:
        await platform.aclose()
    return finish(result, args.report, result.outcomes, streams)


def audience_query(args: argparse.Namespace) -> AudienceQuery | None:
    """The --from/--except/--only-in audience, or None for INPUT; exactly one of the two."""
    if not args.sources:
        if args.excluded or args.only_in:
            raise UsageError("--except and --only-in need --from SOURCE")
        if args.input is None:
            raise UsageError("give INPUT (a file, or - for stdin) or --from tag:NAME")
        return None
    if args.input is not None:
        raise UsageError(f"give INPUT ({args.input}) or --from, not both")
    try:
        return AudienceQuery(
            tuple(Source.parse(t) for t in args.sources),
            tuple(Source.parse(t) for t in args.excluded),
            tuple(Source.parse(t) for t in args.only_in),
        )
    except QueryError as exc:
        raise UsageError(str(exc)) from None


async def read_query(
    platform: Platform,
    query: AudienceQuery,
    args: argparse.Namespace,
    accepted: frozenset[IdentifierKind],
    stderr: IO[str],
) -> Audience:
    """Read the tags' and forms' members (progress on stderr, Ctrl+C stops) and say the count."""
    for source in query.all_sources:
        if source.kind is SourceKind.FILE and source.name != "-" and not Path(source.name).is_file():
            raise UsageError(f"{source.name}: no such file")
    try:
        targets = await find_targets(platform, query)
    except UnknownSourceError as exc:
        lines = []
        for source in exc.unknown:
            kind = TargetKind.TAG if source.kind is SourceKind.TAG else TargetKind.FORM
            names = [t.name for t in exc.available.get(kind, [])]
            close = difflib.get_close_matches(source.name, names, n=5, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            lines.append(f"no {TARGET_WORDS[kind]} named or numbered {source.name!r}.{hint}")
        raise UsageError("; ".join(lines)) from None
    stop = asyncio.Event()
    last = [0.0]

    def said(p: ReadProgress) -> None:
        now = time.monotonic()
        if now - last[0] >= 2:
            last[0] = now
            stderr.write(p.describe() + "\n")
            stderr.flush()

    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        result = await read_platform_audience(
            platform,
            query,
            status=args.status,
            read_file=lambda path: read_input(path, args.column, accepted),
            progress=said,
            stop=stop,
            targets=targets,
        )
    except AudienceReadCancelled:
        raise UsageError("stopped while reading the audience; nothing was sent") from None
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
    stderr.write(f"audience: {result.describe()}\n")
    stderr.flush()
    return result.audience


def check_move(args: argparse.Namespace, query: AudienceQuery | None) -> None:
    """`--action move-tag --from tag:OLD --target NEW`: one tag to move from, one to move to."""
    if query is None or len(query.sources) != 1 or query.sources[0].kind is not SourceKind.TAG:
        raise UsageError("--action move-tag moves the members of one tag: give --from tag:OLD once")
    if len(args.target) != 1:
        raise UsageError("--action move-tag takes one --target (the new tag)")
    if args.dry_run:
        raise UsageError("--dry-run does not preview a move yet; run it, and undo it if need be")


def parse_fields(texts: Sequence[str]) -> list[tuple[str, str]]:
    """`--field "Company=company"`: (field name or id, file column) pairs, each field once."""
    pairs: list[tuple[str, str]] = []
    for text in texts:
        name, equals, column = text.partition("=")
        if not equals or not name.strip() or not column.strip():
            raise UsageError(f'--field {text!r}: write it as FIELD=COLUMN, e.g. --field "Company=company"')
        if any(name.strip().casefold() == n.casefold() for n, _c in pairs):
            raise UsageError(f"--field {name.strip()!r} is given twice")
        pairs.append((name.strip(), column.strip()))
    return pairs


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


def read_input(
    source: str, column: str | None, accepted: frozenset[IdentifierKind], values: Sequence[str] = ()
) -> Audience:
    from audience_manager.core.audience_file import read_audience_stream

    if source == "-":  # the same checks as a file (binary, encodings, size): core reads both
        return read_audience_stream(sys.stdin.buffer, column, accepted=accepted, value_columns=values)
    return read_audience(Path(source), column, accepted=accepted, value_columns=values)
