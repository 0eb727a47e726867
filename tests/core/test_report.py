"""The report CSV: heading, one line per outcome, safe in a spreadsheet, readable back."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from audience_manager.core.actions import Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow, Problem
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.outcomes import REPORT_HEADER, Outcome, RowOutcome
from audience_manager.core.paste import parse_text
from audience_manager.core.report import neutralise, skipped_outcomes, write_report

OUTCOMES = [
    RowOutcome(1, "1001", "VIP", Outcome.SUCCEEDED, target_id="1"),
    RowOutcome(2, "zoë@example.com", "VIP", Outcome.FAILED, 'Not found, "really"', target_id="1"),
    RowOutcome(3, '=HYPERLINK("http://x")', "VIP", Outcome.SKIPPED, "Not an email", target_id="1"),
]


def test_writes_heading_and_rows_with_a_bom_to_a_path(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    assert write_report(path, OUTCOMES) == 3
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfrow,identifier,target,outcome,reason\r\n")
    with path.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.reader(stream))
    assert tuple(rows[0]) == REPORT_HEADER
    assert rows[1:] == [
        ["1", "1001", "VIP", "succeeded", ""],
        ["2", "zoë@example.com", "VIP", "failed", 'Not found, "really"'],
        ["3", '\'=HYPERLINK("http://x")', "VIP", "skipped", "Not an email"],
    ]


def test_a_stream_gets_no_bom_unless_asked() -> None:
    stream = io.StringIO(newline="")
    write_report(stream, OUTCOMES[:1])
    assert stream.getvalue() == "row,identifier,target,outcome,reason\r\n1,1001,VIP,succeeded,\r\n"
    with_bom = io.StringIO(newline="")
    write_report(with_bom, [], bom=True)
    assert with_bom.getvalue() == "\ufeffrow,identifier,target,outcome,reason\r\n"


def test_path_without_bom(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    write_report(str(path), [], bom=False)
    assert path.read_bytes() == b"row,identifier,target,outcome,reason\r\n"


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1 555", "'+1 555"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("jane@example.com", "jane@example.com"),
        ("", ""),
    ],
)
def test_formula_cells_are_neutralised(cell: str, safe: str) -> None:
    assert neutralise(cell) == safe


def test_target_and_reason_are_neutralised_too() -> None:
    stream = io.StringIO(newline="")
    write_report(stream, [RowOutcome(1, "1", "=evil", Outcome.FAILED, "@oops", target_id="9")])
    assert list(csv.reader(io.StringIO(stream.getvalue())))[1] == ["1", "1", "'=evil", "failed", "'@oops"]


def test_accepts_a_generator_and_counts_it(tmp_path: Path) -> None:
    generated = (RowOutcome(n, str(n), "", Outcome.CANCELLED, target_id="") for n in range(1, 1001))
    assert write_report(tmp_path / "r.csv", generated) == 1000


def test_skipped_outcomes_one_per_target_in_row_order() -> None:
    audience = parse_text("1001\nnope\n1001\n")
    outcomes = skipped_outcomes(
        audience, [Target(TargetKind.TAG, "1", "VIP"), Target(TargetKind.TAG, "2", "Buyers")]
    )
    assert outcomes == [
        RowOutcome(2, "nope", "VIP", Outcome.SKIPPED, audience.invalid[0].reason, target_id="1"),
        RowOutcome(2, "nope", "Buyers", Outcome.SKIPPED, audience.invalid[0].reason, target_id="2"),
        RowOutcome(3, "1001", "VIP", Outcome.SKIPPED, "Duplicate of row 1; sent once.", target_id="1"),
        RowOutcome(3, "1001", "Buyers", Outcome.SKIPPED, "Duplicate of row 1; sent once.", target_id="2"),
    ]


def test_skipped_outcomes_without_targets_have_an_empty_target() -> None:
    audience = Audience(
        rows=[AudienceRow(1, "1", IdentifierKind.SUBSCRIBER_ID)],
        invalid=[Problem(3, "x", "bad")],
        duplicates=[Problem(2, "1", "Duplicate of row 1; sent once.")],
    )
    assert [(o.row, o.target) for o in skipped_outcomes(audience, [])] == [(2, ""), (3, "")]
