"""`audience-manager jobs ...` and `apply --dry-run`: past jobs from the journal, headless.

  jobs list [--account A] [--action X] [--state S] [--since DATE] [--limit N]
  jobs show ID [--report PATH]         the job, its counts and failed rows; the same CSV as apply
  jobs resume ID [connection]          finish an interrupted or cancelled job
  jobs retry ID [--reason TEXT]... [--transient] [connection]
  jobs undo ID [--dry-run] [connection]
  jobs delete --older-than DAYS

Resume, retry and undo talk to the platform, so they need the account's token (`--token-env VAR`,
never an argument); the journal keeps the account's non-secret data, so `--platform`, `--auth`,
`--base-url` and `--location` default to what the job used. Exit codes are `apply`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from audience_manager import cli
from audience_manager.api.redaction import redact, register_secret
from audience_manager.core.accounts import Account
from audience_manager.core.actions import Action
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.jobs import history
from audience_manager.jobs.events import JobState
from audience_manager.jobs.journal import KIND_RUN, Journal, UnknownJobError
from audience_manager.jobs.preview import preview
from audience_manager.jobs.resume import CannotResumeError, resume_plan
from audience_manager.jobs.retry import TRANSIENT_REASONS, NothingToRetryError, retry_spec
from audience_manager.jobs.undo import undo_spec
from audience_manager.store.paths import journal_path

if TYPE_CHECKING:
    from audience_manager.api.platform import Platform


def open_journal() -> Journal:
    """The user's journal (`AUDIENCE_MANAGER_HOME` moves it, for tests and portable installs)."""
    return Journal(journal_path())


# ------------------------------------------------------------------------------------ for apply


def add_dry_run_option(apply: argparse.ArgumentParser) -> None:
    apply.add_argument(
        "--dry-run",
        action="store_true",
        help="preview: look subscribers up and read their current state; change nothing",
    )


async def dry_run(platform: Platform, spec: JobSpec, *, stdout: IO[str], stderr: IO[str]) -> int:
    """`apply --dry-run`: the preview's summary; nothing is written to the platform or the journal."""
    report = await preview(platform, spec)
    stdout.write(report.summary() + "\n")
    return cli.EXIT_OK


async def run_journaled(
    platform: Platform,
    spec: JobSpec,
    account: Account,
    *,
    stderr: IO[str],
    parent_id: str | None = None,
    kind: str = KIND_RUN,
) -> cli.JobResult:
    """Run a new job with every row recorded in the journal, so it can be resumed, retried, undone.

    Says the job's id on stderr first: after a crash, `jobs resume ID` finishes it.
    """
    with open_journal() as journal:
        _mention_interrupted(journal, stderr)
        job_id = journal.create_job(spec, account, parent_id=parent_id, kind=kind)
        stderr.write(f"job {job_id} (see: {cli.PROG} jobs show {job_id})\n")
        stderr.flush()
        return await cli.run_job(platform, spec, stderr=stderr, recorder=journal, job_id=job_id)


def _mention_interrupted(journal: Journal, stderr: IO[str]) -> None:
    for record in journal.interrupted_jobs()[:3]:
        stderr.write(
            f"note: job {record.id} ({record.action.label}, {record.total} rows) was interrupted;"
            f" finish it with: {cli.PROG} jobs resume {record.id}\n"
        )


# ---------------------------------------------------------------------------------------- parser


def _connection_defaults_options() -> argparse.ArgumentParser:
    """`apply`'s connection options, each defaulting to what the job used (except the token)."""
    common = cli._Parser(add_help=False)
    group = common.add_argument_group("connection (defaults: what the job used)")
    group.add_argument("--platform", choices=[p.value for p in PlatformKind])
    group.add_argument("--base-url")
    group.add_argument("--auth", choices=[a.value for a in AuthKind])
    # Not `token_env`: `cli.main` reads the connection of any command with that attribute before the
    # journal has said which platform the job was on; this module reads it itself, with `cli`'s helper.
    group.add_argument("--token-env", dest="job_token_env", required=True, metavar="VAR")
    group.add_argument("--secret-env", dest="job_secret_env", metavar="VAR")
    group.add_argument("--location", metavar="ID")
    common.add_argument("--verbose", "-v", action="store_true", help="log every request (secrets masked)")
    return common


def add_jobs_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Adds `jobs` and its subcommands to the CLI's parser."""
    jobs = commands.add_parser(
        "jobs",
        help="past jobs: list, show, resume, retry, undo",
        description="Past jobs, from the journal in the data directory.",
    )
    sub = jobs.add_subparsers(dest="jobs_command", metavar="JOBS_COMMAND", parser_class=cli._Parser)
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


def _streams(args: argparse.Namespace) -> tuple[IO[str], IO[str]]:
    """The streams `cli.main(stdout=, stderr=)` was given (the process's own when called directly)."""
    return getattr(args, "stdout", None) or sys.stdout, getattr(args, "stderr", None) or sys.stderr


def _handle(command: Any) -> Any:
    """A handler for `cli.main`: journal errors become usage errors with the message as is."""

    def handler(args: argparse.Namespace) -> int:
        try:
            with open_journal() as journal:
                return int(command(args, journal, *_streams(args)))
        except (UnknownJobError, CannotResumeError, NothingToRetryError) as exc:
            raise cli.UsageError(str(exc)) from None

    return handler


# -------------------------------------------------------------------------------------- history


def _list(args: argparse.Namespace, journal: Journal, out: IO[str], err: IO[str]) -> int:
    where = history.JobFilter(
        account=args.account,
        action=Action(args.action) if args.action else None,
        state=JobState(args.state) if args.state else None,
        since=args.since,
        limit=args.limit,
    )
    for record in history.list_jobs(journal, where):
        out.write(history.describe(record) + "\n")
    return cli.EXIT_OK


