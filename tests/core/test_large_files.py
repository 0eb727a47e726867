"""Large files: generated at test time (never committed). A 50 MB file is streamed in bounded
memory; a million-row export parses in seconds."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from audience_manager.core.audience_file import inspect_file, read_audience

MB = 1024 * 1024


def test_a_50_mb_file_is_streamed_not_loaded(tmp_path: Path) -> None:
    """5,000 rows with a 10 kB notes column each: the file is 50 MB, the audience is tiny, so the
    memory peak shows whether the reader holds the file."""
    path = tmp_path / "wide.csv"
    note = "x" * (10 * 1024)
    with path.open("w", encoding="utf-8", newline="") as stream:
        stream.write("email,notes\n")
        for n in range(5_000):
            stream.write(f"user{n}@example.com,{note}\n")
    assert path.stat().st_size > 50 * 1000 * 1000
    calls: list[int] = []
    tracemalloc.start()
    try:
        preview = inspect_file(path)
        audience = read_audience(path, progress=lambda done, total: calls.append(done))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert preview.columns == ["email", "notes"]
    assert len(audience.rows) == 5_000
    assert calls[-1] == path.stat().st_size
    assert peak < 12 * MB, f"peak {peak / MB:.1f} MB while reading a 50 MB file"


@pytest.mark.slow
def test_a_million_row_export_parses_in_seconds(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        stream.write("id,email_address,first_name\n")
        for n in range(1, 1_000_001):
            stream.write(f"{n},user{n}@example.com,Name{n}\n")
    progress: list[int] = []
    started = time.perf_counter()
    audience = read_audience(path, progress=lambda done, total: progress.append(done))
    elapsed = time.perf_counter() - started
    assert len(audience.rows) == 1_000_000
    assert audience.rows[-1].row == 1_000_000 and audience.rows[-1].identifier == "1000000"
    assert audience.invalid == [] and audience.duplicates == []
    assert len(progress) > 200  # the progress bar moves, every 4096 rows
    # About 5 s on a shared 2-core box; the bound only catches an order-of-magnitude regression.
    assert elapsed < 30, f"{elapsed:.1f} s"
