"""Resuming, in the window, a job the app was killed in the middle of (banner and History)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from audience_manager.core.accounts import Account
from audience_manager.core.actions import Action, TargetKind
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.core.work import ItemResult, WorkItem
from audience_manager.jobs import journal as journal_module
from audience_manager.jobs.history import job_outcomes, missing_rows
from audience_manager.jobs.journal import Journal
from audience_manager.ui.main_window import MainWindow

from .window_helpers import run_until


def confirm_resume(window: MainWindow, qtbot, remaining: int) -> object:
    """Resume asks first, like Run: the dialog names what is left; returns its Resume button."""
    qtbot.waitUntil(lambda: window.confirm_dialog is not None, timeout=5000)
    dialog = window.confirm_dialog
    texts = [w.text() for w in dialog.findChildren(type(dialog.account_label))]
    assert "Resume this job?" in texts
    assert f"{remaining:,} row × target outcomes are left to send" in dialog.rows_label.text()
    return dialog.run_button

ROWS = 300
SENT = 100  # one batch went out before the "crash"
ANSWERED = 60  # ... and only part of its answer was recorded


def crashed_job(path: Path, account: Account, spec: JobSpec) -> str:
    """A job recorded as a killed process leaves it: started, one batch sent, part of it answered."""
    pid = subprocess.Popen(["true"])
    pid.wait()  # reaped: this pid is no one's now
    with Journal(path) as journal:
        job_id = journal.create_job(spec, account)
        journal.job_started(job_id)
        target = spec.targets[0]
        items = [WorkItem(r.row, r.identifier, r.identifier, target) for r in spec.audience.rows[:SENT]]
        journal.batch_sent(job_id, items)
        journal.results_received(
            job_id, [ItemResult(i, Outcome.SUCCEEDED, previous="no") for i in items[:ANSWERED]]
        )
        journal._flush(everything=True)  # a crash loses only what was never committed
    journal_module._RUNNING_HERE.clear()  # the "process" that ran it is gone
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE jobs SET owner_pid=? WHERE id=?", (pid.pid, job_id))
    db.close()
    return job_id


def spec_for(window: MainWindow, sandbox: object, account_name: str | None = None) -> tuple[Account, JobSpec]:
    account = window.workspace.current.account  # type: ignore[union-attr]
    if account_name is not None:
        account = Account(account_name, PlatformKind.KIT_V4, AuthKind.OAUTH, base_url=account.base_url)
    ids = sandbox.known_subscriber_ids(ROWS, state=None)  # type: ignore[attr-defined]
    rows = [AudienceRow(n, str(i), IdentifierKind.SUBSCRIBER_ID) for n, i in enumerate(ids, 1)]
    tag = window.workspace.catalog[TargetKind.TAG][0]
    return account, JobSpec(account.name, Action.TAG, (tag,), Audience(rows=rows))


def test_the_banner_offers_the_job_and_resume_finishes_it(window: MainWindow, qtbot, sandbox) -> None:
    path = window.workspace.journal_path
    assert path is not None
    account, spec = spec_for(window, sandbox)
    job_id = crashed_job(path, account, spec)

    jobs = run_until(qtbot, window.offer_resume())
    assert [j.id for j in jobs] == [job_id]  # type: ignore[attr-defined]
    banner = window.resume_banner
    assert banner.isVisible() and banner.job_id == job_id
    assert f"{ANSWERED} of {ROWS} done" in banner.text_label.text()
    banner.resume_button.click()
    button = confirm_resume(window, qtbot, ROWS - ANSWERED)
    with qtbot.waitSignal(window.job_finished, timeout=10000) as finished:
        button.click()
    assert finished.args[0] == job_id and finished.args[1] == "finished"
    assert not banner.isVisible()
    # The table is the whole job: the 60 rows answered before the kill and the 240 sent now.
    shown = window.results_panel.model.outcomes()
    assert sorted(o.row for o in shown) == list(range(1, ROWS + 1))
    journal = window.workspace.journal()
    assert missing_rows(journal, job_id) == 0
    assert journal.job(job_id).starts == 2
    recorded = {o.row: o.outcome for o in job_outcomes(journal, job_id)}
    assert {recorded[r] for r in range(1, ANSWERED + 1)} == {Outcome.SUCCEEDED}
    shown_job = window.session.state.job
    assert shown_job is not None and shown_job.job_id == job_id and len(shown_job.spec.audience.rows) == ROWS
    assert window.results_panel.title_label.text().startswith("Tag: ")


def test_dismiss_hides_the_offer_and_show_opens_the_job_in_history(
    window: MainWindow, qtbot, sandbox
) -> None:
    path = window.workspace.journal_path
    account, spec = spec_for(window, sandbox)
    job_id = crashed_job(path, account, spec)  # type: ignore[arg-type]
    run_until(qtbot, window.offer_resume())
    window.resume_banner.show_button.click()
    history = window.history_panel
    assert window.bottom_tabs.currentWidget() is history
    qtbot.waitUntil(lambda: history.selected_job() is not None, timeout=5000)
    assert history.selected_job().id == job_id
    assert window.session.state.history_job == job_id
    assert history.resume_button.isEnabled()
    window.resume_banner.dismiss_button.click()
    assert not window.resume_banner.isVisible()
    assert not window.workspace.job_running


def test_resume_from_history(window: MainWindow, qtbot, sandbox) -> None:
    path = window.workspace.journal_path
    account, spec = spec_for(window, sandbox)
    job_id = crashed_job(path, account, spec)  # type: ignore[arg-type]
    history = window.history_panel
    window.bottom_tabs.setCurrentWidget(history)
    run_until(qtbot, history.refresh_action())
    assert history.select_job(job_id)
    assert history.resume_selected_action() == job_id
    button = confirm_resume(window, qtbot, ROWS - ANSWERED)
    with qtbot.waitSignal(window.job_finished, timeout=10000):
        button.click()
    assert missing_rows(window.workspace.journal(), job_id) == 0
    assert window.results_panel.model.rowCount() == ROWS


def test_a_job_whose_account_is_gone_is_not_resumed(window: MainWindow, qtbot, sandbox) -> None:
    path = window.workspace.journal_path
    account, spec = spec_for(window, sandbox, account_name="Removed since")
    job_id = crashed_job(path, account, spec)  # type: ignore[arg-type]
    run_until(qtbot, window.offer_resume())
    window.resume_banner.resume_button.click()
    button = confirm_resume(window, qtbot, ROWS - ANSWERED)
    with qtbot.waitSignal(window.workspace.job_refused, timeout=5000) as refused:
        button.click()
    assert "Removed since" in refused.args[0] and "no longer set up" in refused.args[0]
    banner = window.resume_banner  # says so where the offer was, and offers nothing else
    assert banner.isVisible() and "no longer set up" in banner.text_label.text()
    assert not banner.resume_button.isVisible() and not banner.show_button.isVisible()
    assert banner.dismiss_button.isVisible()
    assert not window.workspace.job_running
    assert window.workspace.journal().job(job_id).state.value == "interrupted"
