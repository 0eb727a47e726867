"""`jobs list/show/resume/retry/undo` and `apply --dry-run` through the CLI, against the sandbox."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve

from .journal_fakes import CliRig


@pytest.fixture
def rig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[CliRig]:
    sandbox = Sandbox(subscribers=300, enforce_limits=False)
    monkeypatch.setenv("AUDIENCE_MANAGER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AM_JOBS_TOKEN", sandbox.credentials.kit_oauth_token)
    with serve(sandbox) as base_url:
        yield CliRig(sandbox, base_url, capsys)


def first_job(rig: CliRig) -> str:
    code, out, _ = rig.run("jobs", "list")
    assert code == 0
    return out.splitlines()[0].split()[0]


def test_list_and_show_give_the_same_report_as_apply(rig: CliRig, tmp_path: Path) -> None:
    kit = rig.sandbox.state.kit
    tag, _ = kit.create_tag("Jobs CLI")
    ids = rig.sandbox.known_subscriber_ids(30, state=None) + rig.sandbox.unknown_subscriber_ids(2)
    audience = rig.ids_file(tmp_path, ids, ["not-an-id"])
    code, _, err = rig.apply(
        "--action", "tag", "--target", tag.name, "--report", str(tmp_path / "a.csv"), audience
    )
    assert code == 1  # the two unknown ids failed
    job_id = first_job(rig)
    assert f"job {job_id}" in err
    code, out, _ = rig.run("jobs", "show", job_id[:6], "--report", str(tmp_path / "b.csv"))
    assert code == 0 and job_id in out and "30 succeeded" in out
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    rows = list(csv.reader((tmp_path / "b.csv").open(encoding="utf-8-sig")))
    assert len(rows) == 1 + 33

    rig.apply("--action", "untag", "--target", tag.name, audience)
    code, out, _ = rig.run("jobs", "list")
    lines = out.splitlines()
    assert len(lines) == 2 and lines[1].startswith(job_id) and "Remove tag" in lines[0]
    code, out, _ = rig.run("jobs", "list", "--action", "tag")
    assert [line.split()[0] for line in out.splitlines()] == [job_id]
    code, _, err = rig.run("jobs", "show", "nosuchjob")
    assert code == 2 and "No job nosuchjob" in err
    # The token never reaches the data directory (journal, WAL, anything else).
    token = rig.sandbox.credentials.kit_oauth_token.encode()
    files = [f for f in (tmp_path / "home").rglob("*") if f.is_file()]
    assert files and not any(token in f.read_bytes() for f in files)
    code, out, _ = rig.run("jobs", "delete", "--older-than", "1")
    assert code == 0 and out == "0 jobs deleted\n"
    code, out, _ = rig.run("jobs", "delete", "--older-than", "0")
    assert code == 0 and out == "2 jobs deleted\n"
    assert rig.run("jobs", "list")[1] == ""


def test_retry_sends_only_failed_rows_that_can_succeed(rig: CliRig, tmp_path: Path) -> None:
    """The CLI plans retries with `jobs.workflows.retry_plan`, as the window does: rows that failed
    because the subscriber does not exist are left out, and the message says so."""
    tag, _ = rig.sandbox.state.kit.create_tag("Retry me")
    unknown = rig.sandbox.unknown_subscriber_ids(3)
    ids = rig.sandbox.known_subscriber_ids(10, state=None) + unknown
    rig.apply("--action", "tag", "--target", tag.name, rig.ids_file(tmp_path, ids))
    job_id = first_job(rig)
    code, _, err = rig.run("jobs", "retry", job_id, "--reason", "quota", "--token-env", "AM_JOBS_TOKEN")
    assert code == 2 and "no failed rows with a reason containing 'quota'" in err
    before = rig.sandbox.stats.count("/v4/bulk/tags/subscribers")
    code, out, err = rig.run(
        "jobs", "retry", job_id, "--reason", "does not exist", "--token-env", "AM_JOBS_TOKEN"
    )
    assert code == 2 and "3 failed because the subscriber does not exist" in err, err
    assert rig.sandbox.stats.count("/v4/bulk/tags/subscribers") == before  # nothing sent
    code, out, _ = rig.run("jobs", "list")
    assert len(out.splitlines()) == 1 and "retry of" not in out


def test_undo_restores_the_tag_exactly_and_refuses_a_form(rig: CliRig, tmp_path: Path) -> None:
    kit = rig.sandbox.state.kit
    tag, _ = kit.create_tag("Undo me")
    ids = rig.sandbox.known_subscriber_ids(20, state=None)
    for sid in ids[:5]:
        kit.tag(sid, tag.id, "2025-05-05T00:00:00Z")
    before = dict(kit.taggings[tag.id])
    rig.apply("--action", "tag", "--target", tag.name, rig.ids_file(tmp_path, ids))
    job_id = first_job(rig)
    code, out, _ = rig.run("jobs", "undo", job_id, "--dry-run", "--token-env", "AM_JOBS_TOKEN")
    assert code == 0 and "Remove tag Undo me: 15 rows" in out and "5 rows were already so" in out
    assert set(kit.taggings[tag.id]) == set(ids)
    code, out, _ = rig.run("jobs", "undo", job_id, "--token-env", "AM_JOBS_TOKEN")
    assert code == 0, out
    assert kit.taggings[tag.id] == before

    form = next(iter(kit.forms.values()))
    rig.apply("--action", "add-to-form", "--target", str(form.id), rig.ids_file(tmp_path, ids[:2]))
    code, out, _ = rig.run("jobs", "undo", first_job(rig), "--token-env", "AM_JOBS_TOKEN")
    assert code == 2 and "cannot be undone" in out


def test_dry_run_reads_and_reports_without_writing(rig: CliRig, tmp_path: Path) -> None:
    kit = rig.sandbox.state.kit
    tag, _ = kit.create_tag("Preview me")
    ids = rig.sandbox.known_subscriber_ids(12, state=None)
    for sid in ids[:4]:
        kit.tag(sid, tag.id, "2025-05-05T00:00:00Z")
    missing = rig.sandbox.unknown_subscriber_ids(2)
    code, out, _ = rig.apply(
        "--action", "tag", "--target", tag.name, "--dry-run", rig.ids_file(tmp_path, ids + missing)
    )
    assert code == 0
    assert "8 would change, 4 already so, 2 not found" in out
    assert "1 write (" in out
    assert rig.sandbox.stats.count("/v4/bulk/tags/subscribers") == 0
    assert set(kit.taggings[tag.id]) == set(ids[:4])
    code, out, _ = rig.run("jobs", "list")
    assert out == ""  # a preview is not a job


def test_resume_of_a_finished_job_says_to_retry(rig: CliRig, tmp_path: Path) -> None:
    tag, _ = rig.sandbox.state.kit.create_tag("Done")
    rig.apply(
        "--action", "tag", "--target", tag.name, rig.ids_file(tmp_path, rig.sandbox.known_subscriber_ids(3))
    )
    code, _, err = rig.run("jobs", "resume", first_job(rig), "--token-env", "AM_JOBS_TOKEN")
    assert code == 2 and "retry" in err


def test_jobs_commands_write_to_the_streams_main_is_given(rig: CliRig, tmp_path: Path) -> None:
    """An embedding caller (or a test) passing its own streams gets the output, not the process's."""
    import io

    from audience_manager import cli

    tag, _ = rig.sandbox.state.kit.create_tag("Streams")
    rig.apply(
        "--action", "tag", "--target", tag.name, rig.ids_file(tmp_path, rig.sandbox.known_subscriber_ids(3))
    )
    job_id = first_job(rig)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["jobs", "show", job_id], stdout=out, stderr=err) == 0
    assert job_id in out.getvalue() and "3 succeeded" in out.getvalue()
    code = cli.main(
        ["jobs", "resume", job_id, "--token-env", "AM_JOBS_TOKEN"], stdout=io.StringIO(), stderr=err
    )
    assert code == 2 and "retry" in err.getvalue()
    captured = rig.capsys.readouterr()
    assert job_id not in captured.out and "retry" not in captured.err