def _show(args: argparse.Namespace, journal: Journal, out: IO[str], err: IO[str]) -> int:
    job_id = journal.find_job(args.job)
    record = journal.job(job_id)
    outcomes = history.job_outcomes(journal, job_id)
    if args.report:
        cli.write_report_to(args.report, outcomes, out)
    info = err if args.report == "-" else out
    info.write(history.describe(record) + "\n")
    if record.reason:
        info.write(f"{record.reason}\n")
    missing = history.missing_rows(journal, job_id)
    if missing:
        info.write(f"{missing} rows have no outcome yet: {cli.PROG} jobs resume {job_id}\n")
    result = cli.JobResult(outcomes, record.state, "")
    cli.print_summary(result, info)
    return cli.EXIT_OK


def _interrupted(args: argparse.Namespace, journal: Journal, out: IO[str], err: IO[str]) -> int:
    for record in journal.interrupted_jobs():
        out.write(history.describe(record) + "\n")
    return cli.EXIT_OK


def _delete(args: argparse.Namespace, journal: Journal, out: IO[str], err: IO[str]) -> int:
    deleted = history.delete_jobs_older_than(journal, args.older_than)
    out.write(f"{deleted} jobs deleted\n")
    return cli.EXIT_OK


# ------------------------------------------------------------------------ resume, retry, undo


def _connection(args: argparse.Namespace, account: Account) -> cli.Connection:
    """The job's account with the options given on the command line, and the token from the env."""
    namespace = argparse.Namespace(
        platform=args.platform or account.platform.value,
        auth=args.auth or account.auth.value,
        base_url=args.base_url if args.base_url is not None else account.base_url,
        location=args.location if args.location is not None else account.location_id,
        token_env=args.job_token_env,
        secret_env=args.job_secret_env,
    )
    connection = cli.read_connection(namespace, os.environ)
    merged = account.with_changes(
        platform=connection.account.platform,
        auth=connection.account.auth,
        base_url=connection.account.base_url,
        location_id=connection.account.location_id,
    )
    return cli.Connection(merged, connection.credentials)


def _with_platform(args: argparse.Namespace, account: Account, work: Any) -> int:
    """Open the platform for `account`, run `work(platform, connection)`, with secrets masked."""
    connection = _connection(args, account)
    secrets = connection.credentials.secrets()
    register_secret(*secrets)  # every log handler masks the registry's secrets
    try:

        async def go() -> int:
            from audience_manager.api.clients import open_platform

            platform = open_platform(connection.account, connection.credentials)
            try:
                return int(await work(platform, connection))
            finally:
                await platform.aclose()

        return asyncio.run(go())
    except cli.UsageError as exc:
        raise cli.UsageError(redact(str(exc), secrets)) from None


def _finish(
    result: cli.JobResult, args: argparse.Namespace, journal: Journal, job_id: str, out: IO[str], err: IO[str]
) -> int:
    """The whole job's report (all its starts) when asked, then this run's summary."""
    if getattr(args, "report", None):
        cli.write_report_to(args.report, history.job_outcomes(journal, job_id), out)
    cli.print_summary(result, err if getattr(args, "report", None) == "-" else out)
    return cli.exit_code(result)


def _resume(args: argparse.Namespace, journal: Journal, out: IO[str], err: IO[str]) -> int:
    job_id = journal.find_job(args.job)
    plan = resume_plan(journal, job_id)
    err.write(plan.summary() + "\n")

    async def work(platform: Platform, connection: cli.Connection) -> int:
        result = await cli.run_job(
            platform, plan.spec, stderr=err, recorder=journal, job_id=job_id, done=plan.done
        )
        return _finish(result, args, journal, job_id, out, err)

    return _with_platform(args, plan.account, work)


def _retry(args: argparse.Namespace, journal: Journal, out: IO[str], err: IO[str]) -> int:
    job_id = journal.find_job(args.job)
    reasons: list[str] = list(args.reason) + (list(TRANSIENT_REASONS) if args.transient else [])
    plan = retry_spec(journal, job_id, reasons=reasons)
    err.write(plan.summary() + "\n")
    account = journal.account(job_id)

    async def work(platform: Platform, connection: cli.Connection) -> int:
        retry_id = journal.create_job(plan.spec, connection.account, parent_id=job_id, kind=plan.kind)
        err.write(f"job {retry_id} (retry of {job_id})\n")
        result = await cli.run_job(platform, plan.spec, stderr=err, recorder=journal, job_id=retry_id)
        return _finish(result, args, journal, retry_id, out, err)

    return _with_platform(args, account, work)


def _undo(args: argparse.Namespace, journal: Journal, out: IO[str], err: IO[str]) -> int:
    job_id = journal.find_job(args.job)
    plan = undo_spec(journal, job_id)
    out.write(plan.summary() + "\n")
    if plan.impossible_reason is not None:
        return cli.EXIT_USAGE
    if not plan.specs or args.dry_run:
        return cli.EXIT_OK
    account = journal.account(job_id)

    async def work(platform: Platform, connection: cli.Connection) -> int:
        worst = cli.EXIT_OK
        for spec in plan.specs:
            undo_id = journal.create_job(spec, connection.account, parent_id=job_id, kind=plan.kind)
            err.write(
                f"job {undo_id} (undo of {job_id}): {spec.action.label} {len(spec.audience.rows)} rows\n"
            )
            result = await cli.run_job(platform, spec, stderr=err, recorder=journal, job_id=undo_id)
            cli.print_summary(result, out)
            worst = max(worst, cli.exit_code(result))
            if result.state is JobState.FAILED:
                break
        return worst

    return _with_platform(args, account, work)
