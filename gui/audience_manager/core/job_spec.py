"""What one job is: an account, an action, its targets and value, and the audience."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from audience_manager.core.actions import Action, Target
from audience_manager.core.audience import Audience, AudienceRow

BLANK_CELL_REASON = "blank cell: left as it was"


class BlankCells(StrEnum):
    """What a blank cell of a mapped column does to the field: leave it (the default), or clear it."""

    SKIP = "skip"
    CLEAR = "clear"


# (field target id, file column): the column whose cells are each row's value for that field.
FieldMapping = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class JobSpec:
    account: str  # the account's name (never its secrets)
    action: Action
    targets: tuple[Target, ...]
    audience: Audience
    value: str | None = None  # SET_FIELD only: one value for every row (when no column is mapped)
    # HighLevel "remove all tags": only with UNTAG, only after an explicit confirmation.
    remove_all_tags: bool = False
    # MOVE_TAG only: the tag each person loses once they have the target.
    move_from: Target | None = None
    # SET_FIELD from a file: each mapped field takes each row's own cell of its column.
    fields: FieldMapping = ()
    blank: BlankCells = BlankCells.SKIP
    # Emails not on the platform yet are created first (opt-in), their first name from this column.
    create_missing: bool = False
    first_name_column: str | None = None

    @property
    def row_target_pairs(self) -> int:
        """How many outcomes the job will produce for the rows it sends."""
        return len(self.audience.rows) * max(1, len(self.targets))

    def column_of(self, target: Target) -> str | None:
        """The file column mapped to `target`, if any."""
        for target_id, column in self.fields:
            if target_id == target.id:
                return column
        return None

    def value_for(self, row: AudienceRow, target: Target) -> str | None:
        """What this row writes to `target`: its own cell of the mapped column ("" when blank, or
        when the row has no such cell), else the job's one value."""
        column = self.column_of(target)
        if column is None:
            return self.value
        return row.value_of(column) or ""

    def leaves_blank(self, value: str | None, target: Target) -> bool:
        """A blank mapped cell that the job leaves as it is (`blank` is SKIP): never sent."""
        return self.blank is BlankCells.SKIP and not value and self.column_of(target) is not None
