"""The guesses behind a preview: separator, heading row, column, encoding, workbook cells."""

from __future__ import annotations

import codecs
import datetime
from pathlib import Path

import pytest

from audience_manager.core.columns import guess_column, is_heading_row
from audience_manager.core.delimiters import ONE_COLUMN, sniff_delimiter
from audience_manager.core.encoding import (
    CP1252,
    UTF8,
    UTF8_BOM,
    NotAList,
    file_kind,
    looks_binary,
    text_encoding,
)
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.workbook import cell_text


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("email,name\na@b.co,A\nc@d.co,C\n", ","),
        ("email;name\na@b.co;A\n", ";"),
        ("id;name;spent\n1;Jane;12,50\n2;Bob;3,00\n", ";"),  # decimal commas do not fool it
        ("name\temail\nDoe, Jane\ta@b.co\nRoe, Bob\tc@d.co\n", "\t"),  # commas inside cells
        ("email|name\na@b.co|A\n", "|"),
        ('email,note\na@b.co,"x;y;z"\nc@d.co,"p;q;r"\n', ","),  # quoted semicolons
        ("a@b.co\nc@d.co\n", ONE_COLUMN),
        ("1001\n1,234\n1002\n", ONE_COLUMN),  # a mangled cell is not a separator
        ("", ONE_COLUMN),
    ],
)
def test_sniff_delimiter(sample: str, expected: str) -> None:
    assert sniff_delimiter(sample, truncated=False) == expected


def test_a_truncated_sample_ignores_its_last_partial_line() -> None:
    sample = "email;name\na@b.co;A\nc@d.co;C\ne@f.co;E,x,y,z,w"
    assert sniff_delimiter(sample, truncated=True) == ";"


@pytest.mark.parametrize(
    ("first", "following", "expected"),
    [
        (["Email Address", "First Name"], [["a@b.co", "A"]], True),
        (["Contact Id"], [], True),
        (["a@b.co", "A"], [["c@d.co", "C"]], False),
        (["1001"], [["1002"]], False),
        (["Who", "Where"], [["a@b.co", "Paris"]], True),  # unknown words over usable rows
        (["Who", "Where"], [["Jane", "Paris"]], False),  # nothing usable anywhere: no evidence
        (["Title of the report"], [], True),
        (["Prénom", "Adresse e-mail"], [["René", "r@x.fr"]], True),
        (["#N/A"], [["1001"]], False),  # a broken first value is a row, reported, not a heading
        (["1.23E+05"], [["1001"]], False),
        (["-----"], [["a@b.co"]], False),
    ],
)
def test_is_heading_row(first: list[str], following: list[list[str]], expected: bool) -> None:
    assert is_heading_row(first, following) is expected


def test_guess_by_heading_prefers_ids_then_emails() -> None:
    rows = [["a@b.co", "1001"], ["c@d.co", "1002"]]
    assert guess_column(["Email", "Subscriber ID"], rows) == (1, "heading")
    emails_only = frozenset({IdentifierKind.EMAIL})
    assert guess_column(["Email", "Subscriber ID"], rows, emails_only) == (0, "heading")


def test_a_heading_whose_cells_are_not_usable_loses_to_the_contents() -> None:
    rows = [["X-1", "a@b.co"], ["X-2", "c@d.co"]]  # an "id" column from some other tool
    assert guess_column(["id", "who"], rows) == (1, "contents")


def test_guess_by_contents_without_headings_and_no_guess() -> None:
    assert guess_column(None, [["Jane", "a@b.co"], ["Bob", "c@d.co"]]) == (1, "contents")
    assert guess_column(None, [["Jane", "Paris"]]) == (None, "")
    assert guess_column(None, [["anything"]]) == (0, "only column")


def test_file_kind_recognises_what_is_not_a_list(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    for head, what in [
        (b"\x89PNG\r\n\x1a\n", "PNG image"),
        (b"\xff\xd8\xff\xe0", "JPEG image"),
        (b"GIF89a", "GIF image"),
        (b"%PDF-1.7", "PDF document"),
        (b"{\\rtf1", "rich-text"),
        (b"\xd0\xcf\x11\xe0", ".xls workbook"),
        (b"  <!DOCTYPE HTML>", "web page"),
    ]:
        with pytest.raises(NotAList, match=what):
            file_kind(head, path)
    assert file_kind(b"email\na@b.co\n", path) == "text"


def test_text_encodings(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"

    def sniff(data: bytes) -> str:
        path.write_bytes(data)
        return text_encoding(data[:65536], path, whole_file=True).label

    assert sniff(b"email\na@b.co\n") == UTF8.label
    assert sniff(codecs.BOM_UTF8 + b"email\n") == UTF8_BOM.label
    assert sniff(codecs.BOM_UTF16_LE + "email\n".encode("utf-16-le")) == "UTF-16 LE (Excel Unicode text)"
    assert sniff(codecs.BOM_UTF16_BE + "email\n".encode("utf-16-be")) == "UTF-16 BE"
    assert sniff("email\na@b.co\n".encode("utf-16-be")) == "UTF-16 BE (no BOM)"
    assert sniff("Prénom\n".encode("cp1252")) == CP1252.label
    with pytest.raises(NotAList, match="binary"):
        sniff(b"ab\x00cd\x00\x00\x00\x01\x02")


def test_looks_binary() -> None:
    assert looks_binary("\x01\x02\x03abc")
    assert not looks_binary("email\tname\r\na@b.co\tA\n")
    assert not looks_binary("")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (1001, "1001"),
        (1002.0, "1002"),
        (12.5, "12.5"),
        (1234567890123456789.0, "1.234568E+18"),  # beyond Excel's 15 digits: reported, not guessed
        (True, "TRUE"),
        (datetime.date(2024, 1, 2), "2024-01-02"),
        (" a@b.co ", " a@b.co "),
    ],
)
def test_workbook_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text
