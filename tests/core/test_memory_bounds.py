"""Inputs built to exhaust memory are refused from their size, before they are inflated or split."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from audience_manager.core.audience_file import AudienceFileError, read_audience


def _bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/sharedStrings.xml", "w") as f:
            chunk = b"<si><t>" + b"A" * 1000 + b"</t></si>"
            for _ in range(200_000):  # 200 MB unpacked from about 0.5 MB
                f.write(chunk)
    return path


def test_an_xlsx_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    path = _bomb(tmp_path / "bomb.xlsx")
    assert path.stat().st_size < 2_000_000
    started = time.monotonic()
    with pytest.raises(AudienceFileError, match="once unpacked"):
        read_audience(path)
    assert time.monotonic() - started < 2


def test_a_huge_single_line_is_refused_before_it_is_split(tmp_path: Path) -> None:
    path = tmp_path / "one-line.txt"
    path.write_text(",".join(str(100_000 + n) for n in range(1_500_000)))  # about 10 MB, no line break
    started = time.monotonic()
    with pytest.raises(AudienceFileError, match="several identifiers on a line"):
        read_audience(path)
    assert time.monotonic() - started < 2
