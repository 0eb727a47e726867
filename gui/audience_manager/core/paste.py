"""Pasted text into an `Audience`.

Identifiers may be one per line or separated by commas, semicolons, tabs or spaces (a row copied
from a spreadsheet arrives tab-separated). What each token is, and the reason when it is not usable,
comes from `core.cells`, the same rules as for files.

Row numbers (the `row` of every row and problem, used in the report, the journal and retries) must
be unique, and should point at something the user can find:
- When every line holds at most one identifier (the usual paste of a column), `row` is the line
  number, 1-based, blank lines included, so it matches the line numbers of the paste box.
- When any line holds several, `row` is the identifier's position in the text (1 = the first
  identifier), and each problem's reason ends with "(line N)". A note says which rule applied.

A table copied from a spreadsheet (every line the same number of tab-separated cells, one column of
identifiers and other columns that are not, such as names) is read like a file: the identifier
column is picked by its heading or its contents, a heading line is skipped, `row` is the line
number, and a note names the column. Tab-separated identifiers in every column stay tokens.

Addresses copied from a mail client (`Jane Doe <jane@example.com>, "Roe, Bob" <bob@example.com>`)
keep only the address, so the names are not reported as rows.

A group like `1,234` standing alone (not part of a longer comma list) is kept as one token and
reported, because it may be one number with a thousands separator or two ids; we never guess.
"""

from __future__ import annotations

import re

from audience_manager.core.audience import Audience
from audience_manager.core.audience_builder import AudienceBuilder
from audience_manager.core.cells import ALL_KINDS, CellReader
from audience_manager.core.columns import guess_column, is_heading_row
from audience_manager.core.identifiers import IdentifierKind

_SEPARATOR_RE = re.compile(r"[,;\s]")
_SEPARATOR_IN_LINE_RE = re.compile(r"[,;]|[^\S\n\r]")
# `Jane Doe <jane@example.com>` or `"Doe, Jane" <jane@example.com>`, as copied from a mail client's
# address field: the name is dropped, so it is not reported as a row of its own.
_ADDRESS_RE = re.compile(r'(?:"[^"\n]*"|[^,;<>"\t\n]*?)[ \t]*<([^<>\s,;]+@[^<>\s,;]+)>')
_TOKEN_RE = re.compile(r"(?<![^\s;])\d{1,3}(?:,\d{3})+(?![^\s;])|[^,;\s]+")

NUMBERED_BY_IDENTIFIER_NOTE = (
    "Some lines hold several identifiers, so rows are numbered by identifier (1 = the first one); "
    "problems say which line they are on."
)


def _tokens(line: str) -> list[str]:
    if not _SEPARATOR_RE.search(line):
        return [line] if line else []
    return _TOKEN_RE.findall(line)


def _holds_identifiers(reader: CellReader, cell: str) -> bool:
    """A cell with an identifier in it, valid or not ("0" and "007" are ids someone typed), or
    several separated by spaces or commas: such a column is part of a list, not a table's other
    column."""
    return any(reader.read(token).kind is not None or token.isdigit() for token in _tokens(cell))


def _table_column(
    text: str, lines: list[str], accepted: frozenset[IdentifierKind]
) -> tuple[int, bool, str, str] | None:
    """(column, has heading, its name, how it was chosen) when the paste is a table; else None."""
    if "\t" not in text:
        return None
    table = [line.split("\t") for line in lines if line.strip()]
    width = len(table[0]) if table else 0
    if len(table) < 2 or width < 2 or any(len(cells) != width for cells in table):
        return None
    heading = is_heading_row(table[0], table[1:21])
    data = table[1:] if heading else table
    column, how = guess_column(table[0] if heading else None, data[:200], accepted)
    if column is None or how not in ("heading", "contents"):
        return None
    reader = CellReader(accepted)
    sample = data[:200]
    for other in range(width):
        if other == column:
            continue
        cells = [cells[other] for cells in sample if cells[other].strip()]
        tried = sum(_holds_identifiers(reader, cell) for cell in cells)
        if cells and tried * 2 >= len(cells):
            return None  # identifiers in several columns: a tab-separated list, not a table
    name = table[0][column].strip() if heading else f"Column {column + 1}"
    return column, heading, name or f"Column {column + 1}", how


def _parse_table(
    builder: AudienceBuilder, lines: list[str], column: int, heading: bool, name: str, how: str
) -> Audience:
    builder.notes.append(
        f"The paste is a table: the column {name!r} was read (chosen by its {how}); the other columns "
        "were ignored. Rows are numbered by line."
    )
    skip_heading = heading
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if skip_heading:
            skip_heading = False
            continue
        cell = line.split("\t")[column]
        if cell.strip():
            builder.add(line_number, cell)
        else:
            builder.add_problem(
                line_number, "", f"No value in column {name!r}; nothing to send for this line."
            )
    return builder.build()


def parse_text(
    text: str, accepted: frozenset[IdentifierKind] = ALL_KINDS, *, source: str = "pasted text"
) -> Audience:
    """Never raises on any text; every token ends in exactly one of rows, invalid or duplicates."""
    builder = AudienceBuilder(accepted, source)
    lines = text.splitlines()
    add = builder.add
    first = True
    if not _SEPARATOR_IN_LINE_RE.search(text):
        # The usual paste of one column: one token per line, nothing to split.
        for line_number, line in enumerate(lines, start=1):
            if line:
                add(line_number, line, first=first)
                first = False
        return builder.build()
    table = _table_column(text, lines, accepted)
    if table is not None:
        return _parse_table(builder, lines, *table)
    if "<" in text:
        lines = [_ADDRESS_RE.sub(r"\1", line) if "<" in line else line for line in lines]
    per_line = [_tokens(line.strip()) for line in lines]
    if all(len(tokens) <= 1 for tokens in per_line):
        for line_number, tokens in enumerate(per_line, start=1):
            if tokens:
                add(line_number, tokens[0], first=first)
                first = False
    else:
        builder.notes.append(NUMBERED_BY_IDENTIFIER_NOTE)
        row = 0
        for line_number, tokens in enumerate(per_line, start=1):
            where = f" (line {line_number})"
            for token in tokens:
                row += 1
                add(row, token, first=first, where=where)
                first = False
    return builder.build()
