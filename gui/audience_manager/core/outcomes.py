"""How each input row ended. Every row ends in exactly one of these."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"  # the platform made the change
    UNCHANGED = "unchanged"  # it was already so (already tagged, already on the form)
    FAILED = "failed"  # the platform or the network refused; `reason` says why
    SKIPPED = "skipped"  # never sent: invalid, duplicate, or not found before any write
    CANCELLED = "cancelled"  # the user cancelled before it was sent

    @property
    def is_final_failure(self) -> bool:
        return self in (Outcome.FAILED, Outcome.SKIPPED)


# How one person's outcomes on several targets add up to one, so counts of people add up to the
# people in the audience: the worst news first (a failure on any target is a failure to act on).
_PERSON_ORDER = (Outcome.FAILED, Outcome.CANCELLED, Outcome.SUCCEEDED, Outcome.UNCHANGED, Outcome.SKIPPED)


def person_outcome(outcomes: Iterable[Outcome]) -> Outcome:
    """One person's outcome over all the job's targets: failed if any target failed, else cancelled
    if any was, else changed if any target changed, else unchanged, else skipped."""
    seen = set(outcomes)
    return next((o for o in _PERSON_ORDER if o in seen), Outcome.SKIPPED)


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """One input row against one target. `row` is the 1-based line or record number in the input.

    The target is known by its id (`target_id`): two tags may share a name, and the journal keys
    outcomes by id. `target` is only its label, for tables and reports."""

    row: int
    identifier: str
    target: str
    outcome: Outcome
    reason: str = ""
    target_id: str = field(kw_only=True)


REPORT_HEADER = ("row", "identifier", "target", "outcome", "reason")
