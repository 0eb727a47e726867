"""`audience-manager jobs ...`: past jobs from the journal, headless.

  jobs list [--account A] [--action X] [--state S] [--since DATE] [--limit N]
  jobs show ID [--report PATH]         the job, its counts and failed rows; the same CSV as apply
  jobs resume ID [connection]          finish an interrupted or cancelled job
  jobs retry ID [--reason TEXT]... [--transient] [connection]
  jobs undo ID [--dry-run] [connection]
  jobs delete --older-than DAYS
  jobs interrupted

Resume, retry and undo talk to the platform, so they need the account's token (`--token-env VAR`,
never an argument); the journal keeps the account's non-secret data, so `--platform`, `--auth`,
`--base-url` and `--location` default to what the job used. Exit codes are `apply`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from audience_manager.api.redaction import known_secrets, redact
from audience_manager.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    Connection,
    JobResult,
    Parser,
    Streams,
    Subcommands,
    UsageError,
    exit_code,
    finish,
    open_journal,
    print_summary,
    read_connection,
    render_run,
    run_journaled,
    write_report_to,
)
from audience_manager.core.accounts import Account
from audience_manager.core.actions import Action
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.jobs import history
from audience_manager.jobs.events import JobState
from audience_manager.jobs.journal import Journal, UnknownJobError
from audience_manager.jobs.resume import CannotResumeError
from audience_manager.jobs.retry import TRANSIENT_REASONS, NothingToRetryError
from audience_manager.jobs.workflows import prepare_resume, resume_job, retry_plan, undo_plan, undo_runs

if TYPE_CHECKING:
    from audience_manager.api.platform import Platform

JobCommand = Callable[[argparse.Namespace, Journal, Streams], int]


# ---------------------------------------------------------------------------------------- parser


def _connection_defaults_options() -> Parser:
    """`apply`'s connection options, each defaulting to what the job used (except the token)."""
    common = Parser(add_help=False)
    group = common.add_argument_group("connection (defaults: what the job used)")
    group.add_argument("--platform", choices=[p.value for p in PlatformKind])
    group.add_argument("--base-url")
    group.add_argument("--auth", choices=[a.value for a in AuthKind])
    # Not `token_env`: these options complete the job's account (`_connection`), they do not replace it.
    group.add_argument("--token-env", dest="job_token_env", required=True, metavar="VAR")
    group.add_argument("--secret-env", dest="job_secret_env", metavar="VAR")
    group.add_argument("--location", metavar="ID")
    common.add_argument("--verbose", "-v", action="store_true", help="log every request (secrets masked)")
    return common


def add_command(commands: Subcommands) -> None:
    """Adds `jobs` and its subcommands to the CLI's parser."""
    jobs = commands.add_parser(
        "jobs",
        help="past jobs: list, show, resume, retry, undo",
        description="Past jobs, from the journal in the data directory.",
    )
    sub = jobs.add_subparsers(dest="jobs_command", metavar="JOBS_COMMAND", parser_class=Parser)
    sub.required = True
    connection = _connection_defaults_options()

    listing = sub.add_parser("list", help="one job a line, newest first, its id first")
    listing.add_argument("--account")
    listing.add_argument("--action", choices=[a.value for a in Action])
    listing.add_argument("--state", choices=[s.value for s in JobState])
    listing.add_argument("--since", metavar="YYYY-MM-DD", type=_date)
    listing.add_argument("--limit", type=int, metavar="N")
    listing.set_defaults(handler=_handle(_list))

    show = sub.add_parser("show", help="a job's counts and failed rows; --report writes every row")
    show.add_argument("job")
    show.add_argument("--report", metavar="PATH", help="every row's outcome as CSV (- for stdout)")
    show.set_defaults(handler=_handle(_show))

    resume = sub.add_parser("resume", parents=[connection], help="finish an interrupted or cancelled job")
    resume.add_argument("job")
    resume.add_argument("--report", metavar="PATH", help="the whole job's outcomes as CSV afterwards")
    resume.set_defaults(handler=_handle(_resume))

    retry = sub.add_parser("retry", parents=[connection], help="send a job's failed rows again, as a new job")
    retry.add_argument("job")
    retry.add_argument(
        "--reason",
        action="append",
        default=[],
        metavar="TEXT",
        help="only failures whose reason contains TEXT",
    )
    retry.add_argument(
        "--transient", action="store_true", help="only rate limits, timeouts and server errors"
    )
    retry.add_argument("--report", metavar="PATH")
    retry.set_defaults(handler=_handle(_retry))

    undo = sub.add_parser("undo", parents=[connection], help="put back exactly what a job changed")
    undo.add_argument("job")
    undo.add_argument("--dry-run", action="store_true", help="show the undo plan; change nothing")
    undo.set_defaults(handler=_handle(_undo))

    delete = sub.add_parser("delete", help="forget old jobs")
    delete.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    delete.set_defaults(handler=_handle(_delete))

    interrupted = sub.add_parser("interrupted", help="jobs the app was stopped in the middle of")
    interrupted.set_defaults(handler=_handle(_interrupted))


def _date(text: str) -> float:
    try:
        return datetime.strptime(text, "%Y-%m-%d").timestamp()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from exc


def _handle(command: JobCommand) -> Callable[[argparse.Namespace, Streams], int]:
    """A handler for `main`: journal errors become usage errors with the message as is."""

    def handler(args: argparse.Namespace, streams: Streams) -> int:
        try:
            with open_journal() as journal:
                return int(command(args, journal, streams))
        except (UnknownJobError, CannotResumeError, NothingToRetryError) as exc:
            raise UsageError(str(exc)) from None

    return handler


