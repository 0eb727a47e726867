"""A dropped or chosen file (CSV, TSV, Excel "Unicode text" or .xlsx) into a preview and an `Audience`.

Two steps, as the UI needs them:
- `inspect_file` reads only the start of the file: its encoding, separator, heading, columns, first
  rows, the column we would pick and the workbook's sheets. Cheap enough to call on drop.
- `read_audience` streams the whole file (it is never loaded at once) into an `Audience`, reporting
  progress and checking for cancellation, so the UI runs it in a worker thread.

Every failure is an `AudienceFileError` whose message says what is wrong and what to do; nothing
else escapes for any file content. Decisions:
- Rows are numbered by data record: row 1 is the first record under the heading (or the first
  record when there is no heading). A record may span lines (a quoted line break), so numbers can
  differ from line numbers; blank records keep their number (so numbers match a spreadsheet's rows,
  minus the heading) but are not reported.
- Large files are streamed, not refused: up to `MAX_FILE_BYTES` on disk and `MAX_ROWS` records, which
  is more than a job can run in a day on any platform; above that the user is asked to split it.
- Text that is not valid UTF-8 anywhere in the file is read as Windows-1252, with a note.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

from audience_manager.core.audience import Audience
from audience_manager.core.audience_builder import AudienceBuilder
from audience_manager.core.cells import ALL_KINDS, CellReader, heading_key
from audience_manager.core.columns import guess_column, is_heading_row
from audience_manager.core.delimiters import LABELS, ONE_COLUMN, sniff_delimiter
from audience_manager.core.encoding import (
    BINARY,
    SAMPLE_BYTES,
    NotAList,
    TextEncoding,
    file_kind,
    looks_binary,
    text_encoding,
)
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.paste import parse_text
from audience_manager.core.workbook import Workbook, WorkbookError

MAX_FILE_BYTES = 1_000_000_000
MAX_ROWS = 2_000_000
# A list with several identifiers on a line is parsed in memory, like pasted text (about 35 times its
# size): bounded so a 50 MB single line is refused at once instead of taking gigabytes. One id per
# line (or a table) is streamed and has no such limit.
MAX_LIST_BYTES = 8_000_000
PREVIEW_ROWS = 20
_EXCEL_SEP_RE = re.compile(r"sep=([^\r\n\"])[ \t]*(?:\r\n|\r|\n)", re.IGNORECASE)
_LIST_SEPARATORS_RE = re.compile(r"[,;\s|]+")
_CHECK_EVERY = 4096  # records between progress reports and cancellation checks

Progress = Callable[[int, int], None]
"""Called with (done, total): bytes for text files, rows for workbooks (total 0 when unknown)."""
Cancel = Callable[[], bool]
"""Returns True once the user has cancelled; pass `threading.Event().is_set`."""

ROW_NUMBERS_NOTE = "Row numbers count data rows: row 1 is the first row under the heading."
ROW_NUMBERS_NO_HEADING_NOTE = "Row numbers count data rows: row 1 is the first row of the file."


class AudienceFileError(Exception):
    """A file that cannot be read as an audience. `str(error)` is the message for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ReadCancelled(AudienceFileError):
    """The user cancelled `read_audience`."""

    def __init__(self) -> None:
        super().__init__("Reading the file was cancelled.")


@dataclass(frozen=True)
class FilePreview:
    path: Path
    format: str  # "csv" for any text file, "xlsx" for a workbook
    encoding: str  # in the user's words ("UTF-8", "UTF-16 LE (Excel Unicode text)"); "" for xlsx
    delimiter: str | None  # "," ";" "\t" "|"; None for one column and for workbooks
    has_header: bool
    columns: list[str]  # the headings, or "Column 1", "Column 2"... when there is no heading
    rows: list[list[str]]  # the first data rows, as text, not padded
    # 0-based; None when we cannot tell (the user must pick), or for a list (see `guessed_by`).
    guessed_column: int | None
    # "heading", "contents", "only column", "" (no guess), or "list": every cell is an identifier
    # (`1001,1002,1003`), and `read_audience` with no column reads them all.
    guessed_by: str
    sheets: list[str] = field(default_factory=list)  # workbooks: every sheet, in order
    sheet: str | None = None  # workbooks: the sheet previewed
    size: int = 0  # bytes on disk
    notes: list[str] = field(default_factory=list)

    @property
    def delimiter_label(self) -> str:
        return LABELS.get(self.delimiter or ONE_COLUMN, "")


