"""What one job is: an account, an action, its targets and value, and the audience."""

from __future__ import annotations

from dataclasses import dataclass

from audience_manager.core.actions import Action, Target
from audience_manager.core.audience import Audience


@dataclass(frozen=True)
class JobSpec:
    account: str  # the account's name (never its secrets)
    action: Action
    targets: tuple[Target, ...]
    audience: Audience
    value: str | None = None  # SET_FIELD only
    # HighLevel "remove all tags": only with UNTAG, only after an explicit confirmation.
    remove_all_tags: bool = False
    # MOVE_TAG only: the tag each person loses once they have the target.
    move_from: Target | None = None

    @property
    def row_target_pairs(self) -> int:
        """How many outcomes the job will produce for the rows it sends."""
        return len(self.audience.rows) * max(1, len(self.targets))
