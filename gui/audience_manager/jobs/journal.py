"""The journal: every job and every row's outcome, in SQLite, so nothing is lost when the app dies.

It records a job before it runs (its account's non-secret data, action, targets, value and the
audience rows themselves, so it can be resumed, retried or undone without the original file), then
implements `JobRecorder` for the runner:

- `batch_sent` commits a mark for the batch *before* its request goes out, with each item's state
  before the write when the platform could read it (`batches.before`): what undo restores, known
  even when the answer to the write is lost;
- `results_received` keeps the outcomes in memory until the next commit, which is at the latest the
  same worker's next `batch_sent` (the runner's workers send one batch at a time). So at any moment
  the rows that went out without a committed outcome are at most one batch per worker: exactly the
  batches in flight. A SIGKILL loses nothing else, and resuming re-sends only those.

A batch's items (tab-separated lines) and a batch's outcomes (compact JSON) are each stored as one
row, not one row per item: the per-item cost of binding SQL parameters was most of the journal's
price, and every reader wants a whole job's outcomes anyway. When one pair has several recorded
outcomes (a cancelled row sent again by a resume), the latest wins.

Why writes happen on the calling thread (the asyncio loop) and not on a writer thread: the order
"mark committed, then request sent, then outcome committed before the next request" is what bounds
what a crash re-sends, and a queue to another thread would let an unknown number of batches slip
past that. A commit in WAL mode with `synchronous=NORMAL` is a `write()` to the WAL file without
fsync (about 0.1 ms for a 100-row batch, see tests/benchmarks/RESULTS.md); it survives the process
being killed (the OS has the data), though not a power cut, which costs at most re-sending
idempotent requests. The WAL is checkpointed by a background thread so no commit on the loop ever
pays for a checkpoint.

Secrets never reach this file: the journal stores `Account` (which has none), never `Credentials`.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from audience_manager.core.accounts import Account
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow, Problem
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import BlankCells, FieldMapping, JobSpec
from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.core.planning import job_targets
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.core.work import ItemResult, WorkItem
from audience_manager.jobs.events import JobState

SCHEMA_VERSION = 3
# Version 3 added `batches.before` (the state of each item before its first write); journals of
# version 2 gain the column when opened (their batches have no before-state: undo then relies on the
# recorded outcomes, as it did).

# A job is a first run, or was made from an earlier job (its parent). A resume continues the same
# job (its outcomes stay in one report); each start is counted in `jobs.starts`.
KIND_RUN = "run"
KIND_RETRY = "retry"
KIND_UNDO = "undo"
JOB_KINDS = (KIND_RUN, KIND_RETRY, KIND_UNDO)

# States in which a job may be running right now in some process.
LIVE_STATES = (JobState.PENDING, JobState.RESOLVING, JobState.RUNNING)

# Outcomes that were not sent are re-derived by the runner on resume (invalid, duplicate, not found),
# so they need not be committed at once: they ride along with later commits, this many at a time,
# which keeps every call short even when a job starts with 50,000 invalid rows.
UNSENT_PER_COMMIT = 2000
# Outcomes waiting longer than this are committed by the next recorder call even without a batch.
MAX_HOLD_SECONDS = 0.5
CHECKPOINT_EVERY_SECONDS = 1.0
COUNTS_EVERY_SECONDS = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs(
    id TEXT PRIMARY KEY,
    parent_id TEXT,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    account_data TEXT NOT NULL,
    platform TEXT NOT NULL,
    action TEXT NOT NULL,
    targets TEXT NOT NULL,
    value TEXT,
    remove_all_tags INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    total INTEGER NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0,
    starts INTEGER NOT NULL DEFAULT 0,
    owner_pid INTEGER,
    owner_host TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs(created_at);
CREATE INDEX IF NOT EXISTS jobs_by_parent ON jobs(parent_id);
CREATE TABLE IF NOT EXISTS audience(
    job_id TEXT NOT NULL,
    row INTEGER NOT NULL,
    identifier TEXT NOT NULL,
    kind TEXT,
    problem TEXT,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY(job_id, row)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches(
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sent_at REAL NOT NULL,
    items TEXT NOT NULL,
    before TEXT,
    PRIMARY KEY(job_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS results(
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    at REAL NOT NULL,
    lines TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_by_job ON results(job_id, id);
CREATE TABLE IF NOT EXISTS job_fields(
    job_id TEXT PRIMARY KEY,
    fields TEXT NOT NULL,
    blank TEXT NOT NULL,
    create_missing INTEGER NOT NULL DEFAULT 0,
    first_name_column TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS created(
    job_id TEXT NOT NULL,
    email TEXT NOT NULL,
    subject TEXT NOT NULL,
    PRIMARY KEY(job_id, email)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS row_values(
    job_id TEXT NOT NULL,
    row INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY(job_id, row)
) WITHOUT ROWID;
"""