@dataclass
class _Plan:
    """What `inspect_file` found, and what `read_audience` needs to stream the rest."""

    preview: FilePreview
    text_encoding: TextEncoding | None
    reader_delimiter: str
    skip_records: int  # leading blank records, Excel's `sep=` line and the heading
    book: Workbook | None = None  # kept open for `read_audience`: loading a big workbook is slow


def _fail(path: Path, message: str) -> AudienceFileError:
    return AudienceFileError(message.replace("{name}", path.name))


def _check_size(path: Path) -> int:
    try:
        if not path.exists():
            raise _fail(path, "{name} does not exist (it may have been moved or renamed).")
        if path.is_dir():
            raise _fail(path, "{name} is a folder; drop a CSV or .xlsx file instead.")
        if not path.is_file():
            raise _fail(
                path,
                "{name} is not a regular file (a pipe, a socket or a device). Save the list to a file and"
                " load that; on the command line, INPUT - reads a list piped to standard input.",
            )
        size = path.stat().st_size
    except OSError as exc:
        raise _fail(path, f"{{name}} cannot be opened: {exc.strerror or exc}.") from exc
    if size == 0:
        raise _fail(path, "{name} is empty. Export the list again, or paste the identifiers instead.")
    if size > MAX_FILE_BYTES:
        raise _fail(
            path,
            f"{{name}} is {size / 1e9:.1f} GB; files up to {MAX_FILE_BYTES / 1e9:.0f} GB can be read. "
            "Keep only the id or email column, or split the file, and load it again.",
        )
    return size


