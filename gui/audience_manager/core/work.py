"""The unit of work a platform client executes: one row against one target."""

from __future__ import annotations

from dataclasses import dataclass

from audience_manager.core.actions import Target
from audience_manager.core.outcomes import Outcome


@dataclass(frozen=True, slots=True)
class WorkItem:
    """`identifier` is what the user gave; `subject` is the platform's id for it, once resolved."""

    row: int
    identifier: str
    subject: str
    target: Target
    value: str | None = None  # the row's own value for the target (set field from a file column)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What the platform said about one work item.

    `previous` is the state before the write when the platform told us (a custom field's old value,
    whether the tag was already there): the journal keeps it so a job can be undone exactly.
    `subject_missing` says the platform refused the row because the subscriber/contact id does not
    exist (the runner then looks an email whose id it had cached up afresh, once).
    `answered` is False when no answer for the item came back (the connection dropped, the retries
    ran out, the job was cancelled while the request was on its way): the write may have landed.
    """

    item: WorkItem
    outcome: Outcome
    reason: str = ""
    previous: str | None = None
    subject_missing: bool = False
    answered: bool = True


@dataclass(frozen=True, slots=True)
class NewPerson:
    """Someone to create: the email as the audience has it, and a first name from the file."""

    email: str
    first_name: str | None = None


@dataclass(frozen=True, slots=True)
class Created:
    """What the platform said about creating one person: its new id, or why not (`reason`)."""

    email: str
    subject: str | None
    reason: str = ""
