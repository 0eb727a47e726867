"""The issue's shapes as a new user runs them: a CSV of emails tagged with `apply` against the sandbox."""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from pathlib import Path

from audience_manager import cli
from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve

from .conftest import TOKEN_VAR


def write_emails(path: Path, emails: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["First name", "Email"])
        writer.writerows(["Ann", e] for e in emails)
    return path


def report_outcomes(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def apply(argv: list[str], token: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, stdout=out, stderr=err, environ={TOKEN_VAR: token})
    return code, out.getvalue(), err.getvalue()


def test_a_csv_of_3050_emails_is_tagged_on_kit_in_under_150_requests_and_cached(tmp_path: Path) -> None:
    sb = Sandbox(subscribers=20_000, contacts=10)
    known = sb.known_emails(3_000, state=None)
    unknown = [f"nobody{n}@nowhere.example" for n in range(50)]
    source = write_emails(tmp_path / "webinar.csv", known[:2000] + unknown + known[2000:])
    sb.state.kit.create_tag("Webinar Dec")
    assert apply(["directory", "clear"], "")[0] == 0  # the tests' data folder is shared
    with serve(sb) as base_url:
        args = ["--platform", "kit-v4", "--auth", "oauth", "--base-url", base_url, "--token-env", TOKEN_VAR]
        report = tmp_path / "report.csv"
        started = time.monotonic()
        code, out, err = apply(
            [
                "apply",
                *args,
                "--action",
                "tag",
                "--target",
                "Webinar Dec",
                "--report",
                str(report),
                str(source),
            ],
            sb.credentials.kit_oauth_token,
        )
        seconds = time.monotonic() - started
        assert code == 0, err
        rows = report_outcomes(report)
        assert len(rows) == 3_050 and Counter(r["outcome"] for r in rows) == {
            "succeeded": 3_000,
            "skipped": 50,
        }
        assert {r["identifier"] for r in rows if r["outcome"] == "skipped"} == set(unknown)
        assert all(r["reason"].startswith("Not found on Kit") for r in rows if r["outcome"] == "skipped")
        assert sb.stats.total < 150 and sb.stats.total_429 == 0 and seconds < 60
        assert "resolving 3,050 emails: 21 requests" in err

        # The same list again (another tag): no lookups at all.
        sb.stats.reset()
        sb.state.kit.create_tag("Webinar replay")
        code, _, err = apply(
            ["apply", *args, "--action", "tag", "--target", "Webinar replay", str(source)],
            sb.credentials.kit_oauth_token,
        )
        assert code == 0, err
        assert sb.stats.count("/v4/subscribers") == 0

        code, out, _ = apply(["directory", "clear"], "")
        assert code == 0 and "Forgot 3,050 looked-up emails" in out


def test_a_csv_of_1530_emails_is_tagged_on_highlevel_in_under_80_requests(tmp_path: Path) -> None:
    sb = Sandbox(subscribers=10, contacts=10_000)
    loc = sb.credentials.highlevel_location
    contacts = sb.state.highlevel.contacts
    known = list(dict.fromkeys(contacts[c].email for c in sb.known_contact_ids(1_700)))[:1_500]
    unknown = [f"nobody{n}@nowhere.example" for n in range(30)]
    source = write_emails(tmp_path / "shop.csv", unknown + known)
    sb.highlevel._ensure_tag(sb.state.highlevel.locations[loc], "shop-dec")
    with serve(sb) as base_url:
        args = [
            "--platform",
            "highlevel",
            "--base-url",
            base_url,
            "--token-env",
            TOKEN_VAR,
            "--location",
            loc,
        ]
        report = tmp_path / "report.csv"
        code, _, err = apply(
            ["apply", *args, "--action", "tag", "--target", "shop-dec", "--report", str(report), str(source)],
            sb.credentials.highlevel_token,
        )
    assert code == 0, err
    rows = report_outcomes(report)
    assert Counter(r["outcome"] for r in rows) == {"succeeded": 1_500, "skipped": 30}
    assert all(r["reason"].startswith("Not found on HighLevel") for r in rows if r["outcome"] == "skipped")
    assert sb.stats.total < 80 and sb.stats.total_429 == 0
