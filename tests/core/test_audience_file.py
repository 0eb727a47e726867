"""Reading files: preview, column choice, progress, cancellation and limits."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from audience_manager.core import audience_file
from audience_manager.core.audience_file import (
    ROW_NUMBERS_NOTE,
    AudienceFileError,
    ReadCancelled,
    inspect_file,
    parse_source,
    read_audience,
)
from audience_manager.core.identifiers import IdentifierKind

EXPORT = "id,Email Address,First Name\n1001,Jane@Example.com,Jane\n1002,bob@example.com,Bob\n"


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "subscribers.csv"
    path.write_text(EXPORT, encoding="utf-8")
    return path


def test_preview_describes_the_file(export: Path) -> None:
    preview = inspect_file(export)
    assert preview.format == "csv"
    assert preview.encoding == "UTF-8"
    assert preview.delimiter == ","
    assert preview.delimiter_label == "comma"
    assert preview.has_header
    assert preview.columns == ["id", "Email Address", "First Name"]
    assert preview.rows == [["1001", "Jane@Example.com", "Jane"], ["1002", "bob@example.com", "Bob"]]
    assert (preview.guessed_column, preview.guessed_by) == (0, "heading")
    assert preview.sheets == [] and preview.sheet is None
    assert preview.size == len(EXPORT)


def test_email_column_is_guessed_when_the_account_takes_no_ids(export: Path) -> None:
    preview = inspect_file(export, accepted=frozenset({IdentifierKind.EMAIL}))
    assert preview.guessed_column == 1


def test_guessed_column_is_read_with_a_note(export: Path) -> None:
    audience = read_audience(export)
    assert [(r.row, r.identifier) for r in audience.rows] == [(1, "1001"), (2, "1002")]
    assert audience.source == "subscribers.csv, column id"
    assert ROW_NUMBERS_NOTE in audience.notes
    assert any("chosen by its heading" in note for note in audience.notes)


@pytest.mark.parametrize("column", ["Email Address", "email address", "email_address", 1, "2"])
def test_column_by_name_heading_key_index_or_number(export: Path, column: str | int) -> None:
    audience = read_audience(export, column)
    assert [r.identifier for r in audience.rows] == ["jane@example.com", "bob@example.com"]
    assert audience.source == "subscribers.csv, column Email Address"
    assert not any("chosen by" in note for note in audience.notes)


@pytest.mark.parametrize(("column", "message"), [("phone", "no column 'phone'"), (7, "no column 8")])
def test_unknown_column_lists_the_columns(export: Path, column: str | int, message: str) -> None:
    with pytest.raises(AudienceFileError, match=message) as caught:
        read_audience(export, column)
    assert "id, Email Address, First Name" in caught.value.message


def test_heading_detection_can_be_overridden(export: Path) -> None:
    audience = read_audience(export, 0, has_header=False)
    assert [p.text for p in audience.invalid] == ["id"]
    assert [r.row for r in audience.rows] == [2, 3]


def test_rows_count_records_not_lines(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('email,note\na@b.co,"two\nlines"\n\nc@d.co,x\nnope,y\n', encoding="utf-8")
    audience = read_audience(path)
    assert [(r.row, r.identifier) for r in audience.rows] == [(1, "a@b.co"), (3, "c@d.co")]
    assert [(p.row, p.text) for p in audience.invalid] == [(4, "nope")]
    assert "1 blank row was skipped." in audience.notes


def test_empty_cells_and_short_rows_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("name,email\nJane,\nBob\nCara,c@d.co\n", encoding="utf-8")
    audience = read_audience(path, "email")
    assert [(p.row, p.reason) for p in audience.invalid] == [
        (1, "No value in column 'email'; nothing to send for this row."),
        (2, "This row has only 1 cell, so nothing in column 'email'; check the row in the file."),
    ]


def test_progress_is_reported_in_bytes_up_to_the_size(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("id\n" + "".join(f"{n}\n" for n in range(1, 20_001)), encoding="utf-8")
    calls: list[tuple[int, int]] = []
    audience = read_audience(path, progress=lambda done, total: calls.append((done, total)))
    size = path.stat().st_size
    assert len(audience.rows) == 20_000
    assert len(calls) >= 4
    assert all(total == size for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (size, size)


def test_cancel_stops_the_read(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("".join(f"{n}\n" for n in range(1, 20_001)), encoding="utf-8")
    seen: list[int] = []

    def cancelled() -> bool:
        return len(seen) > 0

    with pytest.raises(ReadCancelled, match="cancelled"):
        read_audience(path, progress=lambda done, total: seen.append(done), cancel=cancelled)
    assert seen and seen[0] < path.stat().st_size


def test_a_cancel_before_the_end_of_a_small_file_still_cancels(export: Path) -> None:
    with pytest.raises(ReadCancelled):
        read_audience(export, cancel=lambda: True)


def test_too_many_rows_asks_to_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audience_file, "MAX_ROWS", 100)
    path = tmp_path / "ids.csv"
    path.write_text("".join(f"{n}\n" for n in range(1, 5_001)), encoding="utf-8")
    with pytest.raises(AudienceFileError, match=r"more than 100 rows.*Split the file"):
        read_audience(path)


def test_too_big_a_file_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audience_file, "MAX_FILE_BYTES", 10)
    path = tmp_path / "ids.csv"
    path.write_text("1\n2\n3\n4\n5\n6\n", encoding="utf-8")
    with pytest.raises(AudienceFileError, match="split the file"):
        inspect_file(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(AudienceFileError, match="does not exist"):
        read_audience(tmp_path / "gone.csv")
    with pytest.raises(AudienceFileError, match="is a folder"):
        read_audience(tmp_path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permissions cannot be relied on (tests may run as root), so the refusal is simulated."""
    path = tmp_path / "locked.csv"
    path.write_text("a@b.co\n", encoding="utf-8")
    real_open = Path.open

    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(AudienceFileError, match=r"locked\.csv cannot be read: Permission denied\."):
        read_audience(path)


