"""Collecting cells into an `Audience`: send each identifier once, report everything else.

Shared by pasted text and files so that duplicates, warnings and notes read the same everywhere.
"""

from __future__ import annotations

from audience_manager.core.audience import Audience, AudienceRow, Problem
from audience_manager.core.cells import ALL_KINDS, CellReader
from audience_manager.core.identifiers import CONTACT_ID_RE, EMAIL_RE, SUBSCRIBER_ID_RE, IdentifierKind

_SUBSCRIBER_ID = IdentifierKind.SUBSCRIBER_ID
_CONTACT_ID = IdentifierKind.CONTACT_ID
_EMAIL = IdentifierKind.EMAIL


class AudienceBuilder:
    """Feed it cells in input order with `add`; `build` returns the audience with its notes."""

    def __init__(self, accepted: frozenset[IdentifierKind] = ALL_KINDS, source: str = "pasted text") -> None:
        self.reader = CellReader(accepted)
        self.source = source
        self.rows: list[AudienceRow] = []
        self.invalid: list[Problem] = []
        self.duplicates: list[Problem] = []
        self.notes: list[str] = []
        self._first_row: dict[str, int] = {}
        self._odd_contact_ids: list[tuple[int, str]] = []
        self._decimals: list[tuple[int, str]] = []
        self._ids = _SUBSCRIBER_ID in accepted
        self._contacts = _CONTACT_ID in accepted
        self._emails = _EMAIL in accepted

    def add(
        self,
        row: int,
        raw: str,
        *,
        first: bool = False,
        where: str = "",
        values: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """`where` is appended to problem reasons when the row number alone does not locate it."""
        # Fast paths for the clean cells that make up almost every real list (a million rows must
        # parse in seconds); anything else goes through the full rules in `CellReader`.
        kind: IdentifierKind | None
        if self._ids and SUBSCRIBER_ID_RE.match(raw):
            identifier, kind, text = raw, _SUBSCRIBER_ID, raw
        elif (
            self._emails
            and "@" in raw
            and raw.isascii()
            and raw[:1] != "'"
            and EMAIL_RE.match(identifier := raw.lower())
        ):
            kind, text = _EMAIL, raw
        elif self._contacts and CONTACT_ID_RE.match(raw):
            identifier, kind, text = raw, _CONTACT_ID, raw
        else:
            verdict = self.reader.read(raw, first=first)
            kind, text, identifier = verdict.kind, verdict.text, verdict.identifier
            if kind is None:
                self.invalid.append(Problem(row, text, verdict.reason + where))
                return
            if identifier not in self._first_row:
                if verdict.odd_contact_id:
                    self._odd_contact_ids.append((row, text))
                elif verdict.was_decimal:
                    self._decimals.append((row, text))
        seen = self._first_row.get(identifier)
        if seen is not None:
            self.duplicates.append(Problem(row, text, f"Duplicate of row {seen}; sent once.{where}"))
            return
        self._first_row[identifier] = row
        self.rows.append(AudienceRow(row, identifier, kind, values))

    def add_problem(self, row: int, text: str, reason: str) -> None:
        """A row that failed before it reached a cell (a ragged row with no value in the column)."""
        self.invalid.append(Problem(row, text, reason))

    def build(self) -> Audience:
        notes = list(self.notes)
        if self._odd_contact_ids:
            row, text = self._odd_contact_ids[0]
            count = len(self._odd_contact_ids)
            notes.append(
                f"{count} contact id{'s are' if count > 1 else ' is'} not 20 characters long "
                f"(first: row {row}, {text!r}). HighLevel's ids are 20 letters and digits in every "
                "example; they will be sent, and HighLevel will report any that do not exist."
            )
        if self._decimals:
            row, text = self._decimals[0]
            count = len(self._decimals)
            notes.append(
                f"{count} id{'s were' if count > 1 else ' was'} written as decimals (first: row {row}, "
                f"{text!r}) and read as whole numbers."
            )
        return Audience(
            rows=self.rows,
            invalid=self.invalid,
            duplicates=self.duplicates,
            source=self.source,
            notes=notes,
        )
