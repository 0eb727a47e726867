"""Which character separates the cells of a text file: `,` `;` tab or `|`, or none (one column).

`csv.Sniffer` guesses from character frequencies and gives up on one-column files and on files whose
cells hold the other candidates (decimal commas in a `;` file). Parsing the sample with each
candidate and keeping the one that gives the most consistent number of cells per row is sturdier,
and honours quotes.
"""

from __future__ import annotations

import csv
import io
from collections import Counter

# In ties the earlier wins: tabs and semicolons rarely occur inside cells, commas often do ("Doe, Jane").
CANDIDATES = ("\t", ";", ",", "|")
# What a one-column file is read with: a character no text file uses, so every line is one cell
# (quotes are still honoured, so a quoted value with a line break stays one cell).
ONE_COLUMN = "\x1f"
_SAMPLE_RECORDS = 200

LABELS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar", ONE_COLUMN: "one column"}


def _consistency(sample: str, delimiter: str) -> tuple[float, int]:
    """(share of rows having the most common width, that width) for one candidate."""
    widths: Counter[int] = Counter()
    try:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
        for index, row in enumerate(reader):
            if index >= _SAMPLE_RECORDS:
                break
            if any(cell.strip() for cell in row):
                widths[len(row)] += 1
    except csv.Error:
        return 0.0, 0
    if not widths:
        return 0.0, 0
    width, count = widths.most_common(1)[0]
    return count / sum(widths.values()), width


def sniff_delimiter(sample: str, *, truncated: bool) -> str:
    """The best candidate for `sample` (the file's first kilobytes), or `ONE_COLUMN`."""
    if truncated:
        # The last line of a sample cut mid-file is probably incomplete.
        cut = max(sample.rfind("\n"), sample.rfind("\r"))
        if cut > 0:
            sample = sample[:cut]
    best = ONE_COLUMN
    best_score = (0.0, 1)
    for delimiter in CANDIDATES:
        share, width = _consistency(sample, delimiter)
        if width < 2 or share < 0.5:
            continue
        score = (share, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best
