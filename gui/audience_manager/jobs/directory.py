"""The directory cache: which id each email has on an account, kept in the journal's SQLite file.

Resolving an email costs requests (`api.resolution`); its answer rarely changes. So every answer a
job gets is kept here, per account, and the next job on the same list (a retry, an undo, a resume
after a crash, the same CSV next week) asks the platform only about emails it has not answered yet.

- Keyed by (account key, normalised email). The account key names the account without any secret:
  its platform, base URL, HighLevel location and name (`account_key`).
- An id is kept until the platform refuses it: the runner then `forget`s it, looks the email up
  again once, and sends the row again (a subscriber deleted and re-created gets a new id).
- "Not found" is kept for `NOT_FOUND_TTL` seconds only: long enough for a retry or a resume to cost
  nothing, short enough that someone who subscribed since is found by the next job.
- Writes go through one background thread in slices (`put` only queues), so a job resolving 100,000
  emails never waits on SQLite on the event loop; what a kill loses is at most the last half second
  of answers, which are simply asked again.
- `clear_directory` forgets one account's answers, or every account's (the window's *Account ›
  Forget looked-up emails*, the CLI's `directory clear`).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Protocol

from audience_manager.core.accounts import Account
from audience_manager.core.identifiers import normalise_email

NOT_FOUND_TTL = 3600.0
WRITE_EVERY_SECONDS = 0.5
_QUERY_SLICE = 500  # emails per SELECT (SQLite's parameter limit is 999 on old builds)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS directory(
    account TEXT NOT NULL,
    account_name TEXT NOT NULL,
    email TEXT NOT NULL,
    subject TEXT,
    seen_at REAL NOT NULL,
    PRIMARY KEY(account, email)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS directory_by_name ON directory(account_name);
"""


def account_key(account: Account) -> str:
    """Names the account without a secret: platform, base URL, location and the account's name."""
    base = account.base_url.rstrip("/").lower()
    return f"{account.platform.value} {base} {account.location_id} {account.name}"


class HasPath(Protocol):
    """A journal, or anything that says where its SQLite file is."""

    @property
    def path(self) -> Path: ...


def _connect(path: Path | str) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    return db


class Directory:
    """One account's answers in the SQLite file at `path`. Thread-safe; `close()` when done.

    `get` reads (call it off the event loop for a long list: `asyncio.to_thread`), `put` queues
    answers for the writer thread, `flush` waits until they are written.
    """

    def __init__(
        self, path: Path | str, account: Account, *, clock: Callable[[], float] | None = None
    ) -> None:
        self.path = Path(path)
        self.key = account_key(account)
        self.account_name = account.name
        self._clock = clock or time.time
        self._connection: sqlite3.Connection | None = None  # opened on first use, off the GUI thread
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, str | None] | None] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._writer: threading.Thread | None = None
        self._closed = False

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection (callers hold `_lock`); opened by the first call that needs it, which is
        a worker thread's (`get` in an executor, the writer), never the constructor's."""
        if self._connection is None:
            self._connection = _connect(self.path)
        return self._connection

    # ---------------------------------------------------------------- reading

    def get(self, emails: Iterable[str]) -> dict[str, str | None]:
        """The kept answers for `emails` (keyed by the caller's strings): an id, or None for a
        fresh "not found"; emails with no answer (or a stale "not found") are left out."""
        by_key: dict[str, list[str]] = {}
        for email in emails:
            by_key.setdefault(normalise_email(email), []).append(email)
        keys = list(by_key)
        oldest_not_found = self._clock() - NOT_FOUND_TTL
        out: dict[str, str | None] = {}
        with self._lock:
            for start in range(0, len(keys), _QUERY_SLICE):
                part = keys[start : start + _QUERY_SLICE]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT email, subject, seen_at FROM directory WHERE account = ? AND email IN ({marks})",
                    (self.key, *part),
                ).fetchall()
                for email, subject, seen_at in rows:
                    if subject is None and seen_at < oldest_not_found:
                        continue
                    for asked in by_key[email]:
                        out[asked] = subject
        return out

    def size(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM directory WHERE account = ?", (self.key,)).fetchone()
        return int(row[0])

    # ---------------------------------------------------------------- writing

    def put(self, answers: Mapping[str, str | None]) -> None:
        """Keep these answers (id, or None for "not found"); returns at once, written in the background."""
        if not answers or self._closed:
            return
        self._idle.clear()
        for email, subject in answers.items():
            self._queue.put((normalise_email(email), subject))
        self._ensure_writer()

    def forget(self, emails: Iterable[str]) -> None:
        """Drop these emails' answers now (the platform refused a kept id)."""
        self.flush()
        keys = [(self.key, normalise_email(e)) for e in emails]
        with self._lock:
            self._db.executemany("DELETE FROM directory WHERE account = ? AND email = ?", keys)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every queued answer is written."""
        if self._writer is not None and self._writer.is_alive():
            self._idle.wait(timeout)

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._closed = True
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=5)
        with self._lock:
            if self._connection is not None:
                self._connection.close()

    def _ensure_writer(self) -> None:
        if self._writer is None or not self._writer.is_alive():
            self._writer = threading.Thread(target=self._write_loop, name="directory-writer", daemon=True)
            self._writer.start()

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            pending = [first]
            deadline = time.monotonic() + WRITE_EVERY_SECONDS
            stop = False
            while time.monotonic() < deadline:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                pending.append(item)
            self._write(pending)
            if self._queue.empty():
                self._idle.set()
            if stop:
                return

    def _write(self, pending: list[tuple[str, str | None]]) -> None:
        now = self._clock()
        rows = [(self.key, self.account_name, email, subject, now) for email, subject in pending]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO directory(account, account_name, email, subject, seen_at)"
                    " VALUES(?,?,?,?,?)",
                    rows,
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


def directory_for(recorder: object, job_id: str) -> Directory | None:
    """The job's account's directory in the journal's file, when `recorder` is the journal and
    knows the job; None otherwise (a job without a journal keeps no answers)."""
    from audience_manager.jobs.journal import Journal, UnknownJobError

    if not isinstance(recorder, Journal):
        return None
    try:
        account = recorder.account(job_id)
    except (UnknownJobError, KeyError):
        return None
    return Directory(recorder.path, account)


def clear_directory(journal: HasPath | Path | str, account: Account | str | None = None) -> int:
    """Forget the looked-up emails of one account (an `Account`, or an account name) or, with
    None, of every account. Returns how many answers were forgotten. Blocking: call it off the GUI
    thread."""
    db = _connect(journal if isinstance(journal, Path | str) else journal.path)
    try:
        if account is None:
            cursor = db.execute("DELETE FROM directory")
        elif isinstance(account, Account):
            cursor = db.execute("DELETE FROM directory WHERE account = ?", (account_key(account),))
        else:
            cursor = db.execute("DELETE FROM directory WHERE account_name = ?", (account,))
        return int(cursor.rowcount)
    finally:
        db.close()
