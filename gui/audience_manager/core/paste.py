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

A group like `1,234` standing alone (not part of a longer comma list) is kept as one token and
reported, because it may be one number with a thousands separator or two ids; we never guess.
"""

from __future__ import annotations

import re

from audience_manager.core.audience import Audience
from audience_manager.core.audience_builder import AudienceBuilder
from audience_manager.core.cells import ALL_KINDS
from audience_manager.core.identifiers import IdentifierKind

_SEPARATOR_RE = re.compile(r"[,;\s]")
_SEPARATOR_IN_LINE_RE = re.compile(r"[,;]|[^\S\n\r]")
_TOKEN_RE = re.compile(r"(?<![^\s;])\d{1,3}(?:,\d{3})+(?![^\s;])|[^,;\s]+")

NUMBERED_BY_IDENTIFIER_NOTE = (
    "Some lines hold several identifiers, so rows are numbered by identifier (1 = the first one); "
    "problems say which line they are on."
)


def _tokens(line: str) -> list[str]:
    if not _SEPARATOR_RE.search(line):
        return [line] if line else []
    return _TOKEN_RE.findall(line)


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
