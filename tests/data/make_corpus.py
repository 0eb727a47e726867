"""Writes the bad-input corpus: small files a marketer might drop on the app.

Run `python tests/data/make_corpus.py` to regenerate `tests/data/corpus/` (the files are committed,
so the tests do not depend on this script's output changing). Large cases (50 MB, a million rows)
are generated at test time into a temporary folder instead, to keep the repository small.
What each file must parse to, or the message it must produce, is in `tests/core/test_corpus.py`.
"""

from __future__ import annotations

import codecs
import io
import random
import sys
import zipfile
from pathlib import Path

import openpyxl

CORPUS = Path(__file__).resolve().parent / "corpus"

# A real 1x1 PNG, so "PNG renamed .csv" is exactly that.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a9d2a5b70000000049454e44ae426082"
)
CONTACT_A = "sx6wyHhbFdRXh302LLNR"
CONTACT_B = "ve9EPM428h8vShlRW1KT"
CONTACT_C = "qFSqySFkVvNzOSqgGqFi"


def text(name: str, content: str, encoding: str = "utf-8") -> None:
    (CORPUS / name).write_bytes(content.encode(encoding))


def raw(name: str, content: bytes) -> None:
    (CORPUS / name).write_bytes(content)


def workbook(name: str, sheets: dict[str, list[list[object]]]) -> None:
    book = openpyxl.Workbook()
    first = True
    for title, rows in sheets.items():
        sheet = book.active if first else book.create_sheet()
        first = False
        sheet.title = title
        for row in rows:
            sheet.append(row)
    book.save(CORPUS / name)


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for old in CORPUS.iterdir():
        old.unlink()

    # Not lists at all.
    raw("empty.csv", b"")
    text("blank_lines.csv", "\n\n   \n\t\n")
    raw("bom_only.csv", codecs.BOM_UTF8)
    text("header_only.csv", "email,first_name\n")
    text("header_then_blank_lines.csv", "Email Address\r\n\r\n\r\n")
    raw("picture.csv", PNG)
    raw("document.csv", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    raw("old_excel.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    raw("random_binary.csv", random.Random(7).randbytes(2048))
    text(
        "web_page.csv", "<!DOCTYPE html>\n<html><body><table><tr><td>a@b.co</td></tr></table></body></html>\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("contacts.csv", "email\na@b.co\n")
    raw("zipped.csv", buffer.getvalue())
    text("two_unknown_columns.csv", "name,city\nJane,Paris\nBob,Oslo\n")

    # Platform exports.
    text(
        "kit_export.csv",
        "id,email_address,first_name,state,created_at\n"
        "1001,jane@example.com,Jane,active,2024-01-02T10:00:00Z\n"
        "1002,bob@example.com,Bob,active,2024-01-03T10:00:00Z\n"
        "1003,cara@example.com,Cara,cancelled,2024-01-04T10:00:00Z\n",
    )
    text(
        "highlevel_export.csv",
        "Contact Id,First Name,Last Name,Email,Phone,Tags\n"
        f'{CONTACT_A},Jane,Doe,jane@example.com,+15550001,"vip, lead"\n'
        f"{CONTACT_B},Bob,Roe,bob@example.com,+15550002,\n"
        f"{CONTACT_C},Cara,Poe,,+15550003,lead\n",
    )
    text("emails_only.txt", "jane@example.com\nbob@example.com\ncara@example.com\n")
    text("ids_no_header.csv", "1001\n1002\n1003\n1004\n")

    # Encodings.
    unicode_text = (
        "Email\tFirst name\r\nzoë@example.com\tZoë\r\nandré@example.com\tAndré\r\nbob@example.com\tBob\r\n"
    )
    raw("excel_unicode_text_utf16le.txt", codecs.BOM_UTF16_LE + unicode_text.encode("utf-16-le"))
    raw("utf16be_bom.txt", codecs.BOM_UTF16_BE + unicode_text.encode("utf-16-be"))
    raw("utf16le_no_bom.txt", unicode_text.encode("utf-16-le"))
    text(
        "cp1252_accents.csv", "Email;Prénom\r\nrené@example.com;René\r\nsøren@example.com;Søren\r\n", "cp1252"
    )
    raw("utf8_bom_semicolons.csv", codecs.BOM_UTF8 + "email;name\r\na@b.co;Ä\r\nc@d.co;Ö\r\n".encode())

    # Line ends and separators.
    text("mac_cr_line_ends.csv", "email,name\ra@b.co,A\rc@d.co,C\re@f.co,E\r")
    text("windows_crlf.csv", "email,name\r\na@b.co,A\r\nc@d.co,C\r\n")
    text("semicolons_decimal_commas.csv", "id;name;spent\n1001;Jane;12,50\n1002;Bob;3,00\n1003;Cara;0,99\n")
    text("tab_separated.tsv", "Subscriber ID\tEmail\n1001\tjane@example.com\n1002\tbob@example.com\n")
    text("pipe_separated.txt", "email|name\na@b.co|A\nc@d.co|C\n")
    text("excel_sep_line.csv", "sep=;\r\nEmail;Name\r\na@b.co;A\r\nc@d.co;C\r\n")
    text("trailing_separators.csv", "email,,,\na@b.co,,,\nc@d.co,,,\n")

    # Structure.
    text(
        "quoted_newlines.csv",
        'email,notes\na@b.co,"first line\nsecond line"\nc@d.co,"one\n\ntwo"\ne@f.co,plain\n',
    )
    text("ragged_rows.csv", "name,email\nJane,jane@example.com\nBob\nCara,cara@example.com,extra,cells\n,\n")
    text("unclosed_quote.csv", 'email\n"a@b.co\nc@d.co\ne@f.co\n')

    # Values.
    text(
        "excel_mangled_ids.csv",
        'subscriber_id\n1.23E+05\n"1,234"\n\'12345\n12346.0\n="12347"\n0012348\n12349\n',
    )
    text(
        "emails_caps_and_spaces.csv",
        "Email Address\n  Jane@Example.COM  \nJANE@example.com\n"
        "\u00a0bob@example.com\u00a0\njane @example.com\n",
    )
    text("mixed_ids_and_emails.txt", "1001\njane@example.com\n1002\nBOB@example.com\n1001\n")
    text(
        "garbage_lines.csv",
        "email\njane@example.com\n#N/A\n-----\nbob@example.com\n=SUM(A1:A3)\nnot an email\n"
        "cara@example\n@example.com\n",
    )
    text("one_line_list.csv", "1001,1002,1003,1004,1002\n")
    text("ragged_list.csv", "a@b.co, c@d.co\ne@f.co\ng@h.co;i@j.co;k@l.co\n")
    text("duplicates.csv", "id\n1001\n1002\n1001\n1001\n1003\n1002\n")

    # Workbooks.
    workbook(
        "several_sheets.xlsx",
        {
            "Summary": [["Report for March"], ["Total", 3]],
            "Subscribers": [
                ["Subscriber ID", "Email"],
                [1001, "jane@example.com"],
                [1002, "bob@example.com"],
            ],
            "Empty": [],
        },
    )
    workbook("first_sheet_empty.xlsx", {"Sheet1": [], "Data": [["email"], ["a@b.co"]]})
    workbook(
        "numbers_as_numbers.xlsx",
        {"Sheet1": [["id"], [1001], [1002.0], [1234567890123456789], [12.5], ["'1003"], [None], [1004]]},
    )
    workbook(
        "highlevel_contacts.xlsx",
        {"Contacts": [["Contact Id", "Email"], [CONTACT_A, "A@B.co"], [CONTACT_B, ""]]},
    )
    raw("workbook_named_csv.csv", xlsx_bytes([["email"], ["a@b.co"], ["c@d.co"]]))
    raw("damaged.xlsx", xlsx_bytes([["email"], ["a@b.co"]])[:700])

    print(f"{len(list(CORPUS.iterdir()))} files in {CORPUS}", file=sys.stderr)


if __name__ == "__main__":
    main()
