"""Move tag's two steps: a row whose first step failed does not take the second, one outcome a row."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from audience_manager.api.errors import GaveUpError
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.outcomes import Outcome
from audience_manager.core.work import ItemResult, WorkItem
from audience_manager.jobs.move import MoveBefore, apply_move

NEW = Target(TargetKind.TAG, "2", "Customer")
OLD = Target(TargetKind.TAG, "1", "Lead")


class TwoSteps:
    def __init__(self, refuse_tag: set[int], fail_untag: bool = False) -> None:
        self.refuse_tag = refuse_tag
        self.fail_untag = fail_untag
        self.calls: list[tuple[Action, list[int]]] = []

    async def apply(self, action: Action, items: Any, value: str | None = None) -> list[ItemResult]:
        self.calls.append((action, [i.row for i in items]))
        if action is Action.UNTAG and self.fail_untag:
            raise GaveUpError("HighLevel kept answering 503")
        out = []
        for i in items:
            if action is Action.TAG and i.row in self.refuse_tag:
                out.append(ItemResult(i, Outcome.FAILED, "subscriber not found"))
            else:
                out.append(ItemResult(i, Outcome.SUCCEEDED, "", "no" if action is Action.TAG else "yes"))
        return out


def items(n: int) -> list[WorkItem]:
    return [WorkItem(r, str(100 + r), str(100 + r), NEW) for r in range(1, n + 1)]


def test_a_row_whose_tagging_failed_keeps_its_old_tag() -> None:
    platform = TwoSteps(refuse_tag={2})
    results = asyncio.run(apply_move(platform, items(3), OLD))  # type: ignore[arg-type]
    assert platform.calls == [(Action.TAG, [1, 2, 3]), (Action.UNTAG, [1, 3])]
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED, Outcome.FAILED, Outcome.SUCCEEDED]
    assert results[1].reason == "Not tagged Customer: subscriber not found"
    assert all(r.item.target == NEW for r in results)  # one outcome a row, on the new tag
    assert MoveBefore.parse(results[0].previous) == MoveBefore(tagged=True, untagged=True)


def test_a_failed_second_step_fails_the_row_and_keeps_what_the_first_did() -> None:
    results = asyncio.run(apply_move(TwoSteps(set(), fail_untag=True), items(2), OLD))  # type: ignore[arg-type]
    assert all(r.outcome is Outcome.FAILED for r in results)
    assert results[0].reason == "Tagged Customer, but removing Lead failed: HighLevel kept answering 503"
    assert json.loads(results[0].previous or "") == {"tagged": True, "untagged": False}
