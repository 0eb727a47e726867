"""The window's rules, without a window: every control derived from one session state."""

from __future__ import annotations

from dataclasses import replace

from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.platforms import Capabilities
from audience_manager.jobs.session import Session, SessionState, ShownJob, controls, job_title, run_blocker

from .runner_fakes import caps

VIP = Target(TargetKind.TAG, "1", "VIP")
NEWS = Target(TargetKind.TAG, "2", "News")
PLAN = Target(TargetKind.FIELD, "9", "Plan", key="plan")
AUDIENCE = Audience(rows=[AudienceRow(1, "101", IdentifierKind.SUBSCRIBER_ID)])
SPEC = JobSpec("Shop", Action.TAG, (VIP,), AUDIENCE)


def ready(capabilities: Capabilities | None = None) -> SessionState:
    return SessionState(
        account="Shop",
        account_label="Shop · Kit",
        capabilities=capabilities or caps(),
        audience=AUDIENCE,
        targets=(VIP,),
    )


def test_run_follows_the_state_whatever_came_first() -> None:
    state = ready()
    assert run_blocker(state) is None and controls(state).can_run
    assert run_blocker(replace(state, targets=())) == "Tick at least one target in the catalog"
    assert run_blocker(replace(state, reading=True)) == "The audience is still being read"
    assert run_blocker(replace(state, audience=None)) == "Paste or import subscribers first"
    assert run_blocker(replace(state, account="", capabilities=None, catalog_busy=True)) == (
        "The account is still opening"
    )
    # Reading ended with the target already ticked: nothing else has to change for Run to come on.
    assert run_blocker(replace(state, reading=False)) is None


def test_set_custom_field_takes_exactly_one_field() -> None:
    state = replace(ready(), action=Action.SET_FIELD, targets=(PLAN, replace(PLAN, id="10", name="Tier")))
    assert "one field at a time" in (run_blocker(state) or "")


def test_a_running_job_blocks_run_switching_and_resume_but_not_cancel() -> None:
    job = ShownJob("j1", SPEC, account="Shop", running=True)
    state = replace(ready(), job=job, busy=True)
    c = controls(state)
    assert not c.can_run and not c.can_switch_account and not c.can_resume and c.can_cancel
    assert not c.can_undo and not c.can_retry
    cancelling = controls(replace(state, job=replace(job, cancelling=True)))
    assert not cancelling.can_cancel and cancelling.cancel_text == "Cancelling…"
    assert "up to 5 s" in cancelling.cancel_hint


def test_undo_and_retry_act_on_the_job_shown_on_its_own_account() -> None:
    job = ShownJob("j1", SPEC, account="Shop", state="finished", undo_blocker=None, failed=3, retryable=1)
    c = controls(replace(ready(), job=job))
    assert c.can_undo and c.can_retry
    left_out = "(2 left out: the subscriber does not exist)"
    assert c.retry_hint == f"Send the failed row again as a new job {left_out}"
    elsewhere = controls(replace(ready(), account="Blog", job=job))
    assert not elsewhere.can_undo and "Switch to the account Shop" in elsewhere.undo_hint
    assert elsewhere.results_title == "Tag: VIP (on Shop)"
    hopeless = controls(replace(ready(), job=replace(job, retryable=0)))
    assert not hopeless.can_retry and "does not exist" in hopeless.retry_hint


def test_job_titles_say_what_the_job_is() -> None:
    assert job_title(SPEC, "run", None) == "Tag: VIP"
    undo = replace(SPEC, action=Action.UNTAG, targets=(VIP, NEWS))
    assert job_title(undo, "undo", "abc123") == "Undo of job abc123: Remove tag: VIP, News"
    field = JobSpec("Shop", Action.SET_FIELD, (PLAN,), AUDIENCE, value="Gold")
    assert job_title(field, "retry", "abc123") == "Retry of job abc123: Set custom field: Plan = 'Gold'"


def test_the_session_tells_its_listeners_and_drops_late_news_of_another_job() -> None:
    session = Session()
    seen: list[SessionState] = []
    session.subscribe(seen.append)
    session.update(job=ShownJob("j2", SPEC, account="Shop", running=True))
    session.update_job("j1", running=False)  # an answer about a job no longer shown
    assert session.state.job is not None and session.state.job.running
    session.update_job("j2", running=False, undo_blocker=None)
    assert len(seen) == 2 and seen[-1].job is not None and not seen[-1].job.running
