"""What the user asks for: an action on one or more targets (tags, forms, custom fields)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Action(enum.StrEnum):
    TAG = "tag"
    UNTAG = "untag"
    ADD_TO_FORM = "add-to-form"
    SET_FIELD = "set-field"
    # Tag each person with the job's target and remove the tag `JobSpec.move_from`: two steps, one
    # outcome a row (the second step only after the first one worked).
    MOVE_TAG = "move-tag"

    @property
    def label(self) -> str:
        return {
            Action.TAG: "Tag",
            Action.UNTAG: "Remove tag",
            Action.ADD_TO_FORM: "Add to form",
            Action.SET_FIELD: "Set custom field",
            Action.MOVE_TAG: "Move tag",
        }[self]

    @property
    def target_kind(self) -> TargetKind:
        return {
            Action.TAG: TargetKind.TAG,
            Action.UNTAG: TargetKind.TAG,
            Action.ADD_TO_FORM: TargetKind.FORM,
            Action.SET_FIELD: TargetKind.FIELD,
            Action.MOVE_TAG: TargetKind.TAG,
        }[self]


class TargetKind(enum.StrEnum):
    TAG = "tag"
    FORM = "form"
    FIELD = "field"


@dataclass(frozen=True)
class Target:
    """A tag, form or custom field of the account, as listed by the platform.

    `id` is the platform's id as text (Kit ids are integers, HighLevel's are strings; HighLevel
    tags are addressed by name, so there `id` is the name). `key` is the custom field's key.
    """

    kind: TargetKind
    id: str
    name: str
    key: str = ""
    # Forms: double opt-in sends the incentive email on add; the UI warns before a run.
    double_opt_in: bool = False
    subscriber_count: int | None = None

    def __str__(self) -> str:
        return self.name or self.id
