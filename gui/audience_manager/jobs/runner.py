"""Runs one job against a platform and reports every row's outcome as it lands.

The runner owns the "every row x target ends in exactly one outcome" promise. Its stages:

1. rows the audience already rejected (invalid, duplicate) end SKIPPED with their reason;
2. emails the platform cannot write to directly are looked up (state RESOLVING) and rows that are
   not found end SKIPPED before any write;
3. the write batches of `core.planning.plan` run with several requests in flight (the transport's
   limiter does the pacing; the runner only keeps it fed so latency does not waste the budget).

Whatever stops a job early (Cancel, a refused token, an unreachable platform) ends every row not yet
sent with an outcome that says what happened and what to do; a final check proves nothing was lost.
Events are coalesced (a few a second) so a 100,000-row job does not flood the GUI.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from audience_manager.api.errors import ApiError, AuthenticationError, ConnectionFailedError, GaveUpError
from audience_manager.api.platform import Platform, ReadsStateBeforeWrite
from audience_manager.core.actions import Action, Target
from audience_manager.core.audience import AudienceRow
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.core.planning import iter_batches, job_targets, needs_resolving, target_label
from audience_manager.core.platforms import Capabilities
from audience_manager.core.work import ItemResult, WorkItem
from audience_manager.jobs.events import JobEvent, JobFinished, JobStarted, JobState, OutcomesReady, Progress
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
        self.total = len(self._identifiers) * len(self._targets)
        if done:
            self.total -= sum(1 for row in self._identifiers for t in self._targets if (row, t.id) in done)

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
            raise
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
        rows = (r for r in self._email_rows if any((r.row, t.id) not in done for t in targets))
        subjects: dict[str, str | None] = {}
        chunks = _chunks(rows, RESOLVE_CHUNK)
        first = next(chunks, None)
        if first is None:
            return subjects
        self._state = JobState.RESOLVING
        chunks = itertools.chain([first], chunks)

        async def resolve(chunk: list[AudienceRow]) -> None:
            found = await self._call_resolve(chunk)
            if found is None:
                return
            ended: list[RowOutcome] = []
            for row in chunk:
                if row.identifier not in found:
                    reason = f"{self._label} gave no answer when looking up this email. Retry failed."
                    ended += self._settle_row(row, Outcome.FAILED, reason)
                elif found[row.identifier] is None:
                    reason = f"Not found on {self._label}: no {self._platform.kind.person} with this email"
                    ended += self._settle_row(row, Outcome.SKIPPED, reason)
                subjects[row.identifier] = found.get(row.identifier)
            if ended:
                self._record(lambda r: r.outcomes_without_request(self.job_id, ended))

        await self._pool(chunks, resolve)
        return subjects

    async def _call_resolve(self, chunk: list[AudienceRow]) -> dict[str, str | None] | None:
        """The lookup, with the errors that end a job turned into a stop. None when it did not answer."""
        try:
            return await self._platform.resolve([r.identifier for r in chunk])
        except AuthenticationError as exc:
            self._stop_job(f"Not sent: {auth_reason(self._label, exc)}", auth_reason(self._label, exc))
        except GaveUpError as exc:
            self._stop_job(self._unreachable_reason(exc), exc.reason)
        except ApiError as exc:
            ended: list[RowOutcome] = []
            for row in chunk:
                ended += self._settle_row(row, Outcome.FAILED, f"Could not look up this email: {exc}")
            self._record(lambda r: r.outcomes_without_request(self.job_id, ended))
        return None

    async def _send_batch(self, batch: tuple[WorkItem, ...]) -> None:
        before = await self._state_before(batch)
        self._record(lambda r: r.batch_sent(self.job_id, batch, before))
        try:
            results = await self._platform.apply(self._spec.action, batch, self._spec.value)
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
        self._take_results(batch, results)

    # ---------------------------------------------------------------- helpers

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
            seconds_left=self._throughput.seconds_left(self.total - done),
            state=self._state,
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