# Enum lookups by value, without Enum.__call__ (which is most of the time of reading 100,000 rows).
_OUTCOMES = {o.value: o for o in Outcome}
_KINDS = {k.value: k for k in IdentifierKind}

# One outcome as stored: [row, target id, subject or null, outcome, reason, previous or null], and a
# seventh element 0 when the platform's answer never came (journals before version 3 have six).
_Line = list[object]


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """One (row, target) pair's recorded ending, with what undo needs."""

    row: int
    target_id: str
    subject: str | None
    outcome: Outcome
    reason: str
    previous: str | None
    answered: bool = True  # False: the write's answer was lost; it may have been applied


def _count_values(counts: Mapping[str, int]) -> tuple[int, int, int, int, int]:
    """(succeeded, unchanged, failed, skipped, cancelled), the order of the jobs table's columns."""
    return (
        counts.get("succeeded", 0),
        counts.get("unchanged", 0),
        counts.get("failed", 0),
        counts.get("skipped", 0),
        counts.get("cancelled", 0),
    )


# Jobs running in this process, by (journal file, job id), whichever `Journal` object runs them: a
# second Journal on the same file (a History view, a test) must not take them for interrupted.
_RUNNING_HERE: set[tuple[str, str]] = set()


class JobLockedError(ValueError):
    """The job runs in another process (or another window of this one) right now."""


class JournalError(ValueError):
    """The journal file cannot be used (damaged, not a journal); the message names the file."""


class UnknownJobError(KeyError):
    """No job with this id (or id prefix) in the journal."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "No such job"


@dataclass(frozen=True)
class JobRecord:
    """One job as the History view and `jobs list` show it."""

    id: str
    parent_id: str | None
    kind: str
    account: str
    platform: str
    action: Action
    targets: tuple[Target, ...]
    value: str | None
    source: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    state: JobState
    reason: str
    total: int
    succeeded: int
    unchanged: int
    failed: int
    skipped: int
    cancelled: int
    starts: int

    @property
    def done(self) -> int:
        return self.succeeded + self.unchanged + self.failed + self.skipped + self.cancelled

    @property
    def target_names(self) -> str:
        return ", ".join(str(t) for t in self.targets)


def _account_data(account: Account) -> str:
    return json.dumps(asdict(account), sort_keys=True)


def account_from_data(data: str) -> Account:
    raw = json.loads(data)
    known = {f.name for f in fields(Account)}
    values = {k: v for k, v in raw.items() if k in known}
    values["platform"] = PlatformKind(values["platform"])
    values["auth"] = AuthKind(values["auth"])
    return Account(**values)


def _targets_json(targets: Sequence[Target]) -> str:
    return json.dumps([asdict(t) for t in targets])


def _split_targets(action: Action, targets: tuple[Target, ...]) -> dict[str, Any]:
    """A move's stored targets end with the tag it moves from (`JobSpec.move_from`)."""
    if action is Action.MOVE_TAG and len(targets) >= 2:
        return {"targets": targets[:-1], "move_from": targets[-1]}
    return {"targets": targets}


def _targets_from_json(text: str) -> tuple[Target, ...]:
    out = []
    for raw in json.loads(text):
        raw["kind"] = TargetKind(raw["kind"])
        out.append(Target(**raw))
    return tuple(out)


def _encode_items(items: Sequence[WorkItem]) -> str:
    # Tab and newline never occur in an identifier we send (the parser splits cells on them).
    return "\n".join(f"{i.row}\t{i.target.id}\t{i.subject}" for i in items)


