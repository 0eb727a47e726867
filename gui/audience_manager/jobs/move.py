"""Moving people from one tag to another: tag each with the new tag, then remove the old one from
those the first step worked for. One outcome a row covers both steps; what each step found before
is journaled (`previous`, JSON) so the undo puts back exactly both.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from audience_manager.api.platform import Platform
from audience_manager.core.actions import Action, Target
from audience_manager.core.outcomes import Outcome
from audience_manager.core.work import ItemResult, WorkItem

log = logging.getLogger(__name__)

_WORKED = (Outcome.SUCCEEDED, Outcome.UNCHANGED)


@dataclass(frozen=True)
class MoveBefore:
    """What a row's move did and found, from its journaled `previous`."""

    tagged: bool  # the new tag was added by the job (the person did not have it)
    untagged: bool  # the old tag was removed by the job (the person had it)

    @classmethod
    def parse(cls, previous: str | None) -> MoveBefore | None:
        if not previous:
            return None
        try:
            raw = json.loads(previous)
        except ValueError:
            return None
        if not isinstance(raw, dict):
            return None
        return cls(bool(raw.get("tagged")), bool(raw.get("untagged")))


async def apply_move(platform: Platform, items: Sequence[WorkItem], move_from: Target) -> list[ItemResult]:
    """Both steps for one batch (items target the new tag); one result per item."""
    first = {(r.item.row, r.item.target.id): r for r in await platform.apply(Action.TAG, items)}
    ready = [i for i in items if (r := first.get((i.row, i.target.id))) is not None and r.outcome in _WORKED]
    second: dict[tuple[int, str], ItemResult] = {}
    failure = ""
    if ready:
        try:
            old = [replace(i, target=move_from) for i in ready]
            second = {(r.item.row, r.item.target.id): r for r in await platform.apply(Action.UNTAG, old)}
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the first step stands and is journaled: the undo can take it back
            log.info("Removing the old tag failed", exc_info=True)
            failure = getattr(exc, "reason", "") or str(exc) or type(exc).__name__
    results: list[ItemResult] = []
    for item in items:
        one = first.get((item.row, item.target.id))
        if one is None or one.outcome not in _WORKED:
            if one is None:
                results.append(
                    ItemResult(item, Outcome.FAILED, f"Not tagged {item.target}: no answer for this row")
                )
            else:
                results.append(
                    replace(one, reason=f"Not tagged {item.target}: {one.reason}" if one.reason else "")
                )
            continue
        tagged = one.outcome is Outcome.SUCCEEDED and one.previous != "yes"
        two = second.get((item.row, move_from.id))
        if two is None or two.outcome not in _WORKED:
            why = two.reason if two is not None else (failure or "No answer for this row")
            previous = json.dumps({"tagged": tagged, "untagged": False})
            results.append(
                ItemResult(
                    item,
                    Outcome.FAILED,
                    f"Tagged {item.target}, but removing {move_from} failed: {why}",
                    previous,
                )
            )
            continue
        untagged = two.outcome is Outcome.SUCCEEDED and two.previous != "no"
        outcome = Outcome.SUCCEEDED if tagged or untagged else Outcome.UNCHANGED
        reason = "" if outcome is Outcome.SUCCEEDED else f"Already on {item.target} and not on {move_from}"
        results.append(
            ItemResult(item, outcome, reason, json.dumps({"tagged": tagged, "untagged": untagged}))
        )
    return results
