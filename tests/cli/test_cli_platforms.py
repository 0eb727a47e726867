"""The CLI on Kit API v3 and HighLevel (sandbox over loopback), and the `sandbox` command."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TOKEN_VAR, Served


def test_kit_v3_tags_by_id_with_key_and_secret(served: Served, tmp_path: Path) -> None:
    ids = served.sb.known_subscriber_ids(4) + served.sb.unknown_subscriber_ids(1)
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(map(str, ids)) + "\n", encoding="utf-8")
    run = served.run(
        ["apply", *served.v3_args(), "--action", "tag", "--target", "VIP", str(path)], environ=served.v3_env()
    )
    assert run.code == 0, run.stderr  # an id that is not found is skipped, not failed
    assert f"row 5 {ids[-1]} -> VIP: skipped: " in run.stdout
    assert "4 succeeded" in run.stdout or "unchanged" in run.stdout


def test_kit_v3_refuses_set_field_from_its_capabilities(served: Served, tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_text("1\n", encoding="utf-8")
    run = served.run(
        ["apply", *served.v3_args(), "--action", "set-field", "--target", "plan", "--value", "x", str(path)],
        environ=served.v3_env(),
    )
    assert run.code == 2
    assert run.stderr.startswith("audience-manager: error: Kit (API v3, legacy) cannot set custom field: ")
    assert served.sb.stats.total == 0  # refused before any request


def test_highlevel_tags_contacts_and_has_no_forms(served: Served, tmp_path: Path) -> None:
    contacts = served.sb.known_contact_ids(5)
    path = tmp_path / "contacts.txt"
    path.write_text("\n".join(contacts) + "\n", encoding="utf-8")
    tags = served.run(["list", "tags", *served.highlevel_args()], environ=served.highlevel_env())
    assert tags.code == 0, tags.stderr
    name = tags.stdout.splitlines()[0].split("\t")[1]
    run = served.run(
        ["apply", *served.highlevel_args(), "--action", "tag", "--target", name.upper(), str(path)],
        environ=served.highlevel_env(),
    )
    assert run.code == 0, run.stderr
    assert "5 outcomes" in run.stdout
    forms = served.run(
        ["apply", *served.highlevel_args(), "--action", "add-to-form", "--target", "x", str(path)],
        environ=served.highlevel_env(),
    )
    assert forms.code == 2 and "HighLevel cannot add to form" in forms.stderr


def test_sandbox_command_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "audience_manager", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        assert first, proc.stderr.read()
        assert first.startswith("Sandbox running at http://127.0.0.1:"), first
        base_url = first.split()[3]
        import httpx

        reply = httpx.get(
            f"{base_url}/v4/account", headers={"X-Kit-Api-Key": "kit_sandbox_demo_api_key_0001"}
        )
        assert reply.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_demo_prints_every_outcome(served: Served) -> None:
    run = served.run(["demo"], environ={})
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("Demo: tag 12 rows with ")
    words = [line.split() for line in lines[1:13]]
    assert [w[0] for w in words] == [str(n) for n in range(1, 13)]
    outcomes = [next(o for o in ("succeeded", "failed", "skipped") if o in w) for w in words]
    assert (outcomes.count("succeeded"), outcomes.count("failed"), outcomes.count("skipped")) == (8, 2, 2)
    assert lines[13] == "12 outcomes: 8 succeeded, 2 failed, 2 skipped"


def test_highlevel_mixed_ids_and_emails_unknown_ones_said_before_any_write(
    served: Served, tmp_path: Path
) -> None:
    """One column of contact ids and emails, some unknown: a complete report, unknown emails skipped
    (never sent), an unknown id failed with HighLevel's own words."""
    contacts = list(served.sb.state.highlevel.contacts.values())[:3]
    path = tmp_path / "mixed.csv"
    unknown_id, unknown_email = "ZZZZZZZZZZZZZZZZZZZZ", "nobody@nowhere.example"
    rows = [contacts[0].id, f" {contacts[1].email.upper()} ", unknown_id, unknown_email]
    path.write_text("contact\n" + "\n".join(rows) + "\n", encoding="utf-8")
    report = tmp_path / "report.csv"
    run = served.run(
        [
            "apply",
            *served.highlevel_args(),
            "--action",
            "tag",
            "--target",
            "vip",
            "--report",
            str(report),
            str(path),
        ],
        environ=served.highlevel_env(),
    )
    assert run.code == 1, run.stderr
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert lines[1:] == [
        f"1,{contacts[0].id},vip,succeeded,",
        f"2,{contacts[1].email.lower()},vip,succeeded,",
        "3,ZZZZZZZZZZZZZZZZZZZZ,vip,failed,contact not found",
        "4,nobody@nowhere.example,vip,skipped,Not found on HighLevel: no contact with this email",
    ]


def test_highlevel_sets_a_contact_custom_field_from_a_column_and_undo_restores_it(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contacts = list(served.sb.state.highlevel.contacts.values())[:4]
    location = served.sb.state.highlevel.locations[contacts[0].location_id]
    company = next(fid for fid, (name, _key) in location.custom_fields.items() if name == "Company")
    contacts[3].custom[company] = "Old Co"
    path = tmp_path / "people.csv"
    cells = ["Acme", "Globex", "", "Initech"]
    path.write_text(
        "email,company\n" + "".join(f"{c.email},{v}\n" for c, v in zip(contacts, cells, strict=True)),
        encoding="utf-8",
    )
    report = tmp_path / "report.csv"
    run = served.run(
        ["apply", *served.highlevel_args(), "--action", "set-field", "--field", "Company=company",
         "--column", "email", "--report", str(report), str(path)],
        environ=served.highlevel_env(),
    )  # fmt: skip
    assert run.code == 0, run.stderr
    assert [c.custom.get(company) for c in contacts] == ["Acme", "Globex", None, "Initech"]
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert lines[3].endswith("unchanged,blank cell: left as it was")
    found = re.search(r"job (\w+)", run.stderr)
    assert found is not None
    for name, value in served.highlevel_env().items():
        monkeypatch.setenv(name, value)
    undo = served.run(
        ["jobs", "undo", found.group(1), "--token-env", TOKEN_VAR], environ=served.highlevel_env()
    )
    assert undo.code == 0, undo.stderr + undo.stdout
    assert [c.custom.get(company) for c in contacts] == [None, None, None, "Old Co"]


def test_highlevel_creates_the_contacts_not_there_yet_then_tags_them(served: Served, tmp_path: Path) -> None:
    hl = served.sb.state.highlevel
    contacts = [c for c in hl.contacts.values() if not c.deleted][:2]
    names = [c.first_name for c in contacts]
    path = tmp_path / "webinar.csv"
    rows = [(c.email, "Changed") for c in contacts] + [("brand.new@webinar.example", "Neve")]
    path.write_text("email,first_name\n" + "".join(f"{e},{f}\n" for e, f in rows), encoding="utf-8")
    report = tmp_path / "report.csv"
    run = served.run(
        ["apply", *served.highlevel_args(), "--action", "tag", "--target", "vip", "--create-missing",
         "--first-name-column", "first_name", "--column", "email", "--report", str(report), str(path)],
        environ=served.highlevel_env(),
    )  # fmt: skip
    assert run.code == 0, run.stderr
    assert served.sb.stats.count("/contacts/upsert") == 1
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert lines[3].endswith("succeeded,created and tagged")
    new = next(c for c in hl.contacts.values() if c.email == "brand.new@webinar.example")
    assert new.first_name == "Neve" and "vip" in new.tags
    assert [c.first_name for c in contacts] == names  # existing contacts were never upserted