# -------------------------------------------------------------------------------------- history


def _list(args: argparse.Namespace, journal: Journal, streams: Streams) -> int:
    out = streams.stdout
    where = history.JobFilter(
        account=args.account,
        action=Action(args.action) if args.action else None,
        state=JobState(args.state) if args.state else None,
        since=args.since,
        limit=args.limit,
    )
    for record in history.list_jobs(journal, where):
        out.write(history.describe(record) + "\n")
    return EXIT_OK


def _show(args: argparse.Namespace, journal: Journal, streams: Streams) -> int:
    out, err = streams.stdout, streams.stderr
    job_id = journal.find_job(args.job)
    record = journal.job(job_id)
    outcomes = history.job_outcomes(journal, job_id)
    if args.report:
        write_report_to(args.report, outcomes, out)
    info = err if args.report == "-" else out
    info.write(history.describe(record) + "\n")
    if record.reason:
        info.write(f"{record.reason}\n")
    missing = history.missing_rows(journal, job_id)
    if missing:
        info.write(f"{missing} rows have no outcome yet: {PROG} jobs resume {job_id}\n")
    result = JobResult(outcomes, record.state, "")
    print_summary(result, info)
    return EXIT_OK


def _interrupted(args: argparse.Namespace, journal: Journal, streams: Streams) -> int:
    out = streams.stdout
    for record in journal.interrupted_jobs():
        out.write(history.describe(record) + "\n")
    return EXIT_OK


def _delete(args: argparse.Namespace, journal: Journal, streams: Streams) -> int:
    out = streams.stdout
    deleted = history.delete_jobs_older_than(journal, args.older_than)
    out.write(f"{deleted} jobs deleted\n")
    return EXIT_OK


# ------------------------------------------------------------------------ resume, retry, undo


def _connection(args: argparse.Namespace, account: Account) -> Connection:
    """The job's account with the options given on the command line, and the token from the env."""
    namespace = argparse.Namespace(
        platform=args.platform or account.platform.value,
        auth=args.auth or account.auth.value,
        base_url=args.base_url if args.base_url is not None else account.base_url,
        location=args.location if args.location is not None else account.location_id,
        token_env=args.job_token_env,
        secret_env=args.job_secret_env,
    )
    connection = read_connection(namespace, os.environ)
    merged = account.with_changes(
        platform=connection.account.platform,
        auth=connection.account.auth,
        base_url=connection.account.base_url,
        location_id=connection.account.location_id,
    )
    return Connection(merged, connection.credentials)


Work = Callable[["Platform", Connection], Awaitable[int]]


def _with_platform(args: argparse.Namespace, account: Account, work: Work) -> int:
    """Open the platform for `account`, run `work(platform, connection)`, with secrets masked."""
    connection = _connection(args, account)  # registers its secrets: every log line masks them
    try:

        async def go() -> int:
            platform = connection.open()
            try:
                return await work(platform, connection)
            finally:
                await platform.aclose()

        return asyncio.run(go())
    except UsageError as exc:
        raise UsageError(redact(str(exc), known_secrets())) from None


def _finish(
    result: JobResult, args: argparse.Namespace, journal: Journal, job_id: str, streams: Streams
) -> int:
    """The whole job's report (all its starts) when asked, then this run's summary."""
    report = getattr(args, "report", None)
    outcomes = history.job_outcomes(journal, job_id) if report else result.outcomes
    return finish(result, report, outcomes, streams)


def _resume(args: argparse.Namespace, journal: Journal, streams: Streams) -> int:
    job_id = journal.find_job(args.job)
    plan, earlier = prepare_resume(journal, job_id)
    streams.stderr.write(plan.summary() + "\n")

    async def work(platform: Platform, connection: Connection) -> int:
        run = resume_job(journal, platform, plan, earlier)
        _job_id, result = await render_run(run, streams.stderr, describe="(resumed)")
        return _finish(result, args, journal, job_id, streams)

    return _with_platform(args, plan.account, work)


def _retry(args: argparse.Namespace, journal: Journal, streams: Streams) -> int:
    job_id = journal.find_job(args.job)
    reasons: list[str] = list(args.reason) + (list(TRANSIENT_REASONS) if args.transient else [])
    plan = retry_plan(journal, job_id, reasons=reasons)
    streams.stderr.write(plan.summary() + "\n")

    async def work(platform: Platform, connection: Connection) -> int:
        retry_id, result = await run_journaled(
            journal,
            platform,
            connection.account,
            plan.spec,
            stderr=streams.stderr,
            describe=f"(retry of {job_id})",
            parent_id=job_id,
            kind=plan.kind,
        )
        return _finish(result, args, journal, retry_id, streams)

    return _with_platform(args, journal.account(job_id), work)


def _undo(args: argparse.Namespace, journal: Journal, streams: Streams) -> int:
    out, err = streams.stdout, streams.stderr
    job_id = journal.find_job(args.job)
    plan = undo_plan(journal, job_id)
    out.write(plan.summary() + "\n")
    if plan.impossible_reason is not None:
        return EXIT_USAGE
    if not plan.specs or args.dry_run:
        return EXIT_OK

    async def work(platform: Platform, connection: Connection) -> int:
        worst = EXIT_OK
        async for run in undo_runs(journal, platform, connection.account, plan):
            rows = len(run.spec.audience.rows)
            what = f"(undo of {job_id}): {run.spec.action.label} {rows} rows"
            _undo_id, result = await render_run(run, err, describe=what)
            print_summary(result, out)
            worst = max(worst, exit_code(result))
        return worst

    return _with_platform(args, journal.account(job_id), work)