def decode_batch_items(text: str) -> Iterator[tuple[int, str, str]]:
    """(row, target id, subject) of each item a batch carried."""
    for line in text.split("\n"):
        if line:
            row, target_id, subject = line.split("\t", 2)
            yield int(row), target_id, subject


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Journal:
    """The SQLite journal at `path` (created if missing). One per process; safe to share between
    threads: each thread gets its own connection, and the recorder calls must come from one thread
    (the event loop's)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._key = str(self.path.resolve())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()  # guards the buffers below and the connection list
        self._connections: list[sqlite3.Connection] = []
        self._held: dict[str, list[_Line]] = {}  # results received, committed with the next write
        self._held_since = 0.0
        self._unsent: list[tuple[str, _Line]] = []  # outcomes without a request, committed in slices
        self._tally: dict[str, Counter[str]] = {}  # outcomes recorded per job, for its counts
        self._baselines: dict[str, Counter[str]] = {}  # counts a resumed job starts from
        self._counts_at: dict[str, float] = {}  # when a running job's counts were last written
        self._batch_seq: dict[str, int] = {}
        self._active: set[str] = set()  # jobs this process is running
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()
        self._closed = False
        try:
            self._db().executescript(_SCHEMA)  # its own transaction; every statement is IF NOT EXISTS
            with self._write() as db:
                self._migrate(db)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise JournalError(
                f"The journal {self.path} cannot be read ({exc}). It is damaged or not a journal: move it"
                " away (the app then starts a new one) or restore it from a backup."
            ) from exc

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Bring an older journal to this version, in the caller's transaction."""
        columns = {row[1] for row in db.execute("PRAGMA table_info(batches)")}
        if "before" not in columns:
            db.execute("ALTER TABLE batches ADD COLUMN before TEXT")
        db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES('schema', ?)", (str(SCHEMA_VERSION),))
        db.execute(
            "UPDATE meta SET value=? WHERE key='schema' AND CAST(value AS INTEGER) < ?",
            (str(SCHEMA_VERSION), SCHEMA_VERSION),
        )

    # ------------------------------------------------------------ connections

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            if self._closed:
                raise RuntimeError("The journal is closed")
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints happen on the background thread, never inside a commit on the event loop.
            db.execute("PRAGMA wal_autocheckpoint=0")
            db.execute("PRAGMA foreign_keys=OFF")
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def read(self) -> sqlite3.Connection:
        """This thread's connection, for read-only queries (`jobs.history`)."""
        return self._db()

    def close(self) -> None:
        """Commit what is held, stop the checkpoint thread, close every connection."""
        if self._closed:
            return
        with suppress(sqlite3.DatabaseError):  # a damaged file: there is nothing to commit to
            self._flush(everything=True)
        for job_id in self._active:  # not running any more: a later look may call them interrupted
            _RUNNING_HERE.discard((self._key, job_id))
        self._stop_checkpoints.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
        self._checkpoint()
        self._closed = True
        with self._lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _checkpoint(self) -> None:
        # A busy or closed database: the next checkpoint catches up.
        with suppress(sqlite3.Error, RuntimeError):
            self._db().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _checkpoints(self, stop: threading.Event) -> None:
        while not stop.wait(CHECKPOINT_EVERY_SECONDS) and not self._closed:
            self._checkpoint()
        with self._lock:
            db = getattr(self._local, "db", None)
            if db is not None and db in self._connections:
                self._connections.remove(db)
                db.close()

    def _ensure_checkpointer(self) -> None:
        if self._checkpointer is None or self._stop_checkpoints.is_set():
            self._stop_checkpoints = threading.Event()
            self._checkpointer = threading.Thread(
                target=self._checkpoints,
                args=(self._stop_checkpoints,),
                name="journal-checkpoint",
                daemon=True,
            )
            self._checkpointer.start()

    # ------------------------------------------------------------- recording a job

    def create_job(
        self,
        spec: JobSpec,
        account: Account,
        *,
        parent_id: str | None = None,
        kind: str = KIND_RUN,
        job_id: str | None = None,
    ) -> str:
        """Record a job and its audience before it runs; returns its id (pass it to the Runner).

        Writes every audience row (about 0.3 s for 100,000): the GUI calls this in an executor.
        """
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        if account.name != spec.account:
            raise ValueError("the account does not match the job's account")
        job_id = job_id or uuid.uuid4().hex[:12]
        targets = job_targets(spec)
        audience = spec.audience
        total = audience.total * len(targets)
        now = time.time()
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs(id, parent_id, kind, account, account_data, platform, action, targets,"
                " value, remove_all_tags, source, notes, created_at, state, total)"
                " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    job_id,
                    parent_id,
                    kind,
                    account.name,
                    _account_data(account),
                    str(account.platform),
                    str(spec.action),
                    _targets_json(spec.targets + ((spec.move_from,) if spec.move_from else ())),
                    spec.value,
                    int(spec.remove_all_tags),
                    audience.source,
                    json.dumps(audience.notes),
                    now,
                    str(JobState.PENDING),
                    total,
                ),
            )
            db.executemany(
                "INSERT INTO audience(job_id, row, identifier, kind, problem, reason)"
                " VALUES(?,?,?,?,NULL,'')",
                ((job_id, r.row, r.identifier, str(r.kind)) for r in audience.rows),
            )
            db.executemany(
                "INSERT INTO audience(job_id, row, identifier, kind, problem, reason) VALUES(?,?,?,NULL,?,?)",
                (
                    *((job_id, p.row, p.text, "invalid", p.reason) for p in audience.invalid),
                    *((job_id, p.row, p.text, "duplicate", p.reason) for p in audience.duplicates),
                ),
            )
            if spec.fields or spec.create_missing:  # the file's columns: the mapping and each row's cells
                db.execute(
                    "INSERT INTO job_fields(job_id, fields, blank, create_missing, first_name_column)"
                    " VALUES(?,?,?,?,?)",
                    (
                        job_id,
                        json.dumps([list(f) for f in spec.fields]),
                        str(spec.blank),
                        int(spec.create_missing),
                        spec.first_name_column,
                    ),
                )
                db.executemany(
                    "INSERT INTO row_values(job_id, row, data) VALUES(?,?,?)",
                    ((job_id, r.row, json.dumps(r.values)) for r in audience.rows if r.values),
                )
        return job_id

    def _fields(self, job_id: str) -> dict[str, Any]:
        """The JobSpec options of a job that read the file's columns (none for other jobs)."""
        row = (
            self._db()
            .execute(
                "SELECT fields, blank, create_missing, first_name_column FROM job_fields WHERE job_id=?",
                (job_id,),
            )
            .fetchone()
        )
        if row is None:
            return {}
        fields: FieldMapping = tuple((str(t), str(c)) for t, c in json.loads(row[0]))
        return {
            "fields": fields,
            "blank": BlankCells(row[1]),
            "create_missing": bool(row[2]),
            "first_name_column": row[3],
        }

    def people_created(self, job_id: str, made: Mapping[str, str]) -> None:
        """The people a job created (email -> new id), so its undo can say who stays."""
        with self._write() as db:
            db.executemany(
                "INSERT OR REPLACE INTO created(job_id, email, subject) VALUES(?,?,?)",
                ((job_id, email, subject) for email, subject in made.items()),
            )

    def created_people(self, job_id: str) -> dict[str, str]:
        """email -> id of everyone `job_id` created."""
        rows = self._db().execute(
            "SELECT email, subject FROM created WHERE job_id=? ORDER BY email", (job_id,)
        )
        return {str(e): str(s) for e, s in rows}

    # ------------------------------------------------------------ JobRecorder

    def job_started(self, job_id: str) -> None:
        """Take the job for this process (raises `JobLockedError` while another live one has it)."""
        with self._write() as db:
            self._take(db, job_id)  # first: a refusal must not take other jobs' held outcomes along
            self._commit_held(db)
            db.execute(
                "UPDATE jobs SET state=?, started_at=coalesce(started_at, ?), ended_at=NULL, reason='',"
                " starts=starts+1, owner_pid=?, owner_host=? WHERE id=?",
                (str(JobState.RUNNING), time.time(), os.getpid(), socket.gethostname(), job_id),
            )
        self._active.add(job_id)
        _RUNNING_HERE.add((self._key, job_id))
        self._batch_seq[job_id] = self._last_batch_seq(job_id)
        baseline = self._baselines.pop(job_id, None)
        if baseline is None:
            baseline = (
                Counter() if not self._has_results(job_id) else self._counts_excluding_cancelled(job_id)
            )
        self._tally[job_id] = baseline
        self._ensure_checkpointer()

    def _take(self, db: sqlite3.Connection, job_id: str) -> None:
        """The lock: a job runs in at most one process. Its owner (`jobs.owner_pid`, `owner_host`) is
        written when it starts, in one transaction with this check, and cleared when it ends; a live
        state whose owner is a dead process (killed) holds nothing."""
        row = db.execute(
            "SELECT state, started_at, owner_pid, owner_host FROM jobs WHERE id=?", (job_id,)
        ).fetchone()
        if row is None:
            raise UnknownJobError(f"No job {job_id} in the journal: create_job() first")
        state, started_at, pid, host = row
        if (self._key, job_id) in _RUNNING_HERE:
            raise JobLockedError(f"Job {job_id} is already running in this app; wait for it to end.")
        live = state in {str(s) for s in LIVE_STATES} and started_at is not None
        here = host == socket.gethostname()
        if live and pid is not None and pid != os.getpid() and here and _pid_alive(pid):
            raise JobLockedError(
                f"Job {job_id} is running in another process (pid {pid}); wait for it to end, or stop"
                " that process, then resume it."
            )

    def batch_sent(
        self,
        job_id: str,
        items: Sequence[WorkItem],
        before: Mapping[tuple[int, str], str | None] | None = None,
    ) -> None:
        seq = self._batch_seq.get(job_id, 0) + 1
        self._batch_seq[job_id] = seq
        known = [[r, t, v] for (r, t), v in (before or {}).items() if v is not None]
        with self._write() as db:
            self._commit_held(db)
            db.execute(
                "INSERT INTO batches(job_id, seq, sent_at, items, before) VALUES(?,?,?,?,?)",
                (
                    job_id,
                    seq,
                    time.time(),
                    _encode_items(items),
                    json.dumps(known, separators=(",", ":")) if known else None,
                ),
            )

    def results_received(self, job_id: str, results: Sequence[ItemResult]) -> None:
        lines: list[_Line] = [
            [r.item.row, r.item.target.id, r.item.subject, r.outcome.value, r.reason, r.previous]
            if r.answered
            else [r.item.row, r.item.target.id, r.item.subject, r.outcome.value, r.reason, r.previous, 0]
            for r in results
        ]
        self._tally.setdefault(job_id, Counter()).update(r.outcome for r in results)
        with self._lock:
            if not self._held and not self._unsent:
                self._held_since = time.monotonic()
            self._held.setdefault(job_id, []).extend(lines)
        self._flush()

    def outcomes_without_request(self, job_id: str, outcomes: Sequence[RowOutcome]) -> None:
        self._tally.setdefault(job_id, Counter()).update(o.outcome.value for o in outcomes)
        with self._lock:
            if not self._unsent and not self._held:
                self._held_since = time.monotonic()
            self._unsent.extend(
                (job_id, [o.row, o.target_id, None, o.outcome.value, o.reason, None]) for o in outcomes
            )
        self._flush()

    def job_ended(self, job_id: str, state: JobState, reason: str) -> None:
        self._flush(everything=True)
        tally = self._tally.pop(job_id, None)
        counts = dict(tally) if tally is not None else self._counts(job_id)
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET state=?, reason=?, ended_at=?, succeeded=?, unchanged=?, failed=?,"
                " skipped=?, cancelled=?, owner_pid=NULL WHERE id=?",
                (
                    str(state),
                    reason,
                    time.time(),
                    *_count_values(counts),
                    job_id,
                ),
            )
        self._active.discard(job_id)
        _RUNNING_HERE.discard((self._key, job_id))
        self._counts_at.pop(job_id, None)
        self._batch_seq.pop(job_id, None)
        if not self._active:
            self._stop_checkpoints.set()

    # -------------------------------------------------------------- buffers

    def _flush(self, *, everything: bool = False) -> None:
        """Commit held outcomes when they have waited too long (or all of them, at the end)."""
        with self._lock:
            waiting = bool(self._held or self._unsent)
            too_old = waiting and time.monotonic() - self._held_since > MAX_HOLD_SECONDS
            too_many = len(self._unsent) >= UNSENT_PER_COMMIT
        if not (everything and waiting) and not too_old and not too_many:
            return
        while True:
            with self._write() as db:
                self._commit_held(db)
            with self._lock:
                if not everything or not (self._held or self._unsent):
                    return

    def _commit_held(self, db: sqlite3.Connection) -> None:
        with self._lock:
            held = self._held
            self._held = {}
            unsent = self._unsent[:UNSENT_PER_COMMIT]
            del self._unsent[:UNSENT_PER_COMMIT]
            self._held_since = time.monotonic()
        now = time.time()
        # Outcomes without a request go first: within one job, the order of rows is the order recorded.
        by_job: dict[str, list[_Line]] = {}
        for job_id, line in unsent:
            by_job.setdefault(job_id, []).append(line)
        for job_id, lines in held.items():
            by_job.setdefault(job_id, []).extend(lines)
        if by_job:
            db.executemany(
                "INSERT INTO results(job_id, at, lines) VALUES(?,?,?)",
                ((job_id, now, json.dumps(lines, separators=(",", ":"))) for job_id, lines in by_job.items()),
            )
        # A running job's counts, about once a second, for the History view and other processes.
        for job_id in by_job:
            tally = self._tally.get(job_id)
            if tally is not None and now - self._counts_at.get(job_id, 0.0) >= COUNTS_EVERY_SECONDS:
                self._counts_at[job_id] = now
                db.execute(
                    "UPDATE jobs SET succeeded=?, unchanged=?, failed=?, skipped=?, cancelled=? WHERE id=?",
                    (*_count_values(tally), job_id),
                )

    def _has_results(self, job_id: str) -> bool:
        return (
            self._db().execute("SELECT 1 FROM results WHERE job_id=? LIMIT 1", (job_id,)).fetchone()
            is not None
        )

    def _counts(self, job_id: str) -> dict[str, int]:
        return dict(Counter(r.outcome.value for r in self.outcome_records(job_id).values()))

    def _counts_excluding_cancelled(self, job_id: str) -> Counter[str]:
        return Counter(
            r.outcome.value
            for r in self.outcome_records(job_id).values()
            if r.outcome is not Outcome.CANCELLED
        )

    def _last_batch_seq(self, job_id: str) -> int:
        row = self._db().execute("SELECT max(seq) FROM batches WHERE job_id=?", (job_id,)).fetchone()
        return int(row[0] or 0)

    def _job_targets(self, job_id: str) -> tuple[Target, ...]:
        return job_targets(self.spec_header(job_id))

    # ---------------------------------------------------------- reading a job back

    def find_job(self, id_or_prefix: str) -> str:
        """The full id of a job given its id or a unique prefix of it (what users type)."""
        text = id_or_prefix.strip()
        if not text:
            raise UnknownJobError("Give a job id (see `jobs list`).")
        rows = (
            self._db()
            .execute(
                "SELECT id FROM jobs WHERE id=? OR id LIKE ? ESCAPE '\\' LIMIT 2",
                (text, text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"),
            )
            .fetchall()
        )
        exact = [r[0] for r in rows if r[0] == text]
        if exact:
            return str(exact[0])
        if len(rows) == 1:
            return str(rows[0][0])
        if not rows:
            raise UnknownJobError(f"No job {text} in the journal (see `jobs list`).")
        raise UnknownJobError(f"More than one job starts with {text}: give more of its id.")

    def job(self, job_id: str) -> JobRecord:
        row = self._db().execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise UnknownJobError(f"No job {job_id} in the journal")
        return job_record(row)

    def account(self, job_id: str) -> Account:
        """The job's account, without secrets (to find its credentials and default the CLI options)."""
        row = self._db().execute("SELECT account_data FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise UnknownJobError(f"No job {job_id} in the journal")
        return account_from_data(row[0])

    def spec_header(self, job_id: str) -> JobSpec:
        """The job without its audience rows (cheap): action, targets, value, source."""
        row = (
            self._db()
            .execute(
                "SELECT account, action, targets, value, remove_all_tags, source, notes FROM jobs WHERE id=?",
                (job_id,),
            )
            .fetchone()
        )
        if row is None:
            raise UnknownJobError(f"No job {job_id} in the journal")
        account, action, targets, value, remove_all, source, notes = row
        options = self._fields(job_id)
        return JobSpec(
            account=account,
            action=Action(action),
            audience=Audience(source=source, notes=list(json.loads(notes))),
            value=value,
            remove_all_tags=bool(remove_all),
            **_split_targets(Action(action), _targets_from_json(targets)),
            **options,
        )

    def spec(self, job_id: str) -> JobSpec:
        """The job as it was asked for, audience included, rebuilt from the journal alone."""
        db = self._db()
        row = db.execute(
            "SELECT account, action, targets, value, remove_all_tags, source, notes FROM jobs WHERE id=?",
            (job_id,),
        ).fetchone()
        if row is None:
            raise UnknownJobError(f"No job {job_id} in the journal")
        account, action, targets, value, remove_all, source, notes = row
        audience = Audience(source=source, notes=list(json.loads(notes)))
        options = self._fields(job_id)
        values: dict[int, tuple[tuple[str, str], ...]] = {}
        if options:
            values = {
                r: tuple((str(c), str(v)) for c, v in json.loads(data))
                for r, data in db.execute("SELECT row, data FROM row_values WHERE job_id=?", (job_id,))
            }
        for r, identifier, kind, problem, reason in db.execute(
            "SELECT row, identifier, kind, problem, reason FROM audience WHERE job_id=? ORDER BY row",
            (job_id,),
        ):
            if problem is None:
                audience.rows.append(AudienceRow(r, identifier, _KINDS[kind], values.get(r, ())))
            elif problem == "invalid":
                audience.invalid.append(Problem(r, identifier, reason))
            else:
                audience.duplicates.append(Problem(r, identifier, reason))
        return JobSpec(
            account=account,
            action=Action(action),
            audience=audience,
            value=value,
            remove_all_tags=bool(remove_all),
            **_split_targets(Action(action), _targets_from_json(targets)),
            **options,
        )

    def outcome_records(self, job_id: str) -> dict[tuple[int, str], OutcomeRecord]:
        """Every recorded outcome of the job by (row, target id); the latest wins."""
        records: dict[tuple[int, str], OutcomeRecord] = {}
        for (lines,) in self._db().execute("SELECT lines FROM results WHERE job_id=? ORDER BY id", (job_id,)):
            for row, target_id, subject, outcome, reason, previous, *lost in json.loads(lines):
                records[(row, target_id)] = OutcomeRecord(
                    row, target_id, subject, _OUTCOMES[outcome], reason, previous, not lost
                )
        return records

    def states_before(self, job_ids: Sequence[str]) -> dict[tuple[int, str], str]:
        """Each (row, target id) pair's state before its first write, over `job_ids` in that order
        (a job, then its retries): the first one known wins. From the batches' before-states; else
        (journals older than version 3, clients that report it only in their answer) from the
        outcome's `previous`, when that answered the pair's first send: a later send's answer sees
        what an earlier, unanswered one may have done."""
        db = self._db()
        states: dict[tuple[int, str], str] = {}
        sent_earlier: set[tuple[int, str]] = set()
        for job_id in job_ids:
            sends: Counter[tuple[int, str]] = Counter()
            for items, before in db.execute(
                "SELECT items, before FROM batches WHERE job_id=? ORDER BY seq", (job_id,)
            ):
                sends.update((r, t) for r, t, _ in decode_batch_items(items))
                for row, target_id, value in json.loads(before) if before else ():
                    states.setdefault((row, target_id), str(value))
            for (lines,) in db.execute("SELECT lines FROM results WHERE job_id=? ORDER BY id", (job_id,)):
                for row, target_id, _, _, _, previous, *_ in json.loads(lines):
                    pair = (row, target_id)
                    if previous is not None and pair not in sent_earlier and sends[pair] <= 1:
                        states.setdefault(pair, str(previous))
            sent_earlier |= set(sends)
        return states

    def family(self, job_id: str) -> list[str]:
        """The job's first run and every retry made from it (retries of retries too), oldest first:
        what undo reverts as one. An undo job is a family of its own."""
        db = self._db()
        root = job_id
        seen = {root}
        while True:
            row = db.execute("SELECT kind, parent_id FROM jobs WHERE id=?", (root,)).fetchone()
            if row is None or row[0] != KIND_RETRY or row[1] is None or row[1] in seen:
                break
            root = str(row[1])
            seen.add(root)
        members = [root]
        frontier = [root]
        while frontier:
            placeholders = ",".join("?" for _ in frontier)
            children = [
                str(r[0])
                for r in db.execute(
                    f"SELECT id FROM jobs WHERE kind=? AND parent_id IN ({placeholders}) ORDER BY created_at",
                    (KIND_RETRY, *frontier),
                )
                if r[0] not in members
            ]
            members += children
            frontier = children
        return members

    def children(self, job_ids: Sequence[str], kind: str) -> list[JobRecord]:
        """Jobs of `kind` made from any of `job_ids`, oldest first."""
        if not job_ids:
            return []
        placeholders = ",".join("?" for _ in job_ids)
        rows = self._db().execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE kind=? AND parent_id IN ({placeholders})"
            " ORDER BY created_at",
            (kind, *job_ids),
        )
        return [job_record(r) for r in rows]

    def done_pairs(self, job_id: str) -> set[tuple[int, str]]:
        """(row, target id) pairs that already have an outcome; a resume leaves them alone.

        Cancelled pairs are not done: resuming a cancelled job sends them.
        """
        return self.resume_state(job_id)[0]

    def resume_state(self, job_id: str) -> tuple[set[tuple[int, str]], set[tuple[int, str]]]:
        """(done pairs, pairs sent with no answer) from one read of the job's outcomes."""
        records = self.outcome_records(job_id)
        done = {pair for pair, r in records.items() if r.outcome is not Outcome.CANCELLED}
        # The counts the resumed run adds to (saves reading the job again when it starts).
        baseline = Counter(r.outcome.value for r in records.values())
        del baseline[Outcome.CANCELLED.value]
        self._baselines[job_id] = baseline
        # Sent with no answer: in flight at a crash, or cancelled on their way (cancelled is not done).
        in_flight = {pair for pair in self.sends(job_id) if pair not in done}
        return done, in_flight

    def sends(self, job_id: str) -> dict[tuple[int, str], int]:
        """How many times each (row, target id) pair was sent, over every start of the job."""
        counts: dict[tuple[int, str], int] = {}
        for (items,) in self._db().execute(
            "SELECT items FROM batches WHERE job_id=? ORDER BY seq", (job_id,)
        ):
            for r, t, _ in decode_batch_items(items):
                counts[(r, t)] = counts.get((r, t), 0) + 1
        return counts

    def sent_without_outcome(self, job_id: str) -> set[tuple[int, str]]:
        """Pairs whose request went out but whose answer never came: the batches in flight at a crash."""
        done = self.outcome_records(job_id)
        return {pair for pair in self.sends(job_id) if pair not in done}

    # ------------------------------------------------------------ after a crash

    def interrupted_jobs(self) -> list[JobRecord]:
        """Jobs whose process died while they ran (offer to resume them), newest first.

        A live state whose owning process is gone (or never recorded one) becomes INTERRUPTED here,
        with the counts of what was recorded. Jobs running in this or another live process on this
        machine are left alone.
        """
        db = self._db()
        host = socket.gethostname()
        placeholders = ",".join("?" for _ in LIVE_STATES)
        candidates = db.execute(
            f"SELECT id, owner_pid, owner_host, started_at FROM jobs WHERE state IN ({placeholders})",
            tuple(str(s) for s in LIVE_STATES),
        ).fetchall()
        for job_id, pid, owner_host, started_at in candidates:
            if (self._key, job_id) in _RUNNING_HERE or started_at is None:
                continue  # running here, or created and never started (nothing to resume yet)
            if pid is not None and owner_host == host and pid != os.getpid() and _pid_alive(pid):
                continue
            self._mark_interrupted(job_id)
        rows = db.execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state=? ORDER BY created_at DESC",
            (str(JobState.INTERRUPTED),),
        ).fetchall()
        return [job_record(r) for r in rows]

    def _mark_interrupted(self, job_id: str) -> None:
        counts = self._counts(job_id)
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET state=?, reason=?, succeeded=?, unchanged=?, failed=?, skipped=?,"
                " cancelled=?, owner_pid=NULL WHERE id=? AND state IN (?,?,?)",
                (
                    str(JobState.INTERRUPTED),
                    "The app stopped while this job ran. Resume it to finish the rows not done.",
                    *_count_values(counts),
                    job_id,
                    *(str(s) for s in LIVE_STATES),
                ),
            )

    # ----------------------------------------------------------- housekeeping

    def delete_jobs(self, job_ids: Iterable[str]) -> int:
        """Forget jobs and everything recorded about them. Running jobs are kept."""
        ids = [j for j in job_ids if (self._key, j) not in _RUNNING_HERE]
        with self._write() as db:
            for table in ("results", "batches", "audience", "job_fields", "row_values", "created"):
                db.executemany(f"DELETE FROM {table} WHERE job_id=?", ((j,) for j in ids))
            before = db.total_changes
            db.executemany("DELETE FROM jobs WHERE id=?", ((j,) for j in ids))
            deleted = db.total_changes - before
            db.execute("UPDATE jobs SET parent_id=NULL WHERE parent_id NOT IN (SELECT id FROM jobs)")
        return deleted


