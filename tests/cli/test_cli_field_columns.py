"""Set custom field from the file's columns: each row's own Company and Plan, blanks left alone,
<= 100 values a request over OAuth, and an undo that restores each previous value."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest

from audience_manager import cli
from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve

from .conftest import TOKEN_VAR

BULK = "/v4/bulk/custom_fields/subscribers"


def run(argv: list[str], token: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, stdout=out, stderr=err, environ={TOKEN_VAR: token})
    return code, out.getvalue(), err.getvalue()


def outcomes(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "first_name", "company", "plan"])
        writer.writerows(rows)
    return path


def _fields_of(sb: Sandbox, email: str) -> dict[str, str | None]:
    sub = sb.state.kit.find_email(email)
    assert sub is not None
    return dict(sub.fields)


@pytest.mark.parametrize("auth", ["oauth", "api-key"])
def test_each_row_sets_its_own_company_and_plan_blanks_left_and_undo_restores(
    tmp_path: Path, auth: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = Sandbox(subscribers=2_000, contacts=10)
    emails = sb.known_emails(250 if auth == "oauth" else 12, state=None)
    before = {e: _fields_of(sb, e) for e in emails}
    rows = [
        (e, "Ann", "" if n % 10 == 0 else f"Company {n}", "" if n % 7 == 0 else ("Pro" if n % 2 else "Free"))
        for n, e in enumerate(emails)
    ]
    source = write_rows(tmp_path / "people.csv", rows)
    token = sb.credentials.kit_oauth_token if auth == "oauth" else sb.credentials.kit_api_key
    with serve(sb) as base_url:
        conn = ["--platform", "kit-v4", "--auth", auth, "--base-url", base_url, "--token-env", TOKEN_VAR]
        report = tmp_path / "report.csv"
        code, _, err = run(
            [
                "apply",
                *conn,
                "--action",
                "set-field",
                "--field",
                "Company=company",
                "--field",
                "Plan=plan",
                "--column",
                "email",
                "--report",
                str(report),
                str(source),
            ],
            token,
        )
        assert code == 0, err
        got = outcomes(report)
        assert len(got) == 2 * len(emails)  # one outcome a row and field
        blanks = [r for r in got if r["reason"] == "blank cell: left as it was"]
        assert all(r["outcome"] == "unchanged" for r in blanks)
        assert len(blanks) == sum(1 for r in rows if not r[2]) + sum(1 for r in rows if not r[3])
        for email, _first, company, plan in rows:
            now = _fields_of(sb, email)
            assert now["company"] == (company or before[email]["company"])
            assert now["plan"] == (plan or before[email]["plan"])
        if auth == "oauth":
            assert sb.stats.count(BULK) == 6  # 225 companies and 214 plans, 100 a request
        else:  # one PUT a subscriber with both fields (none for a row whose two cells are blank)
            assert sb.stats.count("/v4/subscribers/{id}") == sum(1 for r in rows if r[2] or r[3])

        monkeypatch.setenv(TOKEN_VAR, token)  # the undo reads the token the job's way
        job_id = re.search(r"job (\w+)", err)
        assert job_id is not None
        code, out, err = run(["jobs", "undo", job_id.group(1), "--token-env", TOKEN_VAR], token)
        assert code == 0, err + out
        for email in emails:
            now = _fields_of(sb, email)
            assert now["company"] == before[email]["company"] and now["plan"] == before[email]["plan"]


def test_field_mapping_usage_errors(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "p.csv", [("a@example.com", "A", "X", "Y")])
    base = ["apply", "--platform", "kit-v4", "--auth", "oauth", "--token-env", TOKEN_VAR]
    code, _, err = run([*base, "--action", "set-field", "--field", "Company", str(source)], "t")
    assert code == 2 and "FIELD=COLUMN" in err
    code, _, err = run([*base, "--action", "tag", "--field", "Company=company", str(source)], "t")
    assert code == 2 and "only for --action set-field" in err
    code, _, err = run(
        [*base, "--action", "set-field", "--field", "Company=company", "--value", "x", str(source)], "t"
    )
    assert code == 2 and "without --target and --value" in err


def test_done_when_500_rows_two_fields_40_new_people_created_and_tagged_then_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's shape over OAuth: 500 rows (40 new), Company and Plan with some blanks: fields set
    in <= 100-value requests, the 40 created with their first names, no existing first name changed,
    all 500 tagged; each undo restores what it changed and says the created people stay."""
    sb = Sandbox(subscribers=3_000, contacts=10)
    known = sb.known_emails(460, state=None)
    new = [f"lead{n}@webinar.example" for n in range(40)]
    emails = known[:200] + new + known[200:]
    firsts = {e: sb.state.kit.find_email(e).first_name for e in known}  # type: ignore[union-attr]
    before = {e: _fields_of(sb, e) for e in known}
    rows = [
        (e, f"New{n}", "" if n % 9 == 0 else f"Co {n}", "" if n % 5 == 0 else "Pro")
        for n, e in enumerate(emails)
    ]
    source = write_rows(tmp_path / "webinar.csv", rows)
    sb.state.kit.create_tag("Webinar Dec")
    token = sb.credentials.kit_oauth_token
    monkeypatch.setenv(TOKEN_VAR, token)
    with serve(sb) as base_url:
        conn = ["--platform", "kit-v4", "--auth", "oauth", "--base-url", base_url, "--token-env", TOKEN_VAR]
        code, out, err = run(
            ["apply", *conn, "--action", "tag", "--target", "Webinar Dec", "--create-missing",
             "--column", "email", "--dry-run", str(source)],
            token,
        )  # fmt: skip
        assert code == 0, err
        assert "To create: 40 people not there yet, then tag." in out, out
        report = tmp_path / "tag.csv"
        started = time.monotonic()
        code, _, err = run(
            [
                "apply", *conn, "--action", "tag", "--target", "Webinar Dec", "--create-missing",
                "--first-name-column", "first_name", "--column", "email",
                "--report", str(report), str(source),
            ],
            token,
        )  # fmt: skip
        assert code == 0, err
        print(f"\ntag + create: {sb.stats.total} requests, {time.monotonic() - started:.1f} s")
        got = outcomes(report)
        assert len(got) == 500 and all(r["outcome"] == "succeeded" for r in got)
        assert sum(r["reason"] == "created and tagged" for r in got) == 40
        assert sb.stats.count("/v4/bulk/subscribers") == 1
        for n, e in enumerate(emails):
            sub = sb.state.kit.find_email(e)
            assert sub is not None
            assert sub.first_name == (f"New{n}" if e in new else firsts[e])  # no existing name changed
        tag = sb.state.kit.find_tag_by_name("Webinar Dec")
        assert tag is not None and len(sb.state.kit.taggings[tag.id]) == 500
        tag_job = re.search(r"job (\w+)", err)
        assert tag_job is not None

        sb.stats.reset()
        report = tmp_path / "fields.csv"
        started = time.monotonic()
        code, _, err = run(
            [
                "apply", *conn, "--action", "set-field", "--field", "Company=company", "--field", "Plan=plan",
                "--column", "email", "--report", str(report), str(source),
            ],
            token,
        )  # fmt: skip
        assert code == 0, err
        writes = sb.stats.count(BULK)
        seconds = time.monotonic() - started
        print(f"set 2 fields: {sb.stats.total} requests ({writes} bulk writes), {seconds:.1f} s")
        assert writes <= 10  # 444 companies and 400 plans, 100 values a request
        for email, _f, company, plan in rows:
            now = _fields_of(sb, email)
            was = before.get(email, {"company": None, "plan": None})
            assert now["company"] == (company or was["company"]) and now["plan"] == (plan or was["plan"])
        field_job = re.search(r"job (\w+)", err)
        assert field_job is not None

        sb.stats.reset()
        started = time.monotonic()
        code, out, err = run(["jobs", "undo", field_job.group(1), "--token-env", TOKEN_VAR], token)
        assert code == 0, err + out
        print(f"undo of the fields: {sb.stats.total} requests, {time.monotonic() - started:.1f} s")
        for e in known:
            now = _fields_of(sb, e)
            assert (now["company"], now["plan"]) == (before[e]["company"], before[e]["plan"])
        code, out, err = run(["jobs", "undo", tag_job.group(1), "--token-env", TOKEN_VAR], token)
        assert code == 0, err + out
        assert "40 people this job created stay" in out + err
        assert len(sb.state.kit.taggings[tag.id]) == 0
        assert all(sb.state.kit.find_email(e) is not None for e in new)


