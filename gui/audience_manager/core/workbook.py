"""Reading an Excel workbook (.xlsx) row by row, as text cells.

openpyxl's read-only mode streams the sheet, so a large workbook is not loaded at once. Cells come
back typed; ids typed into Excel are numbers (floats), which are exact up to 15 digits, so they are
turned back into their digits, and anything beyond Excel's precision is flagged instead of guessed.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Excel keeps 15 significant digits; a number above this may have lost its last digits.
_EXACT_LIMIT = 10**15

# Checked in the zip's directory before openpyxl inflates anything (a 1.4 MB "zip bomb" would take
# gigabytes): openpyxl streams a sheet but holds the shared strings, styles and the rest in memory.
MAX_SHEET_BYTES = 2_000_000_000  # a sheet's XML, streamed (2,000,000 rows of a few cells)
MAX_OTHER_BYTES = 150_000_000  # any other part: loaded whole
MAX_RATIO = 200  # uncompressed / compressed for a part over `RATIO_FROM` bytes; real sheets are ~10
RATIO_FROM = 20_000_000


def check_zip_sizes(path: Path) -> None:
    """Refuse a workbook whose parts would inflate past what can be read safely (`WorkbookError`)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise WorkbookError(
            f"{path.name} could not be opened as an Excel workbook ({type(exc).__name__}). "
            "Open it in Excel and save it again as .xlsx or CSV UTF-8."
        ) from exc
    sheets = 0
    for part in parts:
        size, packed = part.file_size, max(1, part.compress_size)
        is_sheet = part.filename.startswith("xl/worksheets/")
        sheets += size if is_sheet else 0
        if (
            (not is_sheet and size > MAX_OTHER_BYTES)
            or sheets > MAX_SHEET_BYTES
            or (size > RATIO_FROM and size / packed > MAX_RATIO)
        ):
            raise WorkbookError(
                f"{path.name} would take {size / 1e6:,.0f} MB once unpacked ({part.filename}, from"
                f" {packed / 1e6:,.1f} MB): too big or not a real workbook. Save the list as CSV UTF-8,"
                " or keep only the id or email column, and load that."
            )


class WorkbookError(Exception):
    """The workbook could not be opened or read; the message is for the user."""


def cell_text(value: Any) -> str:
    """A typed cell as the text a user would see, with ids kept exact."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            if abs(value) >= _EXACT_LIMIT:
                return f"{value:.6E}"  # read as scientific notation: reported, never guessed
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


class Workbook:
    """An open workbook; use as a context manager so the file handle is closed."""

    def __init__(self, path: Path) -> None:
        import openpyxl  # imported here: only workbook users pay for it

        # A handle rather than the path: openpyxl refuses names not ending in .xlsx, and a workbook
        # saved as "contacts.csv" is still a workbook.
        check_zip_sizes(path)
        self._handle = path.open("rb")
        try:
            self._book = openpyxl.load_workbook(self._handle, read_only=True, data_only=True)
        except Exception as exc:
            self._handle.close()  # openpyxl raises many types for damaged files; all mean the same
            raise WorkbookError(
                f"{path.name} could not be opened as an Excel workbook ({type(exc).__name__}). "
                "Open it in Excel and save it again as .xlsx or CSV UTF-8."
            ) from exc
        self.sheets: list[str] = list(self._book.sheetnames)

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._book.close()
        self._handle.close()

    def pick(self, sheet: str | int | None) -> str:
        if not self.sheets:
            raise WorkbookError("The workbook has no sheets.")
        if sheet is None:
            return self.sheets[0]
        if isinstance(sheet, int):
            if 0 <= sheet < len(self.sheets):
                return self.sheets[sheet]
        elif sheet in self.sheets:
            return sheet
        raise WorkbookError(f"There is no sheet {sheet!r}; the sheets are: {', '.join(self.sheets)}.")

    def row_estimate(self, sheet: str) -> int:
        """The sheet's declared size (0 when the file does not say), for progress only."""
        try:
            return int(self._book[sheet].max_row or 0)
        except Exception:  # a missing or odd dimension record only costs us the progress total
            return 0

    def rows(self, sheet: str) -> Iterator[list[str]]:
        try:
            for values in self._book[sheet].iter_rows(values_only=True):
                yield [cell_text(value) for value in values]
        except WorkbookError:
            raise
        except Exception as exc:  # a damaged sheet part surfaces only while streaming
            raise WorkbookError(
                f"The sheet {sheet!r} could not be read to the end ({type(exc).__name__}). "
                "Open the file in Excel and save it again as .xlsx or CSV UTF-8."
            ) from exc
