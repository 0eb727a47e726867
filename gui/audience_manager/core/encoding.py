"""What a dropped file really is, from its first bytes: a spreadsheet, text in some encoding, or
something that is not a list at all (an image renamed `.csv`).

Marketers' files come from Excel ("CSV UTF-8", plain "CSV" in Windows-1252, "Unicode text" in
UTF-16 with tabs), from Numbers, Google Sheets and the platforms' own exports. We recognise each and
say, in the message, how to save the file so that it can be read.
"""

from __future__ import annotations

import codecs
import zipfile
from dataclasses import dataclass
from pathlib import Path

SAMPLE_BYTES = 64 * 1024
_CHUNK = 1024 * 1024

# First bytes of files that are not lists, with what to tell the user.
_NOT_A_LIST: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"{\\rtf", "a rich-text (RTF) document"),
    (b"\x1f\x8b", "a compressed (gzip) file"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"SQLite format 3\x00", "a database file"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a program"),
)
BINARY = "a binary file (not text)"
_SAVE_AS = "Open it in your spreadsheet app and save it as CSV UTF-8 (or .xlsx), then load that."


class NotAList(Exception):
    """The file is not text or a workbook; `what` names it in the user's words."""

    def __init__(self, what: str, advice: str = _SAVE_AS) -> None:
        super().__init__(what)
        self.what = what
        self.advice = advice


@dataclass(frozen=True)
class TextEncoding:
    codec: str  # what Python opens the file with (the BOM, if any, is consumed by the codec)
    label: str  # what the user is told
    errors: str = "strict"  # "replace" where a stray byte must not stop the read
    note: str = ""  # said to the user when the guess might be wrong


UTF8 = TextEncoding("utf-8", "UTF-8")
UTF8_BOM = TextEncoding("utf-8-sig", "UTF-8 with BOM")
CP1252 = TextEncoding(
    "cp1252",
    "Windows-1252 (Western European)",
    errors="replace",
    note="The file is not UTF-8, so it was read as Windows-1252 (Western European). If names look "
    "wrong, save it from your spreadsheet app as CSV UTF-8.",
)


def file_kind(head: bytes, path: Path) -> str:
    """ "xlsx" or "text"; raises `NotAList` for anything else we can recognise."""
    for magic, what in _NOT_A_LIST:
        if head.startswith(magic):
            raise NotAList(what)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise NotAList(
            "an old Excel .xls workbook (or a password-protected one)",
            "Open it in Excel, remove any password, and save it as .xlsx or CSV UTF-8.",
        )
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].lower()
    if start.startswith((b"<!doctype html", b"<html")):
        raise NotAList(
            "a web page (HTML)", "Download the list with the platform's CSV export instead, then load that."
        )
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(path)
    return "text"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise NotAList(
            "a damaged or incomplete ZIP or Excel file",
            "If it is an Excel workbook, open it in Excel and save it again as .xlsx or CSV UTF-8.",
        ) from exc
    if "xl/workbook.xml" in names:
        return "xlsx"
    if b"opendocument.spreadsheet" in mimetype:
        raise NotAList("an OpenDocument spreadsheet (.ods)", _SAVE_AS)
    if any(name.startswith("Index/") for name in names):
        raise NotAList("a Numbers spreadsheet", "In Numbers, choose File > Export To > CSV, then load that.")
    if "word/document.xml" in names:
        raise NotAList("a Word document", "Copy the list into a spreadsheet and save it as CSV UTF-8.")
    raise NotAList("a ZIP archive", "Unzip it first and load the CSV or .xlsx file inside.")


def _utf16_without_bom(head: bytes) -> str | None:
    """Excel's "Unicode text" has a BOM, but other tools write UTF-16 without one."""
    sample = head[: len(head) - len(head) % 2]
    if len(sample) < 4:
        return None
    even_zeros = sample[0::2].count(0)
    odd_zeros = sample[1::2].count(0)
    half = len(sample) // 2
    if odd_zeros > 0.3 * half and even_zeros < 0.05 * half:
        return "utf-16-le"
    if even_zeros > 0.3 * half and odd_zeros < 0.05 * half:
        return "utf-16-be"
    return None


def is_utf8(path: Path, limit: int | None = None) -> bool:
    """Checks the file (or its first `limit` bytes) decodes as UTF-8, reading it in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    seen = 0
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                seen += len(chunk)
                if limit is not None and seen >= limit:
                    decoder.decode(chunk, final=False)
                    return True
                decoder.decode(chunk, final=False)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def text_encoding(head: bytes, path: Path, *, whole_file: bool) -> TextEncoding:
    """The encoding of a text file. `whole_file` checks every byte for UTF-8 (reading the file
    once, fast); otherwise only the first megabytes, which is enough for a preview."""
    if head.startswith(codecs.BOM_UTF8):
        return UTF8_BOM
    if head.startswith(codecs.BOM_UTF32_LE) or head.startswith(codecs.BOM_UTF32_BE):
        return TextEncoding("utf-32", "UTF-32", errors="replace")
    if head.startswith(codecs.BOM_UTF16_LE):
        return TextEncoding("utf-16", "UTF-16 LE (Excel Unicode text)", errors="replace")
    if head.startswith(codecs.BOM_UTF16_BE):
        return TextEncoding("utf-16", "UTF-16 BE", errors="replace")
    utf16 = _utf16_without_bom(head)
    if utf16:
        return TextEncoding(utf16, f"UTF-16 {utf16[-2:].upper()} (no BOM)", errors="replace")
    if b"\x00" in head:
        raise NotAList(BINARY)
    if is_utf8(path, None if whole_file else 4 * _CHUNK):
        return UTF8
    return CP1252


def looks_binary(text: str) -> bool:
    """Decoded text full of control characters is a binary file that happened to decode."""
    if not text:
        return False
    controls = sum(1 for char in text if char < " " and char not in "\t\n\r\f\v") + text.count("\x7f")
    return controls > 0.05 * len(text)