@pytest.mark.parametrize("auth", ["oauth", "api-key"])
def test_an_id_audience_reads_the_old_values_in_one_listing_not_one_read_each(
    tmp_path: Path, auth: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Set custom field on 2,000 subscriber ids of a 10,000-subscriber account (OAuth), or 6 of
    2,000 (API key, 120 requests a minute): the values the undo needs come from one pass over the
    account's listing (10 or 2 pages), read once for the job, not one `GET /v4/subscribers/{id}`
    a row (2,000 more requests over OAuth, or twice the requests with an API key)."""
    oauth = auth == "oauth"
    sb = Sandbox(subscribers=10_000 if oauth else 2_000, contacts=10)
    n = 2_000 if oauth else 6
    ids = sb.known_subscriber_ids(n, state=None)
    company = next(f for f in sb.state.kit.custom_fields.values() if f.key == "company")
    before = {i: sb.state.kit.subscribers[i].fields.get("company") for i in ids}
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(map(str, ids)) + "\n")
    token = sb.credentials.kit_oauth_token if auth == "oauth" else sb.credentials.kit_api_key
    with serve(sb) as base_url:
        conn = ["--platform", "kit-v4", "--auth", auth, "--base-url", base_url, "--token-env", TOKEN_VAR]
        set_field = ["apply", *conn, "--action", "set-field", "--target", company.label, "--value", "Acme"]
        code, _, err = run([*set_field, str(source)], token)
        assert code == 0, err
        assert all(sb.state.kit.subscribers[i].fields["company"] == "Acme" for i in ids)
        if oauth:
            assert sb.stats.count(BULK) == 20
            assert sb.stats.count("/v4/subscribers/{id}") == 0
        else:  # one PUT a subscriber, and no read before it
            assert sb.stats.count("/v4/subscribers/{id}") == n
        assert sb.stats.count("/v4/subscribers") <= (11 if oauth else 3)  # the account's size, its pages
        monkeypatch.setenv(TOKEN_VAR, token)
        job_id = re.search(r"job (\w+)", err)
        assert job_id is not None
        code, out, err = run(["jobs", "undo", job_id.group(1), "--token-env", TOKEN_VAR], token)
        assert code == 0, err + out
        assert {i: sb.state.kit.subscribers[i].fields.get("company") for i in ids} == before
