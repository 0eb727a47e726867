"""Standard input goes through the same checks as a file; folders and pipes say what they are."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest

from audience_manager.core.audience_file import AudienceFileError, read_audience, read_audience_stream


def test_random_binary_on_stdin_is_refused_like_a_binary_file() -> None:
    data = random.Random(5).randbytes(200_000)
    with pytest.raises(AudienceFileError, match="binary"):
        read_audience_stream(io.BytesIO(data))


def test_a_list_and_a_utf16_table_on_stdin_read_like_files() -> None:
    audience = read_audience_stream(io.BytesIO(b"101\n102\n103\n"))
    assert [r.identifier for r in audience.rows] == ["101", "102", "103"]
    assert audience.source == "standard input"
    table = "id,name\n7,Ann\n8,Bo\n".encode("utf-16")
    audience = read_audience_stream(io.BytesIO(table), "id")
    assert [r.identifier for r in audience.rows] == ["7", "8"]
    assert audience.source == "standard input, column id"


def test_empty_stdin_says_so() -> None:
    with pytest.raises(AudienceFileError, match="standard input is empty"):
        read_audience_stream(io.BytesIO(b""))


def test_a_folder_and_a_fifo_say_what_they_are(tmp_path: Path) -> None:
    with pytest.raises(AudienceFileError, match="is a folder"):
        read_audience(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(AudienceFileError, match="not a regular file"):
        read_audience(fifo)
    with pytest.raises(AudienceFileError, match="does not exist"):
        read_audience(tmp_path / "missing.csv")