def test_a_quote_never_closed_in_a_long_file_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('email\n"a@b.co\n' + "c@d.co\n" * 30_000, encoding="utf-8")
    with pytest.raises(AudienceFileError, match=r"quote \(\"\) is probably never closed"):
        read_audience(path)


def test_not_utf8_after_the_preview_is_still_found(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    body = "".join(f"user{n}@example.com\n" for n in range(250_000)).encode()  # about 5 MB
    path.write_bytes(b"email\n" + body + "ren\xe9@example.com\n".encode("latin-1"))
    assert inspect_file(path).encoding == "UTF-8"  # the preview only checks the start
    audience = read_audience(path)
    assert audience.rows[-1].identifier == "rené@example.com"
    assert any("Windows-1252" in note for note in audience.notes)


def test_stdin_is_read_as_pasted_text() -> None:
    audience = parse_source("-", stdin=io.StringIO("1001\nJane@X.com\n"))
    assert audience.source == "standard input"
    assert [r.identifier for r in audience.rows] == ["1001", "jane@x.com"]


def test_parse_source_reads_a_path(export: Path) -> None:
    assert len(parse_source(str(export), "Email Address").rows) == 2


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "book.xlsx"
    workbook = openpyxl.Workbook()
    first = workbook.active
    first.title = "Notes"
    first.append(["Read me"])
    second = workbook.create_sheet("People")
    second.append(["Email", "Subscriber ID"])
    for n in range(1, 5001):
        second.append([f"p{n}@example.com", 100_000 + n])
    workbook.save(path)
    return path


def test_workbook_preview_lists_sheets_and_picks_the_named_one(book: Path) -> None:
    preview = inspect_file(book)
    assert preview.format == "xlsx" and preview.encoding == "" and preview.delimiter is None
    assert preview.sheets == ["Notes", "People"]
    assert preview.sheet == "People"
    assert preview.columns == ["Email", "Subscriber ID"]
    assert (preview.guessed_column, preview.guessed_by) == (1, "heading")
    assert any("first sheet" in note for note in preview.notes)


def test_workbook_sheet_by_name_or_index(book: Path) -> None:
    audience = read_audience(book, "Email", sheet=1)
    assert audience.source == "book.xlsx, sheet People, column Email"
    assert len(audience.rows) == 5000
    with pytest.raises(AudienceFileError, match="heading row \\(Read me\\) but no rows under it"):
        read_audience(book, sheet="Notes")
    notes = read_audience(book, 0, sheet="Notes", has_header=False)
    assert notes.source == "book.xlsx, sheet Notes"
    assert [p.text for p in notes.invalid] == ["Read me"]
    with pytest.raises(AudienceFileError, match="no sheet 'Missing'; the sheets are: Notes, People"):
        inspect_file(book, sheet="Missing")


def test_workbook_progress_counts_rows(book: Path) -> None:
    calls: list[tuple[int, int]] = []
    read_audience(book, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (5001, 5001)
    assert calls[0][0] < 5001


def test_workbook_ids_typed_as_numbers_stay_exact(book: Path) -> None:
    audience = read_audience(book, "Subscriber ID")
    assert audience.rows[0].identifier == "100001"
    assert audience.rows[0].kind is IdentifierKind.SUBSCRIBER_ID


def test_a_workbook_without_sheets_is_a_file_error(tmp_path: Path) -> None:
    """Found by the fuzzer: a workbook.xml listing no sheets."""
    source = tmp_path / "one.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["email"])
    workbook.save(source)
    damaged = tmp_path / "none.xlsx"
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(damaged, "w") as out:
        for name in archive.namelist():
            content = archive.read(name)
            if name == "xl/workbook.xml":
                content = re.sub(rb"<sheets>.*</sheets>", b"<sheets></sheets>", content)
            out.writestr(name, content)
    with pytest.raises(AudienceFileError, match="no sheets"):
        inspect_file(damaged)


def test_a_list_on_one_line_is_read_whole_unless_a_column_is_picked(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("1001,1002,1003\n1004\n", encoding="utf-8")
    preview = inspect_file(path)
    assert (preview.guessed_column, preview.guessed_by) == (None, "list")
    calls: list[tuple[int, int]] = []
    audience = read_audience(path, progress=lambda done, total: calls.append((done, total)))
    assert [(r.row, r.identifier) for r in audience.rows] == [
        (1, "1001"),
        (2, "1002"),
        (3, "1003"),
        (4, "1004"),
    ]
    assert audience.source == "ids.csv"
    assert calls == [(preview.size, preview.size)]
    assert [r.identifier for r in read_audience(path, 1).rows] == ["1002"]


def test_a_person_per_row_with_id_and_email_is_a_table_not_a_list(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("1001,jane@x.com\n1002,bob@x.com\n", encoding="utf-8")
    preview = inspect_file(path)
    assert (preview.guessed_column, preview.guessed_by) == (0, "contents")
    assert len(read_audience(path).rows) == 2


def test_a_list_too_big_to_read_at_once_asks_for_one_per_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audience_file, "MAX_LIST_BYTES", 10)
    path = tmp_path / "ids.csv"
    path.write_text("1001,1002,1003\n", encoding="utf-8")
    with pytest.raises(AudienceFileError, match="Put one identifier per line"):
        read_audience(path)
