"""Runs one job against a platform and reports every row's outcome as it lands.

The runner owns the "every row x target ends in exactly one outcome" promise. Its stages:

1. rows the audience already rejected (invalid, duplicate) end SKIPPED with their reason;
2. emails the platform cannot write to directly are resolved (state RESOLVING): first from the
   account's directory cache (`jobs.directory`), the rest the cheapest way the platform offers
   (`Platform.plan_resolution`: one lookup per email, a listing of the account, batched searches);
   rows that are not found end SKIPPED before any write, and every answer goes to the cache;
3. the write batches of `core.planning.plan` run with several requests in flight (the transport's
   limiter does the pacing; the runner only keeps it fed so latency does not waste the budget).

A write refusing a cached id as unknown (the subscriber was deleted and came back with a new id)
sends that row again once, after looking its email up afresh.

Whatever stops a job early (Cancel, a refused token, an unreachable platform) ends every row not yet
sent with an outcome that says what happened and what to do; a final check proves nothing was lost.
Events are coalesced (a few a second) so a 100,000-row job does not flood the GUI.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import math
import time
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Container,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, replace
from typing import TypeVar

from audience_manager.api.errors import ApiError, AuthenticationError, ConnectionFailedError, GaveUpError
from audience_manager.api.platform import Platform, ReadsAheadOfWrites, ReadsStateBeforeWrite
from audience_manager.api.resolution import ResolutionMethod, ResolutionPlan, lookups
from audience_manager.core.actions import Action, Target
from audience_manager.core.audience import AudienceRow
from audience_manager.core.job_spec import BLANK_CELL_REASON, JobSpec
from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.core.planning import (
    iter_batches,
    job_subjects,
    job_targets,
    needs_resolving,
    target_label,
)
from audience_manager.core.platforms import Capabilities
from audience_manager.core.work import Created, ItemResult, NewPerson, WorkItem
from audience_manager.jobs.directory import Directory, directory_for
from audience_manager.jobs.events import JobEvent, JobFinished, JobStarted, JobState, OutcomesReady, Progress
from audience_manager.jobs.move import apply_move
from audience_manager.jobs.recorder import JobRecorder
from audience_manager.jobs.throughput import Throughput

log = logging.getLogger(__name__)

T = TypeVar("T")
Pair = tuple[int, str]  # (input row, target id)

# After this many batches in a row fail even after their retries, the job stops: the platform is
# down, and the remaining rows fail at once as "Not sent" instead of each waiting out its retries.
GIVE_UP_AFTER_BATCHES = 3
CANCELLED_BEFORE_SENDING = "Cancelled before sending"
CANCELLED_IN_FLIGHT = (
    "Cancelled while the request was on its way: the platform may have made the change. "
    "Resume the job to settle it (sending again is safe)."
)
# Actions an undo can revert, so worth reading each row's state before the write for.
UNDOABLE = (Action.TAG, Action.UNTAG, Action.SET_FIELD)
NO_ANSWER = "The platform sent no answer for this row. Retry failed to send it again."
SETTLE_SLICE = 2_000  # outcomes settled between two yields to the event loop
RESOLVE_CHUNK = 10  # emails per resolve call: small, so Cancel and progress stay responsive


def default_concurrency(capabilities: Capabilities) -> int:
    """Requests in flight: about one second's worth of the rate limit, so a round trip of up to a
    second never leaves budget unused, bounded so a fast limit does not open dozens of connections."""
    return max(2, min(16, math.ceil(capabilities.rate.per_second)))


def auth_reason(platform_label: str, exc: AuthenticationError) -> str:
    said = "; ".join(exc.messages) or f"HTTP {exc.status}"
    return f"{platform_label} refused the token ({said}). Reconnect the account, then Retry failed."


@dataclass(frozen=True)
class _Stop:
    state: JobState
    outcome: Outcome  # for every row not yet sent
    reason: str  # for every row not yet sent
    job_reason: str  # for JobFinished


def _chunks(items: Iterator[T], size: int) -> Iterator[list[T]]:
    """Lazily, so a long audience is walked while the job runs rather than all before it starts."""
    while chunk := list(itertools.islice(items, size)):
        yield chunk


class JobInvariantError(RuntimeError):
    """A row x target ended in no outcome or in two: a bug, never a platform answer."""


class Runner:
    """Run `spec` on `platform` once. Iterate `events()` (or await `run()`); `cancel()` at any time.

    `done` lists (row, target id) pairs already finished by an earlier run of the same job: they are
    neither sent nor reported again (resume after a crash).

    `directory` keeps the account's email -> id answers between jobs; by default, when `recorder`
    is the journal, the journal's file holds it for the job's account (`jobs.directory`).
    """

    def __init__(
        self,
        platform: Platform,
        spec: JobSpec,
        *,
        recorder: JobRecorder | None = None,
        job_id: str | None = None,
        done: Container[tuple[int, str]] = (),
        concurrency: int | None = None,
        flush_interval: float = 0.25,
        cancel_grace: float = 5.0,
        directory: Directory | None = None,
    ) -> None:
        self._platform = platform
        self._spec = spec
        self._recorder = recorder
        self.job_id = job_id or uuid.uuid4().hex
        self._done = done
        self._caps = platform.capabilities
        self._concurrency = max(1, concurrency or default_concurrency(self._caps))
        self._flush_interval = flush_interval
        self._cancel_grace = cancel_grace
        self._label = platform.kind.label
        self._targets: tuple[Target, ...] = job_targets(spec)

        # Built once, in one pass: the constructor runs on the GUI thread, so nothing here walks the
        # audience more than it must (a 100,000-row job must not freeze the window as it starts).
        audience = spec.audience
        self._identifiers: dict[int, str] = {}
        self._email_rows: list[AudienceRow] = []
        for r in audience.rows:
            self._identifiers[r.row] = r.identifier
            if needs_resolving(r, self._caps, spec.action):
                self._email_rows.append(r)
        for p in (*audience.invalid, *audience.duplicates):
            self._identifiers[p.row] = p.text
        self._target_order = {t.id: i for i, t in enumerate(self._targets)}
        # Progress counts people (input rows), the unit the user gave; a row is done when every
        # target this run owns for it has its outcome.
        per_row = len(self._targets)
        self._left_of_row: dict[int, int] = dict.fromkeys(self._identifiers, per_row)
        if done:
            for row in self._identifiers:
                self._left_of_row[row] -= sum(1 for t in self._targets if (row, t.id) in done)
            self._left_of_row = {row: n for row, n in self._left_of_row.items() if n}
        self.total = sum(self._left_of_row.values())
        self.people = len(self._left_of_row)
        self._people_done = 0

        self._outcomes: dict[Pair, RowOutcome] = {}
        self._pending: list[RowOutcome] = []
        self._counts = dict.fromkeys(Outcome, 0)
        self._state = JobState.PENDING
        self._stop: _Stop | None = None
        # Batches in a row that gave up after all their retries: the platform is down, not busy.
        self._gave_up_in_a_row = 0
        self._cancel_requested = False
        self._wake = asyncio.Event()
        self._started = False
        self._throughput = Throughput()
        self._own_directory = directory is None
        self._directory = directory if directory is not None else directory_for(recorder, self.job_id)
        self.resolution: ResolutionPlan | None = None  # how this run resolves its emails, once known
        self._resolved = 0
        self._resolve_total: int | None = None
        self._resolve_throughput = Throughput()
        self._from_cache: set[str] = set()  # emails whose id came from the directory, not yet refused
        self.created: dict[str, str] = {}  # email -> id of the people this run created
        self._created = self.created

    # ----------------------------------------------------------------- public

    @property
    def state(self) -> JobState:
        return self._state

    def cancel(self) -> None:
        """Stop sending. Requests in flight get `cancel_grace` seconds to finish, then are cancelled."""
        if self._stop is None:
            self._cancel_requested = True
            self._stop = _Stop(JobState.CANCELLED, Outcome.CANCELLED, CANCELLED_BEFORE_SENDING, "Cancelled")
        self._wake.set()

    async def run(self) -> list[RowOutcome]:
        """Run to the end and return every outcome, in input order then target order."""
        async for _ in self.events():
            pass
        return self.outcomes()

    def outcomes(self) -> list[RowOutcome]:
        """Every outcome so far, in input order, then in the order the targets were chosen."""
        order = self._target_order
        return [self._outcomes[p] for p in sorted(self._outcomes, key=lambda p: (p[0], order[p[1]]))]

    async def events(self) -> AsyncIterator[JobEvent]:
        if self._started:
            raise RuntimeError("A Runner runs its job once; make a new Runner to run it again.")
        self._started = True
        self._record(lambda r: r.job_started(self.job_id))
        self._throughput = Throughput()
        yield JobStarted(job_id=self.job_id, total=self.total)
        job = asyncio.create_task(self._run_job(), name=f"job-{self.job_id}")
        last_progress = (-1, JobState.PENDING)
        last_progress_at = 0.0
        try:
            while True:
                await asyncio.wait({job}, timeout=self._flush_interval)
                # Decided before yielding: while the consumer handles an event the job runs on, and
                # outcomes it adds then must still be flushed by another turn of this loop.
                finished = job.done()
                if self._pending:
                    batch, self._pending = self._pending, []
                    yield OutcomesReady(outcomes=batch)
                now = time.monotonic()
                key = (len(self._outcomes), self._state)
                if key != last_progress or now - last_progress_at >= 1.0 or finished:
                    last_progress, last_progress_at = key, now
                    yield self._progress()
                if finished:
                    break
            job.result()  # a bug in the runner surfaces here, not silently
            reason = self._stop.job_reason if self._stop else ""
            yield JobFinished(job_id=self.job_id, state=self._state, reason=reason)
        finally:
            if not job.done():
                job.cancel()
                await asyncio.gather(job, return_exceptions=True)

    # ------------------------------------------------------------------ stages

    async def _run_job(self) -> None:
        try:
            self._state = JobState.RUNNING
            await self._skip_rejected_rows()
            subjects = await self._resolve_emails()
            if self._stop is None:
                self._state = JobState.RUNNING
                await self._read_ahead(subjects)
                batches = iter_batches(self._spec, self._caps, subjects=subjects, done=self._done)
                await self._pool(batches, self._send_batch)
            await self._end_unsent_rows()
            self._check_every_pair_has_one_outcome()
            self._state = self._stop.state if self._stop else JobState.FINISHED
        except asyncio.CancelledError:
            # The caller abandoned the job (window closed): it is interrupted, and the journal can
            # resume it. Outcomes already recorded stay recorded.
            self._state = JobState.INTERRUPTED
            self._record(lambda r: r.job_ended(self.job_id, JobState.INTERRUPTED, "Interrupted"))
            if self._directory is not None and self._own_directory:
                self._directory.close()
            raise
        if self._directory is not None and self._own_directory:
            await asyncio.to_thread(self._directory.close)
        reason = self._stop.job_reason if self._stop else ""
        self._record(lambda r: r.job_ended(self.job_id, self._state, reason))

    async def _skip_rejected_rows(self) -> None:
        audience = self._spec.audience
        endings = (
            (problem.row, target, Outcome.SKIPPED, problem.reason)
            for problem in (*audience.invalid, *audience.duplicates)
            for target in self._targets
        )
        await self._settle_without_request(endings)

    async def _settle_without_request(self, endings: Iterable[tuple[int, Target, Outcome, str]]) -> None:
        """Outcomes that need no request, in slices, yielding to the loop between them: a file of
        100,000 garbage lines must not freeze the window while it is reported."""
        ended: list[RowOutcome] = []
        for row, target, outcome, reason in endings:
            out = self._settle(row, target, outcome, reason)
            if out is not None:
                ended.append(out)
            if len(ended) >= SETTLE_SLICE:
                self._record_without_request(ended)
                ended = []
                await asyncio.sleep(0)
        if ended:
            self._record_without_request(ended)

    def _record_without_request(self, outcomes: list[RowOutcome]) -> None:
        self._record(lambda r: r.outcomes_without_request(self.job_id, outcomes))

    async def _resolve_emails(self) -> dict[str, str | None]:
        done, targets = self._done, self._targets
        rows_of: dict[str, list[AudienceRow]] = {}
        for r in self._email_rows:
            if any((r.row, t.id) not in done for t in targets):
                rows_of.setdefault(r.identifier, []).append(r)
        subjects: dict[str, str | None] = {}
        if not rows_of:
            return subjects
        self._state = JobState.RESOLVING
        emails = list(rows_of)
        creating = self._spec.create_missing and self._caps.can_create

        def take(answers: Mapping[str, str | None]) -> dict[str, str | None]:
            """Answers as they come: kept, and each row not found ends SKIPPED at once. Returns the
            answers that were new."""
            new: dict[str, str | None] = {}
            ended: list[RowOutcome] = []
            for email, subject in answers.items():
                if email not in rows_of or email in subjects:
                    continue
                subjects[email] = new[email] = subject
                if subject is None and creating:
                    continue  # created after the lookups, then written like the others
                if subject is None:
                    reason = f"Not found on {self._label}: no {self._platform.kind.person} with this email"
                    for row in rows_of[email]:
                        ended += self._settle_row(row, Outcome.SKIPPED, reason)
            if ended:
                self._record(lambda r: r.outcomes_without_request(self.job_id, ended))
            return new

        cached = self._directory is not None and self._spec.action not in self._caps.state_with_resolution
        if self._directory is not None and cached:
            kept = await asyncio.to_thread(self._directory.get, emails)
            self._from_cache = {e for e, subject in kept.items() if subject is not None}
            take(kept)
        rest = [e for e in emails if e not in subjects]
        if rest:
            await self._resolve_with_platform(rest, take)
        if self._directory is not None:
            await asyncio.to_thread(self._directory.flush)
        if self._stop is None:
            ended: list[RowOutcome] = []
            reason = f"{self._label} gave no answer when looking up this email. Retry failed."
            for email in rest:
                if email not in subjects:
                    for row in rows_of[email]:
                        ended += self._settle_open(row, Outcome.FAILED, reason)
            if ended:
                self._record(lambda r: r.outcomes_without_request(self.job_id, ended))
        if creating and self._stop is None:
            missing = [e for e in emails if e in subjects and subjects[e] is None]
            await self._create_missing(missing, rows_of, subjects)
        return subjects

    async def _create_missing(
        self, emails: list[str], rows_of: Mapping[str, list[AudienceRow]], subjects: dict[str, str | None]
    ) -> None:
        """Create the people the lookups did not find (the job opted in), a request at a time;
        each created one is then written like the others, and one that could not be created fails
        with the platform's reason. Only not-found emails are sent: a create that upserts would
        overwrite an existing person's first name."""
        column = self._spec.first_name_column
        size = max(1, self._caps.creates_per_request)
        person = self._platform.kind.person
        for start in range(0, len(emails), size):
            if self._stop is not None or self._cancel_requested:
                return
            chunk = emails[start : start + size]
            people = [
                NewPerson(e, (rows_of[e][0].value_of(column) or None) if column else None) for e in chunk
            ]
            ended: list[RowOutcome] = []
            try:
                answers = await self._platform.create(people)
            except AuthenticationError as exc:
                self._stop_job(f"Not sent: {auth_reason(self._label, exc)}", auth_reason(self._label, exc))
                return
            except GaveUpError as exc:
                self._stop_job(self._unreachable_reason(exc), exc.reason)
                return
            except ApiError as exc:
                answers = [Created(e, None, str(exc)) for e in chunk]
            by_email = {a.email: a for a in answers}
            made: dict[str, str] = {}
            for email in chunk:
                answer = by_email.get(email) or Created(email, None, NO_ANSWER)
                if answer.subject is not None:
                    subjects[email] = made[email] = answer.subject
                else:
                    reason = f"Not on {self._label}, and could not be created: {answer.reason}"
                    for row in rows_of[email]:
                        ended += self._settle_row(row, Outcome.FAILED, reason)
            self._created.update(made)
            if made:
                log.info("%s: created %d %ss", self._label, len(made), person)
                self._record(functools.partial(_people_created, job_id=self.job_id, made=dict(made)))
                if self._directory is not None:
                    self._directory.put(dict(made))
                    await asyncio.to_thread(self._directory.flush)
            if ended:
                self._record_without_request(list(ended))

    async def _resolve_with_platform(
        self, emails: list[str], take: Callable[[Mapping[str, str | None]], dict[str, str | None]]
    ) -> None:
        """The platform's cheapest way for `emails`; answers reach `take` (and the directory) as
        they come, so a stop half way keeps what was learnt. Cancel stops it at once."""
        plan = await self._call_resolving(self._platform.plan_resolution(emails), emails)
        if plan is None:
            return
        self.resolution = plan
        log.info("%s: %s", self._label, plan.describe())
        self._resolve_total = plan.total or None
        self._resolve_throughput = Throughput()
        directory = self._directory
        counting_answers = plan.method is ResolutionMethod.LOOKUP

        def learn(answers: Mapping[str, str | None]) -> int:
            new = take(answers)
            if new and directory is not None:
                directory.put(new)
            if counting_answers:
                self._resolved += len(new)
                self._resolve_throughput.add(len(new))
            return len(new)

        def progress(read: int, total: int | None, answers: Mapping[str, str | None]) -> None:
            learn(answers)
            if not counting_answers:
                self._resolve_throughput.add(max(0, read - self._resolved))
                self._resolved = max(self._resolved, read)
                if total is not None:
                    self._resolve_total = total

        if plan.method is ResolutionMethod.LOOKUP:
            # Small calls, several at once: Cancel and progress stay responsive.
            async def resolve(chunk: list[str]) -> None:
                found = await self._call_resolving(
                    self._platform.resolve(chunk, plan=plan, progress=progress), chunk
                )
                learn(found or {})

            await self._pool(_chunks(iter(emails), RESOLVE_CHUNK), resolve)
            return
        # One long call (a listing, batched searches): raced against Cancel.
        call = asyncio.ensure_future(
            self._call_resolving(self._platform.resolve(emails, plan=plan, progress=progress), emails)
        )
        try:
            while not call.done() and not self._cancel_requested:
                self._wake.clear()
                waker = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({call, waker}, return_when=asyncio.FIRST_COMPLETED)
                waker.cancel()
        finally:
            if not call.done():
                call.cancel()
            await asyncio.gather(call, return_exceptions=True)
        if not call.cancelled():
            learn(call.result() or {})

    async def _call_resolving(self, call: Awaitable[T], emails: Sequence[str]) -> T | None:
        """A resolving call, with the errors that end a job turned into a stop and other refusals
        into failed rows. None when it did not answer."""
        try:
            return await call
        except AuthenticationError as exc:
            self._stop_job(f"Not sent: {auth_reason(self._label, exc)}", auth_reason(self._label, exc))
        except GaveUpError as exc:
            self._stop_job(self._unreachable_reason(exc), exc.reason)
        except ApiError as exc:
            wanted = set(emails)
            reason = f"Could not look up this email: {exc}"
            ended: list[RowOutcome] = []
            for row in self._email_rows:
                if row.identifier in wanted:
                    ended += self._settle_open(row, Outcome.FAILED, reason)
            self._record(lambda r: r.outcomes_without_request(self.job_id, ended))
        return None

    async def _recheck_stale(self, batch: Sequence[WorkItem], results: list[ItemResult]) -> list[ItemResult]:
        """Rows the platform refused because their id (from the directory) does not exist: forget
        the id, look the email up afresh once, and send the row again once with what it finds."""
        stale = [r for r in results if r.subject_missing and r.item.identifier in self._from_cache]
        if not stale:
            return results
        emails = list(dict.fromkeys(r.item.identifier for r in stale))
        self._from_cache.difference_update(emails)
        directory = self._directory
        try:
            if directory is not None:
                await asyncio.to_thread(directory.forget, emails)
            found = await self._platform.resolve(emails, plan=lookups(len(emails), fresh=True))
            if directory is not None:
                directory.put({e: found.get(e) for e in emails if e in found})
            again: list[WorkItem] = []
            replaced: dict[Pair, ItemResult] = {}
            for r in stale:
                subject = found.get(r.item.identifier)
                if subject is None and r.item.identifier in found:
                    reason = f"Not found on {self._label}: no {self._platform.kind.person} with this email"
                    replaced[(r.item.row, r.item.target.id)] = ItemResult(r.item, Outcome.SKIPPED, reason)
                elif subject is not None:
                    again.append(replace(r.item, subject=subject))
            if again:
                self._record(lambda rec: rec.batch_sent(self.job_id, again))
                for r in await self._apply(again):
                    replaced[(r.item.row, r.item.target.id)] = r
        except asyncio.CancelledError:
            raise
        except Exception:  # the first answer stands: the rows fail with what the platform said
            log.info("Looking up refused ids again failed", exc_info=True)
            return results
        return [replaced.get((r.item.row, r.item.target.id), r) for r in results]

    async def _send_batch(self, batch: tuple[WorkItem, ...]) -> None:
        before = await self._state_before(batch)
        self._record(lambda r: r.batch_sent(self.job_id, batch, before))
        try:
            results = await self._apply(batch)
        except asyncio.CancelledError:
            # Not failed: the write may have landed. The pairs stay sent without an answer in the
            # journal's eyes (cancelled is not done), so a resume sends them again and settles them.
            self._fail_batch(batch, CANCELLED_IN_FLIGHT, Outcome.CANCELLED)
            raise
        except AuthenticationError as exc:
            reason = auth_reason(self._label, exc)
            self._fail_batch(batch, reason, answered=True)
            self._stop_job(f"Not sent: {reason}", reason)
            return
        except ConnectionFailedError as exc:
            self._fail_batch(batch, exc.reason)
            self._stop_job(self._unreachable_reason(exc), exc.reason)
            return
        except GaveUpError as exc:
            self._fail_batch(batch, exc.reason)
            self._gave_up_in_a_row += 1
            if self._gave_up_in_a_row >= GIVE_UP_AFTER_BATCHES:
                # Each batch already spent its retries; going on would spend them again on every
                # remaining batch (an hour for a big job). Stop, and leave the rest for Retry failed.
                self._stop_job(self._unreachable_reason(exc), exc.reason)
            return
        except ApiError as exc:
            self._fail_batch(batch, str(exc), answered=True)
            return
        except Exception as exc:  # a client bug must not lose rows: fail them and keep going
            log.error("Unexpected error from the %s client", self._label, exc_info=True)
            self._fail_batch(batch, f"Unexpected error ({type(exc).__name__}). Retry failed; see the log.")
            return
        self._gave_up_in_a_row = 0
        if self._from_cache:
            results = await self._recheck_stale(batch, list(results))
        self._take_results(batch, results)

    # ---------------------------------------------------------------- helpers

    async def _apply(self, batch: Sequence[WorkItem]) -> list[ItemResult]:
        """One request's items through the platform (two for a move: `jobs.move`); a blank mapped
        cell the job leaves as it is (`JobSpec.blank` is skip) is never sent and ends unchanged,
        saying so."""
        spec = self._spec
        if spec.action is Action.MOVE_TAG:
            if spec.move_from is None:
                raise ValueError("a move needs the tag it moves from")
            return await apply_move(self._platform, batch, spec.move_from)
        if not spec.fields:
            return await self._platform.apply(spec.action, batch, spec.value)
        left = [i for i in batch if spec.leaves_blank(i.value, i.target)]
        if not left:
            return await self._platform.apply(spec.action, batch, spec.value)
        sent = [i for i in batch if not spec.leaves_blank(i.value, i.target)]
        results = await self._platform.apply(spec.action, sent, spec.value) if sent else []
        return [*results, *(ItemResult(i, Outcome.UNCHANGED, BLANK_CELL_REASON) for i in left)]

    async def _read_ahead(self, subjects: Mapping[str, str | None]) -> None:
        """Let the platform read in one go what every batch would read (`ReadsAheadOfWrites`)."""
        if not isinstance(self._platform, ReadsAheadOfWrites):
            return
        wanted = job_subjects(self._spec, self._caps, subjects=subjects, done=self._done)
        if not wanted:
            return
        try:
            await self._platform.read_ahead(self._spec.action, sorted(wanted))
        except asyncio.CancelledError:
            raise
        except Exception:  # the batches read what is missing, and meet any real problem themselves
            log.info("Reading ahead of the writes failed; each batch reads its own", exc_info=True)

    async def _state_before(self, batch: Sequence[WorkItem]) -> dict[Pair, str | None]:
        """What the batch's targets are before the write, when the platform can tell cheaply."""
        platform, action = self._platform, self._spec.action
        if (
            action not in UNDOABLE
            or self._spec.remove_all_tags
            or not isinstance(platform, ReadsStateBeforeWrite)
        ):
            return {}
        try:
            return await platform.state_before(action, batch)
        except asyncio.CancelledError:
            raise
        except Exception:  # the write says what is wrong (a refused token, a platform down)
            log.debug("Could not read the state before a write", exc_info=True)
            return {}

    def _take_results(self, batch: Sequence[WorkItem], results: Sequence[ItemResult]) -> None:
        by_pair: dict[Pair, ItemResult] = {}
        for result in results:
            by_pair.setdefault((result.item.row, result.item.target.id), result)
        complete: list[ItemResult] = []
        ended: list[RowOutcome] = []
        for item in batch:
            result = by_pair.get((item.row, item.target.id)) or ItemResult(
                item, Outcome.FAILED, NO_ANSWER, answered=False
            )
            if self._created and item.identifier in self._created:
                result = replace(
                    result, reason=created_words(self._spec.action, result.outcome, result.reason)
                )
            complete.append(result)
            out = self._settle(item.row, item.target, result.outcome, result.reason)
            if out is not None:
                ended.append(out)
        if len(by_pair) > len(batch):
            log.warning("The %s client returned results for items it was not sent", self._label)
        self._throughput.add(len(ended))
        self._record(lambda r: r.results_received(self.job_id, complete))

    def _fail_batch(
        self,
        batch: Sequence[WorkItem],
        reason: str,
        outcome: Outcome = Outcome.FAILED,
        *,
        answered: bool = False,
    ) -> None:
        """End a whole batch. `answered`: the platform refused the request (nothing was written);
        otherwise its answer was lost and the write may have landed."""
        results = [ItemResult(item, outcome, reason, answered=answered) for item in batch]
        ended = [self._settle(i.row, i.target, outcome, reason) for i in batch]
        self._throughput.add(sum(1 for o in ended if o is not None))
        self._record(lambda r: r.results_received(self.job_id, results))

    def _settle_row(self, row: AudienceRow, outcome: Outcome, reason: str) -> list[RowOutcome]:
        ended = [self._settle(row.row, t, outcome, reason) for t in self._targets]
        return [o for o in ended if o is not None]

    def _settle_open(self, row: AudienceRow, outcome: Outcome, reason: str) -> list[RowOutcome]:
        """Like `_settle_row`, for the row's pairs that have no outcome yet."""
        ended = []
        for t in self._targets:
            pair = (row.row, t.id)
            if pair not in self._outcomes and pair not in self._done:
                out = self._settle(row.row, t, outcome, reason)
                if out is not None:
                    ended.append(out)
        return ended

    def _settle(self, row: int, target: Target, outcome: Outcome, reason: str) -> RowOutcome | None:
        """Give one pair its outcome. None for a pair this run does not own (done in an earlier run)."""
        pair = (row, target.id)
        if not self._owns(pair):
            if pair in self._done:
                return None
            raise JobInvariantError(f"row {row} x target {target.id} is not part of this job")
        if pair in self._outcomes:
            raise JobInvariantError(f"row {row} x target {target.id} got a second outcome")
        out = RowOutcome(
            row, self._identifiers[row], target_label(target), outcome, reason, target_id=target.id
        )
        self._outcomes[pair] = out
        self._pending.append(out)
        self._left_of_row[row] -= 1
        if not self._left_of_row[row]:
            self._people_done += 1
        self._counts[outcome] += 1
        return out

    def _owns(self, pair: Pair) -> bool:
        """Whether this run gives `pair` its outcome: a row and target of the job, not done before."""
        return pair[0] in self._identifiers and pair[1] in self._target_order and pair not in self._done

    def _stop_job(self, unsent_reason: str, job_reason: str) -> None:
        if self._stop is None:
            self._stop = _Stop(JobState.FAILED, Outcome.FAILED, unsent_reason, job_reason)
        self._wake.set()

    def _unreachable_reason(self, exc: GaveUpError) -> str:
        return (
            f"Not sent: {exc.reason.rstrip('.')}. Check that {self._label} is reachable, then Retry failed."
        )

    async def _end_unsent_rows(self) -> None:
        stop = self._stop
        if stop is None:
            return
        settled = self._outcomes
        endings = (
            (row, target, stop.outcome, stop.reason)
            for row in sorted(self._identifiers)
            for target in self._targets
            if (row, target.id) not in settled and (row, target.id) not in self._done
        )
        await self._settle_without_request(endings)

    def _check_every_pair_has_one_outcome(self) -> None:
        """`_settle` refuses a second outcome and a pair the job does not own, so equal counts mean
        every pair has exactly one."""
        if len(self._outcomes) != self.total:
            raise JobInvariantError(
                f"{self.total - len(self._outcomes)} row x target pairs ended without an outcome"
            )

    def _progress(self) -> Progress:
        done = len(self._outcomes)
        return Progress(
            done=done,
            total=self.total,
            succeeded=self._counts[Outcome.SUCCEEDED],
            unchanged=self._counts[Outcome.UNCHANGED],
            failed=self._counts[Outcome.FAILED],
            skipped=self._counts[Outcome.SKIPPED],
            rows_per_second=self._throughput.rows_per_second(),
            # Cancelling: no estimate (what is left is cancelled, not sent).
            seconds_left=None if self._stop else self._throughput.seconds_left(self.total - done),
            state=self._state,
            people_done=self._people_done,
            people_total=self.people,
            resolved=self._resolved,
            resolve_total=self._resolve_total,
            resolve_unit=self.resolution.unit if self.resolution is not None else "",
            resolve_per_second=self._resolve_throughput.rows_per_second(),
            resolve_seconds_left=(
                self._resolve_throughput.seconds_left(self._resolve_total - self._resolved)
                if self._resolve_total is not None
                else None
            ),
        )

    def _record(self, call: Callable[[JobRecorder], None]) -> None:
        if self._recorder is not None:
            call(self._recorder)

    async def _pool(self, units: Iterable[T], handle: Callable[[T], Awaitable[None]]) -> None:
        """Run `handle` over `units` with up to `concurrency` at once, until done or stopped.

        On Cancel, units in progress get `cancel_grace` seconds, then are cancelled (their handler
        records what that means); on any other stop they finish normally.
        """
        queue = iter(units)

        async def worker() -> None:
            for unit in queue:
                if self._stop is not None:
                    return
                await handle(unit)

        tasks = {asyncio.create_task(worker()) for _ in range(self._concurrency)}
        remaining = set(tasks)
        wake: asyncio.Task[bool] | None = None
        try:
            while remaining and not self._cancel_requested:
                self._wake.clear()
                wake = asyncio.create_task(self._wake.wait())
                finished, _ = await asyncio.wait(remaining | {wake}, return_when=asyncio.FIRST_COMPLETED)
                wake.cancel()
                remaining -= finished
            if remaining:
                _, remaining = await asyncio.wait(remaining, timeout=self._cancel_grace)
        finally:
            if wake is not None:
                wake.cancel()
            for task in remaining:
                task.cancel()
            if remaining:
                await asyncio.wait(remaining)
        for task in tasks:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error


DONE_WORDS = {Action.TAG: "tagged", Action.ADD_TO_FORM: "added to the form", Action.SET_FIELD: "field set"}


def created_words(action: Action, outcome: Outcome, reason: str) -> str:
    """The outcome of a person this job created: "created and tagged"; "created, but ..." when
    the write failed (they stay created)."""
    if outcome is Outcome.SUCCEEDED:
        return f"created and {DONE_WORDS.get(action, 'changed')}"
    if outcome is Outcome.UNCHANGED:
        return f"created; {reason}" if reason else "created"
    return f"created, but {reason or 'the change failed'}"


def _people_created(recorder: JobRecorder, job_id: str, made: Mapping[str, str]) -> None:
    """Journal the created ids (a recorder that keeps no such list is left alone)."""
    keep = getattr(recorder, "people_created", None)
    if keep is not None:
        keep(job_id, dict(made))
