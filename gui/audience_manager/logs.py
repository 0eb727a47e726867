"""The app's log file: what a user can send with a bug report without sending their secrets or list.

One rotating file in `store.paths.log_dir()` (1 MB x 5). Every line is masked as it is written:
- secrets: every secret the process was given (`api.redaction.known_secrets`, filled by the clients)
  and every secret-named value (`Bearer ...`, `api_key=...`) is masked by `api.redaction.redact`, the
  one redaction mechanism; a traceback is masked with its message;
- personal data: email addresses are replaced by `[email]` in every line at INFO and above. Only DEBUG
  lines keep them, and DEBUG is written only when the user asked for it (`--verbose`).

`setup_logging` may be called again (each CLI command calls it): it replaces its own file handler.
`stream_handler` is the CLI's stderr line, masked by the same formatter (secrets only: what a user
asked to see on their own terminal may show their list's emails).
"""

from __future__ import annotations

import logging
import re
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import IO

from audience_manager.api.redaction import known_secrets, redact

LOG_FILE = "audience-manager.log"
MAX_BYTES = 1_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
EMAIL = re.compile(r"[^\s@<>\"'(),;:\[\]]+@[^\s@<>\"'(),;:\[\]]+\.[A-Za-z]{2,}")
EMAIL_MASK = "[email]"
QUIET_LIBRARIES = ("httpx", "httpcore")


class RedactingFormatter(logging.Formatter):
    """Formats a line, then masks it: known secrets always, email addresses above DEBUG (unless
    `mask_emails` is False).

    Masking the formatted text (not the record) covers the traceback too, and leaves the record as it
    was for the other handlers (a test's caplog). Every handler of ours formats with this class: it
    is the one place a log line is masked.
    """

    def __init__(self, fmt: str = FORMAT, *, mask_emails: bool = True) -> None:
        super().__init__(fmt)
        self.mask_emails = mask_emails

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record), known_secrets())
        if self.mask_emails and record.levelno > logging.DEBUG:
            text = EMAIL.sub(EMAIL_MASK, text)
        return text


def stream_handler(stream: IO[str], verbose: bool) -> logging.Handler:
    """A masked handler writing to `stream` (the CLI's stderr): warnings, or everything with `verbose`."""
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handler.setFormatter(RedactingFormatter(FORMAT, mask_emails=False))
    return handler


def log_file() -> Path | None:
    """Where `setup_logging` writes, for messages that point the user to it."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _AppFileHandler):
            return Path(handler.baseFilename)
    return None


class _AppFileHandler(RotatingFileHandler):
    """Marks the handler `setup_logging` owns, so a second call replaces it instead of adding one."""


def setup_logging(verbose: bool, *, to_file: bool = True) -> Path | None:
    """Log INFO (DEBUG with `verbose`) to the rotating file; returns its path (None without a file).

    Only the file handler is set up here; the CLI adds its own stderr handler. A folder that cannot
    be written (a read-only home) leaves the app without a log file rather than without an app.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _AppFileHandler)]:
        root.removeHandler(old)
        old.close()
    level = logging.DEBUG if verbose else logging.INFO
    # httpx logs every request's full URL at INFO, Kit v3's `api_key` query parameter included; our
    # transport logs each request itself, masked, so httpx and httpcore say only warnings.
    for chatty in QUIET_LIBRARIES:
        logging.getLogger(chatty).setLevel(logging.WARNING)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    if not to_file:
        return None
    from audience_manager.store.paths import log_dir

    try:
        path = log_dir() / LOG_FILE
        handler = _AppFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
    except OSError:
        return None
    handler.setLevel(level)
    handler.setFormatter(RedactingFormatter(FORMAT))
    root.addHandler(handler)
    return path