class _CountingReader(io.RawIOBase):
    """Counts the bytes read under a text wrapper, for progress in bytes."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


@contextmanager
def _open_text(path: Path, encoding: TextEncoding) -> Iterator[tuple[TextIO, _CountingReader]]:
    with path.open("rb") as raw:
        counter = _CountingReader(raw)
        buffered = io.BufferedReader(counter, buffer_size=1 << 16)
        text = io.TextIOWrapper(buffered, encoding=encoding.codec, errors=encoding.errors, newline="")
        try:
            yield text, counter
        finally:
            text.detach()


def _csv_records(text: TextIO, delimiter: str, path: Path) -> Iterator[list[str]]:
    reader = csv.reader(text, delimiter=delimiter)
    ended_at = 0  # the line the last whole record ended on
    try:
        for record in reader:
            ended_at = reader.line_num
            yield record
    except csv.Error as exc:
        # A cell over the limit on one line is a very long line; over several, an open quote.
        if "field larger than field limit" in str(exc) and reader.line_num - ended_at <= 1:
            raise _fail(
                path,
                f"{{name}} has a cell of more than {csv.field_size_limit():,} characters near line"
                f" {reader.line_num}: one very long line. An id or email is a few dozen characters: check"
                " that this is the exported list, or save it again from your spreadsheet app as CSV UTF-8.",
            ) from exc
        raise _fail(
            path,
            f'{{name}} could not be read near line {reader.line_num}: a quote (") is probably never '
            "closed, so the rest of the file looks like one cell. Fix or remove that quote, or save "
            "the file again from your spreadsheet app as CSV UTF-8.",
        ) from exc
    except UnicodeDecodeError as exc:
        raise _fail(
            path,
            f"{{name}} changes encoding near line {reader.line_num}. Save it from your spreadsheet "
            "app as CSV UTF-8 and load it again.",
        ) from exc


def _is_blank(record: list[str]) -> bool:
    return not any(cell.strip() for cell in record)


def _headings(first: list[str], width: int) -> list[str]:
    names = [cell.strip() or f"Column {index + 1}" for index, cell in enumerate(first)]
    names.extend(f"Column {index + 1}" for index in range(len(names), width))
    return names


def _is_identifier_list(rows: list[list[str]], accepted: frozenset[IdentifierKind]) -> bool:
    """A file like `1001,1002,1003` is a list written on one line, not a table with three columns:
    every cell is an identifier of one kind (a table of an id and an email per person is not)."""
    reader = CellReader(accepted)
    kinds: set[IdentifierKind] = set()
    widest = 0
    for row in rows:
        identifiers = [part for cell in row for part in _LIST_SEPARATORS_RE.split(cell) if part]
        for part in identifiers:
            kind = reader.read(part).kind
            if kind is None:
                return False
            kinds.add(kind)
        widest = max(widest, len(identifiers))
    return len(kinds) == 1 and widest >= 2


_LONG_LIST = (
    "{name} lists several identifiers on a line, and is "
    f"bigger than {MAX_LIST_BYTES // 1_000_000} MB. Put one identifier per line and load it again."
)


def _read_list(
    path: Path, plan: _Plan, accepted: frozenset[IdentifierKind], progress: Progress | None
) -> Audience:
    """Every cell of an identifier list, read with the pasted-text rules (see `core.paste`)."""
    preview = plan.preview
    if preview.size > MAX_LIST_BYTES:
        raise _fail(path, _LONG_LIST)
    assert plan.text_encoding is not None
    with _open_text(path, plan.text_encoding) as (text, _):
        content = text.read()
    audience = parse_text(content, accepted, source=path.name)
    audience.notes[:0] = [
        *preview.notes,
        "The file is a list of identifiers rather than a table, so every cell was read.",
    ]
    if progress:
        progress(preview.size, preview.size)
    return audience


def _plan_from_records(
    path: Path,
    records: Iterator[list[str]],
    *,
    fmt: str,
    size: int,
    accepted: frozenset[IdentifierKind],
    has_header: bool | None,
    encoding: TextEncoding | None,
    delimiter: str,
    sheets: list[str],
    sheet: str | None,
    excel_separator_line: bool = False,
) -> _Plan:
    leading_blank = 0
    head: list[list[str]] = []
    if excel_separator_line:
        next(records, None)
        leading_blank += 1
    for record in records:
        if not head and _is_blank(record):
            leading_blank += 1
            continue
        head.append(record)
        if len(head) > PREVIEW_ROWS:
            break
    where = f"The sheet {sheet!r} of {{name}}" if sheet is not None else "{name}"
    if not head:
        others = [name for name in sheets if name != sheet]
        hint = f" Pick another sheet: {', '.join(others)}." if others else ""
        raise _fail(path, f"{where} has no rows, only blank lines.{hint}")
    header = is_heading_row(head[0], head[1:]) if has_header is None else has_header
    data = head[1:] if header else head
    data_rows = [row for row in data if not _is_blank(row)]
    if header and not data_rows:
        shown = ", ".join(cell.strip() for cell in head[0] if cell.strip())[:200]
        raise _fail(
            path,
            f"{where} has a heading row ({shown}) but no rows under it. Export the list again with "
            "its rows, or paste the identifiers instead.",
        )
    width = max(len(row) for row in head)
    columns = _headings(head[0], width) if header else [f"Column {i + 1}" for i in range(width)]
    guessed, guessed_by = guess_column(columns if header else None, data_rows, accepted)
    if not header and fmt == "csv" and _is_identifier_list(data_rows, accepted):
        guessed, guessed_by = None, "list"
    notes = [encoding.note] if encoding is not None and encoding.note else []
    preview = FilePreview(
        path=path,
        format=fmt,
        encoding=encoding.label if encoding else "",
        delimiter=None if delimiter == ONE_COLUMN else delimiter,
        has_header=header,
        columns=columns,
        rows=data[:PREVIEW_ROWS],
        guessed_column=guessed,
        guessed_by=guessed_by,
        sheets=sheets,
        sheet=sheet,
        size=size,
        notes=notes,
    )
    return _Plan(preview, encoding, delimiter, leading_blank + (1 if header else 0))


def _plan_workbook(
    path: Path,
    book: Workbook,
    sheet: str | int | None,
    *,
    size: int,
    accepted: frozenset[IdentifierKind],
    has_header: bool | None,
) -> _Plan:
    """The chosen sheet; with none chosen, the first sheet, unless only a later sheet has a column
    named like ours (a workbook whose first sheet is a summary or a blank "Sheet1")."""

    def plan_sheet(name: str) -> _Plan:
        return _plan_from_records(
            path,
            book.rows(name),
            fmt="xlsx",
            size=size,
            accepted=accepted,
            has_header=has_header,
            encoding=None,
            delimiter=ONE_COLUMN,
            sheets=book.sheets,
            sheet=name,
        )

    if sheet is not None or len(book.sheets) <= 1:
        return plan_sheet(book.pick(sheet))
    first_sheet = book.sheets[0]
    fallback: _Plan | AudienceFileError | None = None
    for name in book.sheets:
        try:
            plan = plan_sheet(name)
        except WorkbookError:
            raise
        except AudienceFileError as exc:  # an empty or heading-only sheet
            fallback = fallback or exc
            continue
        if plan.preview.guessed_by == "heading":
            break
        if not isinstance(fallback, _Plan):
            fallback = plan
    else:
        if fallback is None:
            raise _fail(path, "{name} has no rows on any sheet.")
        if isinstance(fallback, AudienceFileError):
            raise fallback
        plan = fallback
    if plan.preview.sheet != first_sheet:
        plan.preview.notes.append(
            f"The first sheet, {first_sheet!r}, has no column of ids or emails, so the sheet "
            f"{plan.preview.sheet!r} was read; pick another sheet if needed."
        )
    return plan


def _plan(
    path: Path,
    *,
    accepted: frozenset[IdentifierKind],
    sheet: str | int | None,
    has_header: bool | None,
    whole_file: bool,
    keep_open: bool = False,
) -> _Plan:
    size = _check_size(path)
    try:
        with path.open("rb") as stream:
            head = stream.read(SAMPLE_BYTES)
        kind = file_kind(head, path)
        if kind == "xlsx":
            book = Workbook(path)
            try:
                plan = _plan_workbook(path, book, sheet, size=size, accepted=accepted, has_header=has_header)
            except BaseException:
                book.close()
                raise
            if keep_open:
                plan.book = book
            else:
                book.close()
            return plan
        encoding = text_encoding(head, path, whole_file=whole_file)
        with _open_text(path, encoding) as (text, _):
            sample = text.read(SAMPLE_BYTES)
        if looks_binary(sample[:SAMPLE_BYTES]):
            raise NotAList(BINARY)
        if size > MAX_LIST_BYTES and "\n" not in sample and "\r" not in sample:
            raise _fail(path, _LONG_LIST)  # before csv splits a huge first line into millions of cells
        # Excel writes (and honours) a first line `sep=;` naming the separator.
        separator_line = _EXCEL_SEP_RE.match(sample)
        if separator_line:
            delimiter = separator_line.group(1)
        else:
            delimiter = sniff_delimiter(sample, truncated=size > SAMPLE_BYTES)
        with _open_text(path, encoding) as (text, _):
            return _plan_from_records(
                path,
                _csv_records(text, delimiter, path),
                fmt="csv",
                size=size,
                accepted=accepted,
                has_header=has_header,
                encoding=encoding,
                delimiter=delimiter,
                sheets=[],
                sheet=None,
                excel_separator_line=separator_line is not None,
            )
    except NotAList as exc:
        raise _fail(path, f"{{name}} is {exc.what}, not a list of subscribers. {exc.advice}") from exc
    except WorkbookError as exc:
        raise AudienceFileError(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise _fail(
            path, "{name} mixes text encodings. Save it from your spreadsheet app as CSV UTF-8."
        ) from exc
    except OSError as exc:
        raise _fail(path, f"{{name}} cannot be read: {exc.strerror or exc}.") from exc


def inspect_file(
    path: str | Path,
    *,
    accepted: frozenset[IdentifierKind] = ALL_KINDS,
    sheet: str | int | None = None,
    has_header: bool | None = None,
) -> FilePreview:
    """Only the start of the file is read. `has_header` overrides the heading detection."""
    return _plan(Path(path), accepted=accepted, sheet=sheet, has_header=has_header, whole_file=False).preview


def _resolve_column(preview: FilePreview, column: str | int | None) -> int:
    listed = ", ".join(preview.columns)
    if column is None:
        if preview.guessed_column is None:
            raise _fail(
                preview.path,
                f"Could not tell which column of {{name}} holds the ids or emails. Pick one: {listed}.",
            )
        return preview.guessed_column
    if isinstance(column, int):
        if 0 <= column < len(preview.columns):
            return column
        raise _fail(preview.path, f"{{name}} has no column {column + 1}; its columns are: {listed}.")
    wanted = column.strip()
    for matches in (
        lambda name: name == wanted,
        lambda name: name.casefold() == wanted.casefold(),
        lambda name: heading_key(name) == heading_key(wanted),
    ):
        for index, name in enumerate(preview.columns):
            if matches(name):
                return index
    if wanted.isdigit() and 1 <= int(wanted) <= len(preview.columns):
        return int(wanted) - 1  # "3" on the command line means the third column
    raise _fail(preview.path, f"{{name}} has no column {wanted!r}; its columns are: {listed}.")


def read_audience(
    path: str | Path,
    column: str | int | None = None,
    *,
    accepted: frozenset[IdentifierKind] = ALL_KINDS,
    sheet: str | int | None = None,
    has_header: bool | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    value_columns: Sequence[str | int] = (),
) -> Audience:
    """The whole file as an audience. `column` is a heading, a 0-based index, or None for our guess.

    `value_columns` (headings or indexes) are read too: each row keeps its own cells of them
    (`AudienceRow.values`, keyed by the column's heading), for fields set from the file.

    Raises `AudienceFileError` (with a message for the user) or `ReadCancelled` (a subclass).
    """
    path = Path(path)
    plan = _plan(path, accepted=accepted, sheet=sheet, has_header=has_header, whole_file=True, keep_open=True)
    try:
        return _read_planned(path, plan, column, accepted, progress, cancel, value_columns)
    finally:
        if plan.book is not None:
            plan.book.close()


def _read_planned(
    path: Path,
    plan: _Plan,
    column: str | int | None,
    accepted: frozenset[IdentifierKind],
    progress: Progress | None,
    cancel: Cancel | None,
    value_columns: Sequence[str | int] = (),
) -> Audience:
    preview = plan.preview
    if column is None and preview.guessed_by == "list":  # a plain list: no other columns to read
        if cancel is not None and cancel():
            raise ReadCancelled()
        try:
            return _read_list(path, plan, accepted, progress)
        except OSError as exc:
            raise _fail(path, f"{{name}} could not be read to the end: {exc.strerror or exc}.") from exc
    index = _resolve_column(preview, column)
    name = preview.columns[index]
    extra = [(preview.columns[i], i) for i in (_resolve_column(preview, c) for c in value_columns)]
    # A plain list without a heading is named by its file alone ("emails.txt").
    column_words = "" if len(preview.columns) == 1 and not preview.has_header else f", column {name}"
    sheet_words = f", sheet {preview.sheet}" if preview.sheet else ""
    source = f"{path.name}{sheet_words}{column_words}"
    builder = AudienceBuilder(accepted, source)
    builder.notes.extend(preview.notes)
    if column is None and preview.guessed_by in ("heading", "contents"):
        builder.notes.append(
            f"The column {name!r} was chosen by its {preview.guessed_by}; pick another if needed."
        )
    builder.notes.append(ROW_NUMBERS_NOTE if preview.has_header else ROW_NUMBERS_NO_HEADING_NOTE)
    try:
        if preview.format == "xlsx":
            sheet_name = preview.sheet or ""
            book = plan.book
            assert book is not None
            total = book.row_estimate(sheet_name)
            rows_read, blank = _feed(
                builder,
                book.rows(sheet_name),
                plan,
                index,
                name,
                path,
                cancel,
                lambda done: progress(done, total) if progress else None,
                extra,
            )
            if progress:
                progress(rows_read, max(total, rows_read))
        else:
            assert plan.text_encoding is not None
            with _open_text(path, plan.text_encoding) as (text, counter):
                _, blank = _feed(
                    builder,
                    _csv_records(text, plan.reader_delimiter, path),
                    plan,
                    index,
                    name,
                    path,
                    cancel,
                    lambda _done: progress(counter.count, preview.size) if progress else None,
                    extra,
                )
            if progress:
                progress(preview.size, preview.size)
        if blank:
            builder.notes.append(_blank_note(blank))
    except WorkbookError as exc:
        raise AudienceFileError(str(exc)) from exc
    except OSError as exc:
        raise _fail(path, f"{{name}} could not be read to the end: {exc.strerror or exc}.") from exc
    return builder.build()


def _feed(
    builder: AudienceBuilder,
    records: Iterator[list[str]],
    plan: _Plan,
    index: int,
    name: str,
    path: Path,
    cancel: Cancel | None,
    report: Callable[[int], object],
    extra: Sequence[tuple[str, int]] = (),
) -> tuple[int, int]:
    """Adds every data record to `builder`; returns (records read in all, blank rows skipped)."""
    skip = plan.skip_records
    row = 0
    blank = 0
    pending_blank = 0  # blank records at the very end are not worth a note
    add = builder.add
    read = 0
    for read, record in enumerate(records, start=1):
        if read <= skip:
            continue
        row += 1
        if read % _CHECK_EVERY == 0:
            if cancel is not None and cancel():
                raise ReadCancelled()
            report(read)
            if row > MAX_ROWS:
                raise _fail(
                    path,
                    f"{{name}} has more than {MAX_ROWS:,} rows; one job takes up to {MAX_ROWS:,}. "
                    "Split the file and run it in parts.",
                )
        if index < len(record) and record[index].strip():
            if extra:
                values = tuple((c, record[i].strip() if i < len(record) else "") for c, i in extra)
                add(row, record[index], values=values)
            else:
                add(row, record[index])
        elif _is_blank(record):
            pending_blank += 1
            continue
        elif index < len(record):
            builder.add_problem(row, "", f"No value in column {name!r}; nothing to send for this row.")
        else:
            builder.add_problem(
                row,
                "",
                f"This row has only {len(record)} cell{'s' if len(record) != 1 else ''}, so nothing in "
                f"column {name!r}; check the row in the file.",
            )
        blank += pending_blank
        pending_blank = 0
    if cancel is not None and cancel():
        raise ReadCancelled()
    return read, blank


def _blank_note(count: int) -> str:
    return f"{count} blank row{'s were' if count != 1 else ' was'} skipped."


STDIN_NAME = "standard input"


def read_audience_stream(
    stream: BinaryIO,
    column: str | int | None = None,
    *,
    accepted: frozenset[IdentifierKind] = ALL_KINDS,
    name: str = STDIN_NAME,
    value_columns: Sequence[str | int] = (),
) -> Audience:
    """An audience from a byte stream (standard input), read exactly as a file is: the same checks
    for binary data, encodings, size and columns. The bytes are copied to a private temporary file
    as they arrive (at most `MAX_FILE_BYTES`), so memory does not grow with the input."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="audience-manager-") as folder:
        path = Path(folder) / name
        with path.open("wb") as out:
            shutil.copyfileobj(_Limited(stream, MAX_FILE_BYTES + 1), out)
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _fail(
                path,
                f"{{name}} sent more than {MAX_FILE_BYTES / 1e9:.0f} GB; keep only the id or email column, or"
                " split the list.",
            )
        audience = read_audience(path, column, accepted=accepted, value_columns=value_columns)
    audience.source = name if column is None else f"{name}, column {column}"
    return audience


class _Limited(io.RawIOBase):
    """At most `limit` bytes of `stream`."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self._left = limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if size < 0 else min(size, self._left)
        data = self._stream.read(want) or b""
        self._left -= len(data)
        return data


def parse_source(
    source: str,
    column: str | int | None = None,
    *,
    accepted: frozenset[IdentifierKind] = ALL_KINDS,
    sheet: str | int | None = None,
    stdin: TextIO | None = None,
) -> Audience:
    """For the command line: `source` is a file path, or `-` for identifiers on standard input
    (read as pasted text)."""
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin
        return parse_text(stream.read(), accepted, source="standard input")
    return read_audience(source, column, accepted=accepted, sheet=sheet)
