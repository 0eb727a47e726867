"""The log file: rotating, and free of secrets always and of email addresses unless the user asked
for --verbose (and then only in DEBUG lines)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest

from audience_manager.api.redaction import known_secrets, register_secret
from audience_manager.logs import BACKUPS, LOG_FILE, MAX_BYTES, setup_logging

from .conftest import Loopback

TOKEN = "sbx_log_test_token_0123456789"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("AUDIENCE_MANAGER_HOME", str(tmp_path))
    root = logging.getLogger()
    level = root.level
    yield tmp_path
    setup_logging(False, to_file=False)  # closes and removes the file handler
    root.setLevel(level)


def file_handler() -> RotatingFileHandler:
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, RotatingFileHandler)]
    assert len(handlers) == 1, handlers
    return handlers[0]


def test_one_rotating_file_in_the_log_folder_even_when_set_up_twice(home: Path) -> None:
    setup_logging(False)
    path = setup_logging(False)
    assert path == home / "logs" / LOG_FILE
    handler = file_handler()
    assert (handler.maxBytes, handler.backupCount) == (MAX_BYTES, BACKUPS) == (1_000_000, 5)
    handler.maxBytes = 2_000  # rotate after a few lines instead of a megabyte
    log = logging.getLogger("audience_manager.test")
    for n in range(400):
        log.info("line %d %s", n, "x" * 80)
    files = sorted(p.name for p in (home / "logs").iterdir())
    assert files == [LOG_FILE, *(f"{LOG_FILE}.{k}" for k in range(1, BACKUPS + 1))]
    assert all(p.stat().st_size <= 2_200 for p in (home / "logs").iterdir())
    assert "line 399" in (home / "logs" / LOG_FILE).read_text("utf-8")


def test_secrets_never_and_emails_not_at_info(home: Path) -> None:
    register_secret(TOKEN)
    assert TOKEN in known_secrets()
    path = setup_logging(False)
    assert path is not None
    log = logging.getLogger("audience_manager.test")
    log.info("sent %s for jane.doe@example.com", TOKEN)
    log.warning("Authorization: Bearer %s; api_key=%s", "someothertoken123", "k3y_never_told")
    try:
        raise RuntimeError(f"the server echoed {TOKEN} for bob@example.org")
    except RuntimeError:
        log.exception("request failed")
    log.debug("DEBUG is not written without --verbose: carol@example.com")
    text = path.read_text("utf-8")
    assert TOKEN not in text and "someothertoken123" not in text and "k3y_never_told" not in text
    assert EMAIL.search(text) is None, text
    assert text.count("[redacted]") >= 4 and text.count("[email]") >= 2
    assert "Traceback" in text and "RuntimeError" in text  # the traceback is kept, masked
    assert "DEBUG is not written" not in text


def test_verbose_writes_debug_with_identifiers_but_still_no_secret(home: Path) -> None:
    register_secret(TOKEN)
    path = setup_logging(True)
    assert path is not None
    log = logging.getLogger("audience_manager.test")
    log.debug("looked up carol@example.com with %s", TOKEN)
    log.info("INFO lines stay without emails: dave@example.com")
    text = path.read_text("utf-8")
    assert "carol@example.com" in text and "dave@example.com" not in text
    assert TOKEN not in text


def test_a_cli_job_leaves_no_token_and_no_email_in_the_log_file(
    home: Path, loopback: Loopback, tmp_path: Path
) -> None:
    sb = loopback.sb
    emails = sb.known_emails(3)
    source = tmp_path / "list.txt"
    source.write_text("\n".join([*emails, *map(str, sb.known_subscriber_ids(3))]) + "\n")
    for verbose in ([], ["--verbose"]):
        run = loopback.run(
            [
                "apply",
                *loopback.kit_args(),
                *verbose,
                "--action",
                "tag",
                "--target",
                "Newsletter",
                str(source),
            ]
        )
        assert run.code in (0, 1), run.stderr
        log_file = home / "logs" / LOG_FILE
        text = log_file.read_text("utf-8") if log_file.exists() else ""  # created at the first line
        assert not any(s in text for s in loopback.secrets), "a token in the log file"
        info_lines = [line for line in text.splitlines() if " DEBUG " not in line]
        assert not any(EMAIL.search(line) for line in info_lines), "an email in an INFO line"
    assert "→ POST" in text or "→ GET" in text  # --verbose logged the requests
