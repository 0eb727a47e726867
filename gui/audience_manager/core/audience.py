"""An audience: the rows a user gave us, split into what will be sent and what will not.

Parsing (pasted text in `core.paste`, files in `core.audience_file`) produces an `Audience`. Every
input row appears exactly once: in `rows` (sent), `invalid` or `duplicates` (reported, not sent),
so the job can give every row an outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audience_manager.core.identifiers import IdentifierKind


@dataclass(frozen=True, slots=True)
class AudienceRow:
    """One identifier to send. `row` is the 1-based line (pasted text) or record (file) number."""

    row: int
    identifier: str
    kind: IdentifierKind
    # The row's own cells of the columns chosen for values ((column, cell) pairs; cells stripped).
    values: tuple[tuple[str, str], ...] = ()

    def value_of(self, column: str) -> str | None:
        """This row's cell in `column` ("" when blank), or None when the column was not read."""
        for name, cell in self.values:
            if name == column:
                return cell
        return None


@dataclass(frozen=True, slots=True)
class Problem:
    """A row that will not be sent, with a reason the user can act on."""

    row: int
    text: str
    reason: str


@dataclass
class Audience:
    rows: list[AudienceRow] = field(default_factory=list)
    invalid: list[Problem] = field(default_factory=list)
    duplicates: list[Problem] = field(default_factory=list)
    # Where it came from, in the user's words ("pasted text", "contacts.csv, column email").
    source: str = "pasted text"
    # Notes about the whole input that are not row problems (encoding guessed, column guessed...).
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.rows) + len(self.invalid) + len(self.duplicates)

    def subset(self, rows: set[int]) -> Audience:
        """The same audience restricted to some input rows (for retrying failed rows)."""
        return Audience(
            rows=[r for r in self.rows if r.row in rows],
            invalid=[p for p in self.invalid if p.row in rows],
            duplicates=[p for p in self.duplicates if p.row in rows],
            source=self.source,
            notes=list(self.notes),
        )
