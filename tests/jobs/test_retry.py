from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from audience_manager.core.outcomes import Outcome
from audience_manager.jobs import history
from audience_manager.jobs.journal import KIND_RETRY, Journal
from audience_manager.jobs.retry import TRANSIENT_REASONS, NothingToRetryError, retry_spec
from audience_manager.jobs.runner import Runner

from .journal_fakes import ACCOUNT, CountingPlatform
from .runner_fakes import id_audience, spec, tag


def test_retry_sends_only_the_failed_rows_as_a_linked_job(tmp_path: Path) -> None:
    platform = CountingPlatform(subscribers=500, fail_item_rate=0.2, seed=3)
    job = spec(id_audience(range(1, 521), invalid=["nope"]), tag(1))
    with Journal(tmp_path / "j.sqlite3") as journal:
        job_id = journal.create_job(job, ACCOUNT)
        first = asyncio.run(Runner(platform, job, recorder=journal, job_id=job_id).run())
        failed_rows = {o.row for o in first if o.outcome is Outcome.FAILED}
        assert len(failed_rows) > 100

        plan = retry_spec(journal, job_id)
        assert {r.row for r in plan.spec.audience.rows} == failed_rows
        assert plan.spec.audience.invalid == [] and plan.spec.targets == (tag(1),)
        retry_id = journal.create_job(plan.spec, ACCOUNT, parent_id=job_id, kind=plan.kind)
        platform.fail_item_rate = 0.0
        asyncio.run(Runner(platform, plan.spec, recorder=journal, job_id=retry_id).run())
        record = journal.job(retry_id)
        assert (record.parent_id, record.kind) == (job_id, KIND_RETRY)
        again = history.job_outcomes(journal, retry_id)
        # Rows that do not exist fail again; the injected refusals now succeed.
        assert {o.row for o in again if o.outcome is Outcome.FAILED} == set(range(501, 521))
        assert platform.tags["1"] == {str(i) for i in range(1, 501)}
        assert [j.id for j in history.children(journal, job_id)] == [retry_id]


def test_retry_filtered_by_reason(tmp_path: Path) -> None:
    platform = CountingPlatform(subscribers=100, raise_rate=0.5, seed=1)
    job = spec(id_audience(range(1, 2001)), tag(1))
    platform.subscribers = 2000
    with Journal(tmp_path / "j.sqlite3") as journal:
        job_id = journal.create_job(job, ACCOUNT)
        first = asyncio.run(Runner(platform, job, recorder=journal, job_id=job_id).run())
        reasons = {o.reason for o in first if o.outcome is Outcome.FAILED}
        assert len(reasons) == 2  # the 429 give-up and the client bug
        plan = retry_spec(journal, job_id, reasons=TRANSIENT_REASONS)
        rows = {r.row for r in plan.spec.audience.rows}
        assert rows == {o.row for o in first if o.outcome is Outcome.FAILED and "429" in o.reason}
        with pytest.raises(NothingToRetryError, match="no failed rows with a reason containing 'quota'"):
            retry_spec(journal, job_id, reasons=["quota"])
