"""End to end: the CLI against the sandbox over loopback HTTP."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audience_manager.core.outcomes import REPORT_HEADER
from audience_manager.jobs.runner import CANCELLED_IN_FLIGHT

from .conftest import TOKEN_VAR, Served

BULK_TAG = "/v4/bulk/tags/subscribers"
ROW_TAG = "/v4/tags/{tag_id}/subscribers/{id}"


def write_ids(path: Path, ids: list[int]) -> Path:
    path.write_text("\n".join(str(i) for i in ids) + "\n", encoding="utf-8")
    return path


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == REPORT_HEADER
        return list(reader)


def test_oauth_tags_1000_ids_in_10_bulk_requests_and_fails_exactly_the_unknown(
    served: Served, tmp_path: Path
) -> None:
    sb = served.sb
    known, unknown = sb.known_subscriber_ids(900), sb.unknown_subscriber_ids(100)
    ids = known + unknown
    ids.sort()
    report = tmp_path / "report.csv"
    run = served.run(
        [
            "apply",
            *served.kit_args(),
            "--action",
            "tag",
            "--target",
            "vip",
            "--report",
            str(report),
            str(write_ids(tmp_path / "ids.txt", ids)),
        ]
    )
    assert run.code == 1, run.stderr
    assert sb.stats.count(BULK_TAG) == 10
    assert sb.stats.count(ROW_TAG) == 0
    rows = read_report(report)
    assert len(rows) == 1000
    failed = {int(r["identifier"]) for r in rows if r["outcome"] == "failed"}
    assert failed == set(unknown)
    assert {r["reason"] for r in rows if r["outcome"] == "failed"} == {"Subscriber does not exist"}
    assert {r["outcome"] for r in rows if int(r["identifier"]) in set(known)} <= {"succeeded", "unchanged"}
    assert {r["target"] for r in rows} == {"VIP"}
    assert [int(r["row"]) for r in rows] == list(range(1, 1001))
    vip = next(t for t in sb.state.kit.tags.values() if t.name == "VIP")
    assert set(known) <= set(sb.state.kit.taggings[vip.id])
    assert "1,000 outcomes: " in run.stdout and ", 100 failed" in run.stdout


def test_api_key_uses_the_per_row_endpoints(served: Served, tmp_path: Path) -> None:
    sb = served.sb
    ids = sb.known_subscriber_ids(18) + sb.unknown_subscriber_ids(2)
    report = tmp_path / "report.csv"
    run = served.run(
        [
            "apply",
            *served.kit_args("api-key"),
            "--action",
            "tag",
            "--target",
            "Lead",
            "--report",
            str(report),
            str(write_ids(tmp_path / "ids.txt", ids)),
        ],
        auth="api-key",
    )
    assert run.code == 1, run.stderr
    assert sb.stats.count(BULK_TAG) == 0
    assert sb.stats.count(ROW_TAG) == 20
    rows = read_report(report)
    assert sorted(int(r["identifier"]) for r in rows if r["outcome"] == "failed") == sorted(ids[-2:])


@pytest.mark.parametrize("auth", ["oauth", "api-key"])
def test_untag_add_to_form_and_set_field(served: Served, tmp_path: Path, auth: str) -> None:
    sb = served.sb
    kit = sb.state.kit
    ids = sb.known_subscriber_ids(12)
    path = write_ids(tmp_path / "ids.txt", ids)
    base = ["apply", *served.kit_args(auth)]

    assert served.run([*base, "--action", "tag", "--target", "Customer", str(path)], auth=auth).code == 0
    customer = next(t for t in kit.tags.values() if t.name == "Customer")
    assert set(ids) <= set(kit.taggings[customer.id])
    run = served.run([*base, "--action", "untag", "--target", str(customer.id), str(path)], auth=auth)
    assert run.code == 0, run.stderr
    assert not set(ids) & set(kit.taggings[customer.id])

    form = next(f for f in kit.forms.values() if not f.double_opt_in)
    run = served.run([*base, "--action", "add-to-form", "--target", form.name.upper(), str(path)], auth=auth)
    assert run.code == 0, run.stderr
    assert set(ids) <= set(kit.form_members[form.id])

    run = served.run(
        [*base, "--action", "set-field", "--target", "plan", "--value", "gold", str(path)], auth=auth
    )
    assert run.code == 0, run.stderr
    assert {kit.subscribers[i].fields["plan"] for i in ids} == {"gold"}
    again = served.run(
        [*base, "--action", "set-field", "--target", "Plan", "--value", "gold", str(path)], auth=auth
    )
    assert again.code == 0, again.stderr


def test_several_targets_give_one_line_per_row_and_target(served: Served, tmp_path: Path) -> None:
    ids = served.sb.known_subscriber_ids(5)
    report = tmp_path / "r.csv"
    run = served.run(
        [
            "apply",
            *served.kit_args(),
            "--action",
            "tag",
            "--target",
            "VIP",
            "--target",
            "Lead",
            "--report",
            str(report),
            str(write_ids(tmp_path / "ids.txt", ids)),
        ]
    )
    assert run.code == 0, run.stderr
    rows = read_report(report)
    assert sorted((r["row"], r["target"]) for r in rows) == sorted(
        (str(n), t) for n in range(1, 6) for t in ("VIP", "Lead")
    )


def test_skipped_rows_are_reported_but_do_not_fail_the_run(served: Served, tmp_path: Path) -> None:
    ids = served.sb.known_subscriber_ids(3)
    path = tmp_path / "ids.txt"
    path.write_text(f"{ids[0]}\nnot-an-id\n{ids[1]}\n{ids[0]}\n{ids[2]}\n", encoding="utf-8")
    report = tmp_path / "r.csv"
    run = served.run(
        [
            "apply",
            *served.kit_args(),
            "--action",
            "tag",
            "--target",
            served.fresh_tag(),
            "--report",
            str(report),
            str(path),
        ]
    )
    assert run.code == 0, run.stderr
    rows = read_report(report)
    assert [(r["row"], r["outcome"]) for r in rows] == [
        ("1", "succeeded"),
        ("2", "skipped"),
        ("3", "succeeded"),
        ("4", "skipped"),
        ("5", "succeeded"),
    ]
    assert "row 2 not-an-id" in run.stdout and "row 4" in run.stdout


def test_emails_are_looked_up_and_unknown_ones_skipped(served: Served, tmp_path: Path) -> None:
    emails = served.sb.known_emails(4)
    path = tmp_path / "emails.txt"
    path.write_text("\n".join([*emails, "nobody-at-all@example.org"]) + "\n", encoding="utf-8")
    report = tmp_path / "r.csv"
    run = served.run(
        [
            "apply",
            *served.kit_args(),
            "--action",
            "tag",
            "--target",
            served.fresh_tag(),
            "--report",
            str(report),
            str(path),
        ]
    )
    assert run.code == 0, run.stderr
    rows = read_report(report)
    assert [r["outcome"] for r in rows] == ["succeeded"] * 4 + ["skipped"]
    assert rows[-1]["reason"] == "Not found on Kit: no subscriber with this email"


def test_column_picks_the_identifiers_from_a_csv(served: Served, tmp_path: Path) -> None:
    pytest.importorskip("audience_manager.core.audience_file", reason="file reading is not importable yet")
    ids = served.sb.known_subscriber_ids(3)
    path = tmp_path / "export.csv"
    path.write_text("name,subscriber id\n" + "".join(f"Ann {i},{i}\n" for i in ids), encoding="utf-8")
    report = tmp_path / "r.csv"
    run = served.run(
        [
            "apply",
            *served.kit_args(),
            "--action",
            "tag",
            "--target",
            "VIP",
            "--column",
            "subscriber id",
            "--report",
            str(report),
            str(path),
        ]
    )
    assert run.code == 0, run.stderr
    assert sorted(r["identifier"] for r in read_report(report)) == sorted(map(str, ids))


def test_report_to_stdout_keeps_the_summary_on_stderr(served: Served, tmp_path: Path) -> None:
    ids = served.sb.known_subscriber_ids(2)
    run = served.run(
        [
            "apply",
            *served.kit_args(),
            "--action",
            "tag",
            "--target",
            served.fresh_tag(),
            "--report",
            "-",
            str(write_ids(tmp_path / "ids.txt", ids)),
        ]
    )
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == ",".join(REPORT_HEADER) and len(lines) == 3
    assert "2 outcomes: 2 succeeded" in run.stderr


# -------------------------------------------------------------------------------- usage errors


def test_missing_token_variable_is_a_usage_error(served: Served, tmp_path: Path) -> None:
    path = write_ids(tmp_path / "ids.txt", [1])
    run = served.run(
        ["apply", *served.kit_args(), "--action", "tag", "--target", "VIP", str(path)], environ={}
    )
    assert run.code == 2
    assert "AM_TEST_TOKEN is not set or empty" in run.stderr
    assert "Traceback" not in run.stderr
    empty = served.run(
        ["apply", *served.kit_args(), "--action", "tag", "--target", "VIP", str(path)],
        environ={TOKEN_VAR: "  "},
    )
    assert empty.code == 2


def test_unknown_target_lists_close_matches(served: Served, tmp_path: Path) -> None:
    path = write_ids(tmp_path / "ids.txt", served.sb.known_subscriber_ids(1))
    run = served.run(["apply", *served.kit_args(), "--action", "tag", "--target", "Custmer", str(path)])
    assert run.code == 2
    assert "no tag named or numbered 'Custmer'. Did you mean: Customer" in run.stderr
    assert served.sb.stats.count(BULK_TAG) == 0


def test_wrong_token_is_an_authentication_error_with_exit_2(served: Served, tmp_path: Path) -> None:
    path = write_ids(tmp_path / "ids.txt", served.sb.known_subscriber_ids(1))
    wrong = "sbx_kit_at_not_a_real_token_42"
    served.secrets.add(wrong)
    run = served.run(
        ["apply", *served.kit_args(), "--action", "tag", "--target", "VIP", str(path)],
        environ={TOKEN_VAR: wrong},
    )
    assert run.code == 2
    assert run.stderr.startswith("audience-manager: error: ") and run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr


@pytest.mark.slow  # the transport retries a refused connection for about 25 s before giving up
def test_unreachable_platform_is_exit_2_without_traceback(tmp_path: Path) -> None:
    from io import StringIO

    from audience_manager import cli

    out, err = StringIO(), StringIO()
    code = cli.main(
        [
            "list",
            "tags",
            "--platform",
            "kit-v4",
            "--base-url",
            "http://127.0.0.1:9",
            "--auth",
            "oauth",
            "--token-env",
            TOKEN_VAR,
        ],
        stdout=out,
        stderr=err,
        environ={TOKEN_VAR: "secret-value-123"},
    )
    assert code == 2
    assert err.getvalue().startswith("audience-manager: error:") and "Traceback" not in err.getvalue()
    assert "secret-value-123" not in err.getvalue() + out.getvalue()


def test_plain_http_to_another_host_is_refused(tmp_path: Path) -> None:
    from io import StringIO

    from audience_manager import cli

    err = StringIO()
    code = cli.main(
        [
            "list",
            "tags",
            "--platform",
            "kit-v4",
            "--base-url",
            "http://example.com",
            "--auth",
            "oauth",
            "--token-env",
            TOKEN_VAR,
        ],
        stdout=StringIO(),
        stderr=err,
        environ={TOKEN_VAR: "secret-value-123"},
    )
    assert code == 2 and "https://" in err.getvalue()


def test_set_field_needs_a_value_and_value_needs_set_field(served: Served, tmp_path: Path) -> None:
    path = write_ids(tmp_path / "ids.txt", [1])
    no_value = served.run(
        ["apply", *served.kit_args(), "--action", "set-field", "--target", "plan", str(path)]
    )
    assert no_value.code == 2 and "needs --value" in no_value.stderr
    stray = served.run(
        ["apply", *served.kit_args(), "--action", "tag", "--target", "VIP", "--value", "x", str(path)]
    )
    assert stray.code == 2 and "only for --action set-field" in stray.stderr


def test_list_prints_ids_and_names(served: Served) -> None:
    run = served.run(["list", "tags", *served.kit_args()])
    assert run.code == 0, run.stderr
    assert any(line.endswith("\tVIP") for line in run.stdout.splitlines())
    fields = served.run(["list", "fields", *served.kit_args()])
    assert "88004\tPlan\tplan" in fields.stdout


def test_verbose_logs_requests_without_the_token(served: Served, tmp_path: Path) -> None:
    path = write_ids(tmp_path / "ids.txt", served.sb.known_subscriber_ids(2))
    run = served.run(
        ["apply", *served.kit_args(), "--verbose", "--action", "tag", "--target", "VIP", str(path)]
    )
    assert run.code == 0, run.stderr
    assert "DEBUG" in run.stderr  # the served fixture then scans every output for the token


# ------------------------------------------------------------------------------ as a process


def _cli_process(args: list[str], env_token: str, **kw: object) -> subprocess.Popen[str]:
    env = {**os.environ, TOKEN_VAR: env_token, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        [sys.executable, "-m", "audience_manager", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kw,
    )


def test_stdin_input_through_the_console_entry(served: Served) -> None:
    ids = served.sb.known_subscriber_ids(3) + served.sb.unknown_subscriber_ids(1)
    token = served.env()[TOKEN_VAR]
    proc = _cli_process(
        [
            "apply",
            *served.kit_args(),
            "--action",
            "tag",
            "--target",
            served.fresh_tag(),
            "--report",
            "-",
            "-",
        ],
        token,
        stdin=subprocess.PIPE,
    )
    out, err = proc.communicate("\n".join(map(str, ids)) + "\n", timeout=60)
    served.outputs += [out, err]
    assert proc.returncode == 1, err
    lines = out.splitlines()
    assert lines[0] == "row,identifier,target,outcome,reason"
    assert [line.split(",")[3] for line in lines[1:]] == ["succeeded"] * 3 + ["failed"]


@pytest.mark.slow
def test_ctrl_c_cancels_cleanly_and_still_writes_the_report(served: Served, tmp_path: Path) -> None:
    # An API key allows 120 requests a minute, one row each: 400 rows cannot finish in the test's time.
    ids = served.sb.known_subscriber_ids(400)
    report = tmp_path / "r.csv"
    token = served.env("api-key")[TOKEN_VAR]
    proc = _cli_process(
        [
            "apply",
            *served.kit_args("api-key"),
            "--action",
            "tag",
            "--target",
            "VIP",
            "--report",
            str(report),
            str(write_ids(tmp_path / "ids.txt", ids)),
        ],
        token,
    )
    deadline = time.monotonic() + 30
    while served.sb.stats.count(ROW_TAG) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    served.outputs += [out, err]
    assert proc.returncode == 1, err
    assert "Traceback" not in err and "Cancelling" in err
    rows = read_report(report)
    assert len(rows) == 400
    by = {o: sum(r["outcome"] == o for r in rows) for o in ("succeeded", "unchanged", "cancelled", "failed")}
    assert by["succeeded"] + by["unchanged"] >= 20 and by["cancelled"] > 100
    assert sum(by.values()) == 400
    # Rows whose request was on its way are cancelled too (not failed): they may have been applied,
    # and the reason says a resume settles them.
    assert {r["reason"] for r in rows if r["outcome"] == "cancelled"} <= {
        "Cancelled before sending",
        CANCELLED_IN_FLIGHT,
    }
    assert by["failed"] == 0


def test_token_refused_mid_job_stops_with_exit_2_and_a_complete_report(
    served: Served, tmp_path: Path
) -> None:
    ids = served.sb.known_subscriber_ids(1500)  # 15 bulk requests: more than are ever in flight at once
    served.sb.faults.expire_token_after = 4  # list tags + 3 bulk requests, then the token is refused
    report = tmp_path / "r.csv"
    run = served.run(
        [
            "apply",
            *served.kit_args(),
            "--action",
            "tag",
            "--target",
            served.fresh_tag(),
            "--report",
            str(report),
            str(write_ids(tmp_path / "ids.txt", ids)),
        ]
    )
    assert run.code == 2, run.stderr
    rows = read_report(report)
    assert len(rows) == 1500
    assert {r["outcome"] for r in rows} == {"succeeded", "failed"}
    failed = [r for r in rows if r["outcome"] == "failed"]
    assert failed and all("Reconnect the account, then Retry failed." in r["reason"] for r in failed)
    assert any(r["reason"].startswith("Not sent: Kit refused the token") for r in failed)
    assert "Stopped: Kit refused the token" in run.stdout


@pytest.mark.slow  # the transport backs off between retries
def test_flaky_platform_still_gives_every_row_one_outcome(served: Served, tmp_path: Path) -> None:
    sb = served.sb
    sb.faults.status_rates = {500: 0.3, 429: 0.2}
    sb.faults.drop_rate = 0.1
    ids = sb.known_subscriber_ids(600) + sb.unknown_subscriber_ids(50)
    report = tmp_path / "r.csv"
    run = served.run(
        [
            "apply",
            *served.kit_args(),
            "--action",
            "tag",
            "--target",
            served.fresh_tag(),
            "--report",
            str(report),
            str(write_ids(tmp_path / "ids.txt", ids)),
        ]
    )
    assert run.code in (0, 1), run.stderr
    rows = read_report(report)
    assert sorted(int(r["identifier"]) for r in rows) == sorted(ids)
    assert {r["identifier"] for r in rows if r["reason"] == "Subscriber does not exist"} <= set(
        map(str, ids[600:])
    )


def test_random_binary_on_stdin_is_refused_and_nothing_is_written(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import random
    import sys

    data = random.Random(16).randbytes(100_000)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    run = served.run(["apply", *served.kit_args(), "--action", "tag", "--target", "VIP", "-"])
    assert run.code == 2, run.stderr
    assert "binary" in run.stderr and "standard input" in run.stderr
    assert served.sb.stats.count(BULK_TAG) == 0 and served.sb.stats.count(ROW_TAG) == 0


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_cancel_like_ctrl_c_with_a_report_and_the_job_marked(
    served: Served, tmp_path: Path, sig: signal.Signals
) -> None:
    from audience_manager.jobs.journal import Journal

    ids = served.sb.known_subscriber_ids(400)  # one row a request with an API key: it cannot finish
    report = tmp_path / "r.csv"
    home = tmp_path / "home"
    env = {
        **os.environ,
        TOKEN_VAR: served.env("api-key")[TOKEN_VAR],
        "PYTHONUNBUFFERED": "1",
        "AUDIENCE_MANAGER_HOME": str(home),
    }
    args = [
        "apply",
        *served.kit_args("api-key"),
        "--action",
        "tag",
        "--target",
        "VIP",
        "--report",
        str(report),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "audience_manager", *args, str(write_ids(tmp_path / "ids.txt", ids))],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while served.sb.stats.count(ROW_TAG) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    served.outputs += [out, err]
    assert proc.returncode == 1, err
    assert "Traceback" not in err and "Cancelling" in err and sig.name in err
    rows = read_report(report)
    assert len(rows) == 400 and {r["outcome"] for r in rows} <= {"succeeded", "unchanged", "cancelled"}
    with Journal(home / "journal.sqlite3") as journal:
        (job,) = [journal.job(j) for (j,) in journal.read().execute("SELECT id FROM jobs")]
    assert job.state.value == "cancelled" and job.done == 400 and job.succeeded + job.unchanged >= 20