_JOB_COLUMNS = (
    "id, parent_id, kind, account, platform, action, targets, value, source, created_at, started_at,"
    " ended_at, state, reason, total, succeeded, unchanged, failed, skipped, cancelled, starts"
)


def job_record(row: Sequence[object]) -> JobRecord:
    """A `JobRecord` from a row selected with `_JOB_COLUMNS`."""
    (
        job_id,
        parent_id,
        kind,
        account,
        platform,
        action,
        targets,
        value,
        source,
        created_at,
        started_at,
        ended_at,
        state,
        reason,
        total,
        succeeded,
        unchanged,
        failed,
        skipped,
        cancelled,
        starts,
    ) = row
    return JobRecord(
        id=str(job_id),
        parent_id=None if parent_id is None else str(parent_id),
        kind=str(kind),
        account=str(account),
        platform=str(platform),
        action=Action(str(action)),
        targets=_targets_from_json(str(targets)),
        value=None if value is None else str(value),
        source=str(source),
        created_at=float(created_at),  # type: ignore[arg-type]
        started_at=None if started_at is None else float(started_at),  # type: ignore[arg-type]
        ended_at=None if ended_at is None else float(ended_at),  # type: ignore[arg-type]
        state=JobState(str(state)),
        reason=str(reason),
        total=int(total),  # type: ignore[call-overload]
        succeeded=int(succeeded),  # type: ignore[call-overload]
        unchanged=int(unchanged),  # type: ignore[call-overload]
        failed=int(failed),  # type: ignore[call-overload]
        skipped=int(skipped),  # type: ignore[call-overload]
        cancelled=int(cancelled),  # type: ignore[call-overload]
        starts=int(starts),  # type: ignore[call-overload]
    )
