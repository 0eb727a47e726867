"""The window's "From the platform…" audience: everyone on one tag but not on another, counted
before the run, and the count is the rows the run changes."""

from __future__ import annotations

import pytest

from audience_manager.core.actions import TargetKind
from audience_manager.core.outcomes import Outcome
from audience_manager.sandbox.sandbox import Sandbox
from audience_manager.ui.main_window import MainWindow

from .test_main_window import run_confirmed

AT = "2026-01-01T00:00:00Z"


@pytest.fixture
def sandbox() -> Sandbox:
    sb = Sandbox(subscribers=1000, contacts=300)
    kit = sb.state.kit
    webinar, _ = kit.create_tag("Webinar X")
    customer, _ = kit.create_tag("Customer X")
    kit.create_tag("Follow X")
    active = [s.id for s in kit.subscribers.values() if s.state == "active"]
    for sid in active[:240]:
        kit.tag(sid, webinar.id, AT)
    for sid in active[200:260]:
        kit.tag(sid, customer.id, AT)
    return sb


def _count(window: MainWindow, qtbot) -> None:
    panel = window.audience_panel
    task = panel.count_action()
    assert task is not None
    qtbot.waitUntil(lambda: task.done() and not panel.busy, timeout=10000)


def test_everyone_on_webinar_but_not_customer_is_tagged_without_a_file(
    window: MainWindow, qtbot, sandbox
) -> None:
    panel = window.audience_panel
    page = panel.platform_page
    panel.platform_action()
    assert panel.from_platform and not page.count_button.isEnabled()
    page.check("sources", "Webinar X")
    page.check("excluded", "Customer X")
    assert page.count_button.isEnabled() and panel.audience is None
    follow = next(t for t in window.workspace.catalog[TargetKind.TAG] if t.name == "Follow X")
    window.catalog_panel.set_checked(TargetKind.TAG, {follow.id})
    assert not window.action_bar.run_button.isEnabled()  # not counted yet: nothing to run on
    _count(window, qtbot)
    assert "240 on Webinar X, 40 of them also on Customer X: 200 people" in panel.notes_label.text()
    assert "<b>200</b> valid" in panel.counts_label.text()
    qtbot.waitUntil(window.action_bar.run_button.isEnabled, timeout=2000)

    run_confirmed(window, qtbot, timeout=10000)
    outcomes = window.results_panel.model.outcomes()
    kit = sandbox.state.kit
    active = [s.id for s in kit.subscribers.values() if s.state == "active"]
    assert set(kit.taggings[int(follow.id)]) == set(active[:200])
    assert len(outcomes) == 200 and all(o.outcome is Outcome.SUCCEEDED for o in outcomes)


def test_changing_a_pick_after_counting_asks_for_a_new_count(window: MainWindow, qtbot) -> None:
    panel = window.audience_panel
    page = panel.platform_page
    panel.platform_action()
    page.check("sources", "Webinar X")
    tag = window.workspace.catalog[TargetKind.TAG][0]
    window.catalog_panel.set_checked(TargetKind.TAG, {tag.id})
    _count(window, qtbot)
    qtbot.waitUntil(window.action_bar.run_button.isEnabled, timeout=2000)
    page.check("excluded", "Customer X")
    assert panel.audience is None and "Press Count" in panel.notes_label.text()
    qtbot.waitUntil(lambda: not window.action_bar.run_button.isEnabled(), timeout=2000)
    panel.paste_action("1\n2\n")  # pasting goes back to the paste box
    assert not panel.from_platform and panel.audience is not None and len(panel.audience.rows) == 2
