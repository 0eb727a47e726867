"""The report CSV a user exports: one line per row and target, with the outcome and its reason.

Safe to open in a spreadsheet: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return would be read by Excel, LibreOffice or Google Sheets as a formula (CSV injection; OWASP), so
it is prefixed with `'`, which spreadsheets show as text. Identifiers and reasons come from pasted
text, files and platform responses, none of which we control.

Files are UTF-8 with a byte-order mark: Excel opens a double-clicked CSV in the computer's legacy
code page unless the file starts with a BOM, which would garble accented names; Python's csv (with
`utf-8-sig`), Google Sheets, Numbers and LibreOffice all accept it. Streams (the CLI writing to
standard output for a pipeline) get no BOM by default, since tools like `grep` or `cut` would keep
it as part of the first heading.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from audience_manager.core.actions import Target
from audience_manager.core.audience import Audience
from audience_manager.core.outcomes import REPORT_HEADER, Outcome, RowOutcome

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """The cell as text a spreadsheet will not evaluate."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _write(stream: TextIO, outcomes: Iterable[RowOutcome]) -> int:
    writer = csv.writer(stream)
    writer.writerow(REPORT_HEADER)
    count = 0
    for outcome in outcomes:
        writer.writerow(
            (
                outcome.row,
                neutralise(outcome.identifier),
                neutralise(outcome.target),
                outcome.outcome.value,
                neutralise(outcome.reason),
            )
        )
        count += 1
    return count


def write_report(
    destination: str | Path | TextIO, outcomes: Iterable[RowOutcome], *, bom: bool | None = None
) -> int:
    """Writes the heading and one line per outcome; returns how many outcomes were written.

    `bom` defaults to True for a path and False for an open stream (see the module docstring). A
    stream should be opened with `newline=""`, as the csv module asks.
    """
    if isinstance(destination, str | Path):
        encoding = "utf-8-sig" if bom is None or bom else "utf-8"
        with Path(destination).open("w", encoding=encoding, newline="") as stream:
            return _write(stream, outcomes)
    if bom:
        destination.write("\ufeff")
    return _write(destination, outcomes)


def skipped_outcomes(audience: Audience, targets: Sequence[Target]) -> list[RowOutcome]:
    """The rows that are never sent (invalid, duplicate), one outcome per target, in row order.

    With no targets (a report before any action is chosen) each row gets one outcome with an empty
    target. The identifier is the text as the user gave it, so they can find it in their list.
    """
    problems = sorted(audience.invalid + audience.duplicates, key=lambda problem: problem.row)
    pairs = [(t.id, str(t)) for t in targets] or [("", "")]
    return [
        RowOutcome(problem.row, problem.text, label, Outcome.SKIPPED, problem.reason, target_id=target_id)
        for problem in problems
        for target_id, label in pairs
    ]
