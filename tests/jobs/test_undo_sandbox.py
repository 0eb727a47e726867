"""Undo on the sandbox over loopback HTTP, through the real Kit v4 client: exact, both credentials."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from audience_manager.api.clients import open_platform
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.jobs import history
from audience_manager.jobs.journal import Journal
from audience_manager.jobs.runner import Runner
from audience_manager.jobs.undo import undo_spec
from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve


async def _run(journal: Journal, account: Account, credentials: Credentials, spec: JobSpec, **kw: str) -> str:
    job_id = journal.create_job(spec, account, **kw)  # type: ignore[arg-type]
    platform = open_platform(account, credentials)
    try:
        await Runner(platform, spec, recorder=journal, job_id=job_id).run()
    finally:
        await platform.aclose()
    return job_id


@pytest.mark.parametrize("auth", [AuthKind.OAUTH, AuthKind.API_KEY])
def test_a_tag_job_on_the_sandbox_is_undone_exactly(tmp_path: Path, auth: AuthKind) -> None:
    sandbox = Sandbox(subscribers=500, enforce_limits=False)
    kit = sandbox.state.kit
    ids = sandbox.known_subscriber_ids(40, state=None)
    tag = next(t for t in kit.tags.values() if len(kit.taggings[t.id]) < 400)
    for sid in ids[::4]:  # a quarter already had the tag
        kit.tag(sid, tag.id, "2025-01-01T00:00:00Z")
    before = dict(kit.taggings[tag.id])
    token = sandbox.credentials.kit_oauth_token if auth is AuthKind.OAUTH else sandbox.credentials.kit_api_key
    rows = [AudienceRow(n, str(sid), IdentifierKind.SUBSCRIBER_ID) for n, sid in enumerate(ids, 1)]
    target = Target(TargetKind.TAG, str(tag.id), tag.name)
    with serve(sandbox) as base_url, Journal(tmp_path / "j.sqlite3") as journal:
        account = Account("sandbox", PlatformKind.KIT_V4, auth, base_url=base_url)
        credentials = Credentials(token)
        spec = JobSpec("sandbox", Action.TAG, (target,), Audience(rows=rows))
        job_id = asyncio.run(_run(journal, account, credentials, spec))
        assert set(kit.taggings[tag.id]) == set(before) | set(ids)
        outcomes = history.job_outcomes(journal, job_id)
        unchanged = {int(o.identifier) for o in outcomes if o.outcome is Outcome.UNCHANGED}
        had = set(ids) & set(before)
        assert had >= set(ids[::4])
        assert unchanged == had, "the client must say which subscribers already had the tag"

        plan = undo_spec(journal, job_id)
        assert plan.possible and [len(s.audience.rows) for s in plan.specs] == [len(ids) - len(had)]
        for undo in plan.specs:
            asyncio.run(_run(journal, account, credentials, undo, parent_id=job_id, kind=plan.kind))
    assert kit.taggings[tag.id] == before  # the same members, with their original tagged_at


@pytest.mark.parametrize("auth", [AuthKind.OAUTH, AuthKind.API_KEY])
def test_an_untag_job_on_the_sandbox_is_undone_exactly(tmp_path: Path, auth: AuthKind) -> None:
    """Only the subscribers the untag took the tag from get it back; the others stay untagged."""
    sandbox = Sandbox(subscribers=500, enforce_limits=False)
    kit = sandbox.state.kit
    ids = sandbox.known_subscriber_ids(40, state=None)
    tag = next(t for t in kit.tags.values() if len(kit.taggings[t.id]) < 400)
    for sid in ids[::3]:  # a third had the tag, the rest did not
        kit.tag(sid, tag.id, "2025-01-01T00:00:00Z")
    before = set(kit.taggings[tag.id])
    had = set(ids) & before
    token = sandbox.credentials.kit_oauth_token if auth is AuthKind.OAUTH else sandbox.credentials.kit_api_key
    rows = [AudienceRow(n, str(sid), IdentifierKind.SUBSCRIBER_ID) for n, sid in enumerate(ids, 1)]
    target = Target(TargetKind.TAG, str(tag.id), tag.name)
    with serve(sandbox) as base_url, Journal(tmp_path / "j.sqlite3") as journal:
        account = Account("sandbox", PlatformKind.KIT_V4, auth, base_url=base_url)
        credentials = Credentials(token)
        spec = JobSpec("sandbox", Action.UNTAG, (target,), Audience(rows=rows))
        job_id = asyncio.run(_run(journal, account, credentials, spec))
        assert set(kit.taggings[tag.id]) == before - set(ids)
        outcomes = history.job_outcomes(journal, job_id)
        removed = {int(o.identifier) for o in outcomes if o.outcome is Outcome.SUCCEEDED}
        assert removed == had, "the client must say whose tag it removed"

        plan = undo_spec(journal, job_id)
        assert plan.possible and [len(s.audience.rows) for s in plan.specs] == [len(had)]
        assert not any("platform's word" in note for note in plan.notes)
        for undo in plan.specs:
            assert undo.action is Action.TAG
            asyncio.run(_run(journal, account, credentials, undo, parent_id=job_id, kind=plan.kind))
    assert set(kit.taggings[tag.id]) == before
