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


def test_remove_all_tags_from_200_highlevel_contacts_and_undo_it(window: MainWindow, qtbot, sandbox) -> None:
    import random

    from audience_manager.core.actions import Action

    from .test_main_window import paste

    labels = [
        window.catalog_panel.account_box.itemText(i) for i in range(window.catalog_panel.account_box.count())
    ]
    window.catalog_panel.account_box.setCurrentIndex(labels.index("Demo · HighLevel"))
    qtbot.waitUntil(
        lambda: window.workspace.platform is not None and not window.workspace.catalog_busy, timeout=5000
    )
    ids = sandbox.known_contact_ids(200)
    contacts = sandbox.state.highlevel.contacts
    rng = random.Random(14)
    pool = ["vip", "webinar", "lead", "customer", "trial"]
    for n, cid in enumerate(ids):
        contacts[cid].tags[:] = rng.sample(pool, 1 + n % 3)
    before = {cid: set(contacts[cid].tags) for cid in ids}
    bar = window.action_bar
    bar.set_action(Action.UNTAG)
    assert bar.all_tags_box.isVisibleTo(bar)
    paste(window, ids)
    assert not bar.run_button.isEnabled()  # no tag ticked, all tags not chosen
    bar.all_tags_box.setChecked(True)
    qtbot.waitUntil(bar.run_button.isEnabled, timeout=2000)
    assert bar.targets_label.text() == "every tag each contact has"
    dialog = window.run_action()
    assert dialog is not None and dialog.warning_label is not None
    assert "Every tag of 200 people will be removed" in dialog.warning_label.text()
    assert dialog.targets_label.text() == "all tags"
    with qtbot.waitSignal(window.job_finished, timeout=10000):
        dialog.run_button.click()
    assert all(contacts[cid].tags == [] for cid in ids)

    qtbot.waitUntil(window.results_panel.undo_button.isEnabled, timeout=5000)
    window.results_panel.undo_button.click()
    undo = window.history_panel.undo_dialog
    assert undo is not None
    qtbot.waitUntil(undo.undo_button.isEnabled, timeout=5000)
    undo.undo_button.click()
    qtbot.waitUntil(lambda: {cid: set(contacts[cid].tags) for cid in ids} == before, timeout=20000)
    qtbot.waitUntil(lambda: not window.workspace.job_running, timeout=10000)


def test_move_from_webinar_to_follow_up_in_the_window_and_undo(window: MainWindow, qtbot, sandbox) -> None:
    from audience_manager.core.actions import Action

    kit = sandbox.state.kit
    webinar = kit.find_tag_by_name("Webinar X")
    customer = kit.find_tag_by_name("Customer X")
    assert webinar is not None and customer is not None
    before_webinar, before_customer = set(kit.taggings[webinar.id]), set(kit.taggings[customer.id])
    bar = window.action_bar
    bar.set_action(Action.MOVE_TAG)
    panel = window.audience_panel
    panel.platform_action()
    panel.platform_page.check("sources", "Webinar X")
    target = next(t for t in window.workspace.catalog[TargetKind.TAG] if t.name == "Customer X")
    window.catalog_panel.set_checked(TargetKind.TAG, {target.id})
    assert "Move tag moves the members of one tag" in (window.run_blocker() or "")  # not counted yet
    _count(window, qtbot)
    qtbot.waitUntil(bar.run_button.isEnabled, timeout=2000)
    dialog = window.run_action()
    assert dialog is not None and dialog.targets_label.text() == "Webinar X → Customer X"
    with qtbot.waitSignal(window.job_finished, timeout=10000):
        dialog.run_button.click()
    outcomes = window.results_panel.model.outcomes()
    assert len(outcomes) == 240 and all(o.outcome is Outcome.SUCCEEDED for o in outcomes)
    assert kit.taggings[webinar.id] == {}  # nobody has both
    assert set(kit.taggings[customer.id]) == before_webinar | before_customer

    qtbot.waitUntil(window.results_panel.undo_button.isEnabled, timeout=5000)
    window.results_panel.undo_button.click()
    undo = window.history_panel.undo_dialog
    assert undo is not None
    qtbot.waitUntil(undo.undo_button.isEnabled, timeout=5000)
    undo.undo_button.click()
    qtbot.waitUntil(
        lambda: (
            set(kit.taggings[webinar.id]) == before_webinar
            and set(kit.taggings[customer.id]) == before_customer
        ),
        timeout=20000,
    )
    qtbot.waitUntil(lambda: not window.workspace.job_running, timeout=10000)


def test_only_those_also_in_a_file(window: MainWindow, qtbot, sandbox, tmp_path) -> None:
    kit = sandbox.state.kit
    webinar = kit.find_tag_by_name("Webinar X")
    assert webinar is not None
    members = sorted(kit.taggings[webinar.id])
    listed = tmp_path / "vip.csv"
    emails = [kit.subscribers[s].email_address.upper() for s in members[:25]] + ["nobody@nowhere.example"]
    listed.write_text("email\n" + "\n".join(emails) + "\n")
    panel = window.audience_panel
    panel.platform_action()
    panel.platform_page.check("sources", "Webinar X")
    panel.platform_page.use_only_file(listed)
    _count(window, qtbot)
    assert "240 on Webinar X, 215 not also in vip.csv: 25 people" in panel.notes_label.text()
    assert {r.identifier for r in panel.audience.rows} == {str(s) for s in members[:25]}
