"""The bad-input corpus: every file a marketer might drop, and exactly what it must give.

Files live in `tests/data/corpus/` (made by `tests/data/make_corpus.py`). Each one either parses to
the exact rows below or fails with an `AudienceFileError` whose message contains the quoted text.
Rows are "row:identifier"; problems are "row:text as given". "Kit" = subscriber ids and emails,
"HighLevel" = contact ids and emails, "all" = every identifier kind.

| file | accepts | result |
|---|---|---|
| empty.csv | all | error "is empty. Export the list again, or paste the identifiers instead." |
| blank_lines.csv | all | error "has no rows, only blank lines." |
| bom_only.csv | all | error "has no rows, only blank lines." |
| header_only.csv | all | error "has a heading row (email, first_name) but no rows under it." |
| header_then_blank_lines.csv | all | error "has a heading row (Email Address) but no rows under it." |
| picture.csv (a PNG) | all | error "is a PNG image, not a list of subscribers." |
| document.csv (a PDF) | all | error "is a PDF document, not a list of subscribers." |
| old_excel.xls | all | error "old Excel .xls workbook ... save it as .xlsx or CSV UTF-8." |
| random_binary.csv | all | error "is a binary file (not text)" |
| web_page.csv | all | error "is a web page (HTML)" |
| zipped.csv (a ZIP) | all | error "Unzip it first" |
| damaged.xlsx (truncated) | all | error "damaged or incomplete ZIP or Excel file" |
| two_unknown_columns.csv | all | error "Could not tell which column ... Pick one: name, city." |
| kit_export.csv | Kit | column id: 1:1001 2:1002 3:1003 |
| highlevel_export.csv | HighLevel | column Contact Id: 3 contact ids |
| emails_only.txt | all | 3 emails, source is the file name alone |
| ids_no_header.csv | all | 1:1001 .. 4:1004, no heading |
| excel_unicode_text_utf16le.txt | all | UTF-16 LE, tabs: zoë@, andré@, bob@ |
| utf16be_bom.txt | all | UTF-16 BE: same 3 emails |
| utf16le_no_bom.txt | all | UTF-16 LE without BOM: same 3 emails |
| cp1252_accents.csv | all | Windows-1252, `;`: rené@, søren@, with a note |
| utf8_bom_semicolons.csv | all | BOM stripped, `;`: a@b.co, c@d.co |
| mac_cr_line_ends.csv | all | CR line ends: 3 emails |
| windows_crlf.csv | all | CRLF: 2 emails |
| semicolons_decimal_commas.csv | all | `;` (not `,`): ids 1001..1003 |
| tab_separated.tsv | all | column Subscriber ID: 1001, 1002 |
| pipe_separated.txt | all | `|`: 2 emails |
| excel_sep_line.csv | all | Excel `sep=;` line honoured: 2 emails |
| trailing_separators.csv | all | 2 emails |
| quoted_newlines.csv | all | records, not lines: 1:a@ 2:c@ 3:e@ |
| ragged_rows.csv | all | 1:jane@ 3:cara@; row 2 "only 1 cell"; row 4 blank, skipped |
| unclosed_quote.csv | all | one cell holding 3 lines: row 1 "more than one identifier" |
| excel_mangled_ids.csv | all | 3:12345 ('12345) 4:12346 (12346.0) 5:12347 (="12347") 7:12349; |
| | | problems 1:1.23E+05 (scientific), 2:1,234 (thousands), 6:0012348 (starts with 0) |
| emails_caps_and_spaces.csv | all | 1:jane@ 3:bob@; duplicate 2; row 4 "space inside" |
| mixed_ids_and_emails.txt | all | 4 sent, row 5 duplicate of row 1 |
| garbage_lines.csv | all | 1:jane@ 4:bob@; 6 problems with reasons |
| one_line_list.csv | all | a list, not a table: every cell read, 1001..1004, row 5 duplicate |
| ragged_list.csv | all | lines of 2, 1 and 3 emails: all 6 read, numbered by identifier |
| duplicates.csv | all | 1001, 1002, 1003 sent; rows 3, 4, 6 duplicates |
| several_sheets.xlsx | all | first sheet is a summary, so sheet Subscribers: 1001, 1002 |
| first_sheet_empty.xlsx | all | sheet Data: a@b.co |
| numbers_as_numbers.xlsx | all | 1001, 1002 (1002.0), 1003 ('1003), 1004; |
| | | problems: a 19-digit number (lost digits, scientific), 12.5 (decimal) |
| highlevel_contacts.xlsx | HighLevel | 2 contact ids; the blank email is not read |
| workbook_named_csv.csv | all | an .xlsx named .csv is read as a workbook |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from audience_manager.core.audience_file import AudienceFileError, read_audience
from audience_manager.core.identifiers import IdentifierKind

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
ALL = frozenset(IdentifierKind)
KIT = frozenset({IdentifierKind.SUBSCRIBER_ID, IdentifierKind.EMAIL})
HIGHLEVEL = frozenset({IdentifierKind.CONTACT_ID, IdentifierKind.EMAIL})
A, B, C = "sx6wyHhbFdRXh302LLNR", "ve9EPM428h8vShlRW1KT", "qFSqySFkVvNzOSqgGqFi"
THREE_ACCENTED = ["1:zoë@example.com", "2:andré@example.com", "3:bob@example.com"]


@dataclass
class Expect:
    rows: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    source: str | None = None
    # Substrings, one per problem in `invalid` order, that its reason must contain.
    reasons: list[str] = field(default_factory=list)
    note: str | None = None
    accepts: frozenset[IdentifierKind] = ALL
    error: str | None = None


def error(message: str) -> Expect:
    return Expect(error=message)


CASES: dict[str, Expect] = {
    "empty.csv": error("empty.csv is empty. Export the list again, or paste the identifiers instead."),
    "blank_lines.csv": error("blank_lines.csv has no rows, only blank lines."),
    "bom_only.csv": error("bom_only.csv has no rows, only blank lines."),
    "header_only.csv": error("header_only.csv has a heading row (email, first_name) but no rows under it."),
    "header_then_blank_lines.csv": error("has a heading row (Email Address) but no rows under it."),
    "picture.csv": error("picture.csv is a PNG image, not a list of subscribers."),
    "document.csv": error("document.csv is a PDF document, not a list of subscribers."),
    "old_excel.xls": error("is an old Excel .xls workbook (or a password-protected one)"),
    "random_binary.csv": error("random_binary.csv is a binary file (not text), not a list of subscribers."),
    "web_page.csv": error("web_page.csv is a web page (HTML), not a list of subscribers."),
    "zipped.csv": error("zipped.csv is a ZIP archive, not a list of subscribers. Unzip it first"),
    "damaged.xlsx": error("damaged.xlsx is a damaged or incomplete ZIP or Excel file"),
    "two_unknown_columns.csv": error(
        "Could not tell which column of two_unknown_columns.csv holds the ids or emails. "
        "Pick one: name, city."
    ),
    "kit_export.csv": Expect(
        rows=["1:1001", "2:1002", "3:1003"], source="kit_export.csv, column id", accepts=KIT
    ),
    "highlevel_export.csv": Expect(
        rows=[f"1:{A}", f"2:{B}", f"3:{C}"],
        source="highlevel_export.csv, column Contact Id",
        accepts=HIGHLEVEL,
    ),
    "emails_only.txt": Expect(
        rows=["1:jane@example.com", "2:bob@example.com", "3:cara@example.com"], source="emails_only.txt"
    ),
    "ids_no_header.csv": Expect(rows=["1:1001", "2:1002", "3:1003", "4:1004"], source="ids_no_header.csv"),
    "excel_unicode_text_utf16le.txt": Expect(
        rows=THREE_ACCENTED, source="excel_unicode_text_utf16le.txt, column Email"
    ),
    "utf16be_bom.txt": Expect(rows=THREE_ACCENTED),
    "utf16le_no_bom.txt": Expect(rows=THREE_ACCENTED),
    "cp1252_accents.csv": Expect(
        rows=["1:rené@example.com", "2:søren@example.com"],
        source="cp1252_accents.csv, column Email",
        note="read as Windows-1252",
    ),
    "utf8_bom_semicolons.csv": Expect(
        rows=["1:a@b.co", "2:c@d.co"], source="utf8_bom_semicolons.csv, column email"
    ),
    "mac_cr_line_ends.csv": Expect(rows=["1:a@b.co", "2:c@d.co", "3:e@f.co"]),
    "windows_crlf.csv": Expect(rows=["1:a@b.co", "2:c@d.co"]),
    "semicolons_decimal_commas.csv": Expect(
        rows=["1:1001", "2:1002", "3:1003"], source="semicolons_decimal_commas.csv, column id"
    ),
    "tab_separated.tsv": Expect(rows=["1:1001", "2:1002"], source="tab_separated.tsv, column Subscriber ID"),
    "pipe_separated.txt": Expect(rows=["1:a@b.co", "2:c@d.co"]),
    "excel_sep_line.csv": Expect(rows=["1:a@b.co", "2:c@d.co"], source="excel_sep_line.csv, column Email"),
    "trailing_separators.csv": Expect(rows=["1:a@b.co", "2:c@d.co"]),
    "quoted_newlines.csv": Expect(rows=["1:a@b.co", "2:c@d.co", "3:e@f.co"]),
    "ragged_rows.csv": Expect(
        rows=["1:jane@example.com", "3:cara@example.com"],
        invalid=["2:"],
        reasons=["This row has only 1 cell, so nothing in column 'email'"],
        source="ragged_rows.csv, column email",
    ),
    "unclosed_quote.csv": Expect(
        invalid=["1:a@b.co\nc@d.co\ne@f.co"],
        reasons=["Holds more than one identifier; put one email or id per row"],
    ),
    "excel_mangled_ids.csv": Expect(
        rows=["3:12345", "4:12346", "5:12347", "7:12349"],
        invalid=["1:1.23E+05", "2:1,234", "6:0012348"],
        reasons=[
            "Looks like Excel scientific notation, which loses digits; format the column as Text and "
            "export again.",
            "Looks like a number with thousands separators",
            "Starts with 0",
        ],
        note="written as decimals",
    ),
    "emails_caps_and_spaces.csv": Expect(
        rows=["1:jane@example.com", "3:bob@example.com"],
        duplicates=["2:JANE@example.com"],
        invalid=["4:jane @example.com"],
        reasons=["Has a space inside; remove it"],
    ),
    "mixed_ids_and_emails.txt": Expect(
        rows=["1:1001", "2:jane@example.com", "3:1002", "4:bob@example.com"], duplicates=["5:1001"]
    ),
    "garbage_lines.csv": Expect(
        rows=["1:jane@example.com", "4:bob@example.com"],
        invalid=["2:#N/A", "3:-----", "5:=SUM(A1:A3)", "6:not an email", "7:cara@example", "8:@example.com"],
        reasons=[
            "check the value",
            "check the value",
            "check the value",
            "check the value",
            "no dot",
            "Nothing before",
        ],
    ),
    "one_line_list.csv": Expect(
        rows=["1:1001", "2:1002", "3:1003", "4:1004"],
        duplicates=["5:1002"],
        source="one_line_list.csv",
        note="a list of identifiers rather than a table",
    ),
    "ragged_list.csv": Expect(
        rows=["1:a@b.co", "2:c@d.co", "3:e@f.co", "4:g@h.co", "5:i@j.co", "6:k@l.co"],
        note="numbered by identifier",
    ),
    "duplicates.csv": Expect(rows=["1:1001", "2:1002", "5:1003"], duplicates=["3:1001", "4:1001", "6:1002"]),
    "several_sheets.xlsx": Expect(
        rows=["1:1001", "2:1002"],
        source="several_sheets.xlsx, sheet Subscribers, column Subscriber ID",
        note="The first sheet, 'Summary', has no column of ids or emails",
    ),
    "first_sheet_empty.xlsx": Expect(
        rows=["1:a@b.co"], source="first_sheet_empty.xlsx, sheet Data, column email"
    ),
    "numbers_as_numbers.xlsx": Expect(
        rows=["1:1001", "2:1002", "5:1003", "7:1004"],
        invalid=["3:1.234568E+18", "4:12.5"],
        reasons=["scientific notation", "decimal part"],
        note="1 blank row was skipped.",
    ),
    "highlevel_contacts.xlsx": Expect(
        rows=[f"1:{A}", f"2:{B}"],
        source="highlevel_contacts.xlsx, sheet Contacts, column Contact Id",
        accepts=HIGHLEVEL,
    ),
    "workbook_named_csv.csv": Expect(
        rows=["1:a@b.co", "2:c@d.co"], source="workbook_named_csv.csv, sheet Sheet, column email"
    ),
}


def test_every_corpus_file_has_an_expectation_and_there_are_at_least_30() -> None:
    assert sorted(CASES) == sorted(path.name for path in CORPUS.iterdir())
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_file(name: str) -> None:
    expect = CASES[name]
    if expect.error is not None:
        with pytest.raises(AudienceFileError) as caught:
            read_audience(CORPUS / name, accepted=expect.accepts)
        assert expect.error in str(caught.value)
        assert type(caught.value) is AudienceFileError
        return
    audience = read_audience(CORPUS / name, accepted=expect.accepts)
    assert [f"{r.row}:{r.identifier}" for r in audience.rows] == expect.rows
    assert [f"{p.row}:{p.text}" for p in audience.invalid] == expect.invalid
    assert [f"{p.row}:{p.text}" for p in audience.duplicates] == expect.duplicates
    for problem, reason in zip(audience.invalid, expect.reasons, strict=True):
        assert reason in problem.reason
    for duplicate in audience.duplicates:
        assert duplicate.reason.startswith("Duplicate of row ")
    if expect.source is not None:
        assert audience.source == expect.source
    if expect.note is not None:
        assert any(expect.note in note for note in audience.notes), audience.notes
