"""Tokens go to the OS keyring and nowhere else.

Runs the real command line, as separate processes, in a throwaway HOME with a real Secret Service
(gnome-keyring in its own D-Bus session): saves Kit (API key, OAuth through the browser sign-in),
Kit v3 and HighLevel accounts, tests and lists them, runs jobs on each with `--verbose` (every
request logged), makes an OAuth token expire mid-job so it is refreshed and rotated, exports
reports, reads the history, removes an account, and runs the window's `--smoke` job. Then every
file under that HOME and the output folder (settings, journal, window state, reports, the keyring
file itself) and everything each command printed is searched for every token the sandbox issued,
in plain text and in the encodings a careless write would use: zero hits.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve

pytestmark = [
    pytest.mark.keyring,
    pytest.mark.slow,
    pytest.mark.skipif(
        not shutil.which("dbus-run-session") or not shutil.which("gnome-keyring-daemon"),
        reason="needs dbus-run-session and gnome-keyring (a real Secret Service)",
    ),
]

UNLOCK_AND_RUN = (
    'echo -n leaktest | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"'
)
BROWSER = """\
import sys, httpx
httpx.get(sys.argv[1], follow_redirects=True, timeout=30)
"""

# Runs inside the D-Bus session: each command as its own process, its output kept for the scan.
DRIVER = """\
import json, os, subprocess, sys
plan = json.load(open(sys.argv[1]))
out = sys.argv[2]
results = []
for i, (name, argv) in enumerate(plan):
    done = subprocess.run([sys.executable, "-m", "audience_manager", *argv], capture_output=True, text=True,
                          timeout=120)
    open(os.path.join(out, f"{i:02d}-{name}.stdout"), "w").write(done.stdout)
    open(os.path.join(out, f"{i:02d}-{name}.stderr"), "w").write(done.stderr)
    results.append([name, done.returncode])
json.dump(results, open(os.path.join(out, "codes.json"), "w"))
"""


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, str]]:
    sb = Sandbox(subscribers=500, contacts=100)
    with serve(sb) as url:
        yield sb, url


def encodings(secret: str) -> set[bytes]:
    """The ways a secret could end up in a file: as is, UTF-16 (Qt ini files), base64, URL-quoted."""
    raw = secret.encode()
    return {
        raw,
        secret.encode("utf-16-le"),
        base64.b64encode(raw).rstrip(b"="),
        urllib.parse.quote(secret, safe="").encode(),
    }


def found_in(files: list[Path], secrets: set[str]) -> list[tuple[Path, str]]:
    found = []
    for path in files:
        data = path.read_bytes()
        found += [(path, s) for s in secrets if any(form in data for form in encodings(s))]
    return found


def test_the_scan_finds_a_planted_token_in_every_encoding(tmp_path: Path) -> None:
    canary = "kit_canary_token_0123456789"
    planted = []
    for i, form in enumerate(encodings(canary)):
        path = tmp_path / f"planted-{i}"
        path.write_bytes(b"prefix " + form + b" suffix")
        planted.append(path)
    clean = tmp_path / "clean"
    clean.write_text("kit_canary_token_012345678 (one character short)")
    assert found_in([*planted, clean], {canary}) == [(p, canary) for p in planted]


def test_no_token_anywhere_but_the_keyring(served: tuple[Sandbox, str], tmp_path: Path) -> None:
    sb, url = served
    c = sb.credentials
    home = tmp_path / "home"
    app_home = home / "app-data"
    out = tmp_path / "out"
    for folder in (home / ".cache", home / ".local" / "share", app_home, out):
        folder.mkdir(parents=True)
    (tmp_path / "browser.py").write_text(BROWSER)
    (tmp_path / "driver.py").write_text(DRIVER)

    kit_ids = tmp_path / "kit-ids.txt"
    kit_ids.write_text(
        "\n".join(str(i) for i in [*sb.known_subscriber_ids(20), *sb.unknown_subscriber_ids(2)])
    )
    emails = tmp_path / "emails.txt"
    emails.write_text("\n".join(sb.known_emails(5)))
    contacts = tmp_path / "contacts.txt"
    contacts.write_text("\n".join(sb.known_contact_ids(8)))
    kit_tag, _ = sb.state.kit.create_tag("Leak test")
    hl_tag = next(iter(sb.state.highlevel.locations[c.highlevel_location].tags.values())).name

    verbose = ["--verbose"]
    on = ["--base-url", url]
    plan: list[tuple[str, list[str]]] = [
        (
            "add-kit",
            [
                "accounts",
                "add",
                "--platform",
                "kit-v4",
                "--name",
                "Shop",
                *on,
                "--token-env",
                "KIT_KEY",
                *verbose,
            ],
        ),
        (
            "add-hl",
            [
                "accounts",
                "add",
                "--platform",
                "highlevel",
                "--name",
                "Agency",
                "--location",
                c.highlevel_location,
                *on,
                "--token-env",
                "HL_TOKEN",
                *verbose,
            ],
        ),
        (
            "add-v3",
            [
                "accounts",
                "add",
                "--platform",
                "kit-v3",
                "--name",
                "Legacy",
                *on,
                "--token-env",
                "V3_KEY",
                "--secret-env",
                "V3_SECRET",
                *verbose,
            ],
        ),
        (
            "add-oauth",
            [
                "accounts",
                "add",
                "--platform",
                "kit-v4",
                "--auth",
                "oauth",
                "--name",
                "Shop OAuth",
                *on,
                "--client-id",
                c.oauth_client_id,
                "--authorize-url",
                f"{url}/oauth/authorize",
                "--token-url",
                f"{url}/oauth/token",
                *verbose,
            ],
        ),
        ("list-accounts", ["accounts", "list"]),
        ("test-kit", ["accounts", "test", "Shop", *verbose]),
        ("test-hl", ["accounts", "test", "Agency", *verbose]),
        ("test-v3", ["accounts", "test", "Legacy", *verbose]),
        ("list-tags", ["list", "tags", "--account", "Shop", *verbose]),
        (
            "apply-kit",
            [
                "apply",
                "--account",
                "Shop",
                "--action",
                "tag",
                "--target",
                str(kit_tag.id),
                "--report",
                str(out / "kit-report.csv"),
                str(kit_ids),
                *verbose,
            ],
        ),
        (
            "apply-oauth",
            [
                "apply",
                "--account",
                "Shop OAuth",
                "--action",
                "untag",
                "--target",
                str(kit_tag.id),
                "--report",
                str(out / "oauth-report.csv"),
                str(kit_ids),
                *verbose,
            ],
        ),
        (
            "apply-v3",
            [
                "apply",
                "--account",
                "Legacy",
                "--action",
                "tag",
                "--target",
                str(kit_tag.id),
                "--report",
                str(out / "v3-report.csv"),
                str(emails),
                *verbose,
            ],
        ),
        (
            "apply-hl",
            [
                "apply",
                "--account",
                "Agency",
                "--action",
                "tag",
                "--target",
                hl_tag,
                "--report",
                str(out / "hl-report.csv"),
                str(contacts),
                *verbose,
            ],
        ),
        (
            "apply-env",
            [
                "apply",
                "--platform",
                "kit-v4",
                "--auth",
                "api-key",
                *on,
                "--token-env",
                "KIT_KEY",
                "--action",
                "tag",
                "--target",
                str(kit_tag.id),
                "--report",
                "-",
                str(kit_ids),
                *verbose,
            ],
        ),
        ("jobs-list", ["jobs", "list"]),
        (
            "wrong-token",
            [
                "accounts",
                "add",
                "--platform",
                "kit-v4",
                "--name",
                "Bad",
                *on,
                "--token-env",
                "WRONG_KEY",
                *verbose,
            ],
        ),
        ("remove-v3", ["accounts", "remove", "Legacy"]),
        ("smoke", ["--smoke"]),
    ]
    (tmp_path / "plan.json").write_text(json.dumps(plan))

    sb.oauth.expires_in = 2  # the OAuth account's token is stale by its job: refreshed and rotated
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AUDIENCE_MANAGER_HOME": str(app_home),
        "QT_QPA_PLATFORM": "offscreen",
        "BROWSER": f"{sys.executable} {tmp_path / 'browser.py'} %s",
        "KIT_KEY": c.kit_api_key,
        "HL_TOKEN": c.highlevel_token,
        "V3_KEY": c.kit_v3_key,
        "V3_SECRET": c.kit_v3_secret,
        "WRONG_KEY": "kit_wrong_key_for_the_leak_test_0001",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    try:
        session = subprocess.run(
            [
                "dbus-run-session",
                "--",
                "sh",
                "-c",
                UNLOCK_AND_RUN,
                "sh",
                sys.executable,
                str(tmp_path / "driver.py"),
                str(tmp_path / "plan.json"),
                str(out),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        sb.oauth.expires_in = 7200
    assert session.returncode == 0, session.stderr[-2000:]
    codes = dict(json.loads((out / "codes.json").read_text()))

    def printed(name: str) -> str:
        index = [n for n, _ in plan].index(name)
        return "".join((out / f"{index:02d}-{name}.{s}").read_text() for s in ("stdout", "stderr"))

    # It all really happened (a scan of nothing proves nothing).
    expected_fail = {"wrong-token": 2, "apply-kit": 1, "apply-oauth": 1, "apply-env": 1}  # unknown ids fail
    for name, code in codes.items():
        assert code == expected_fail.get(name, 0), f"{name} exited {code}: {printed(name)[-1500:]}"
    assert "Verified: Sandbox Demo Co." in printed("add-kit")
    assert "Sign in to Kit in your browser" in printed("add-oauth") and "Verified" in printed("add-oauth")
    assert printed("list-accounts").count("secret in keyring") == 4
    assert "'authorization': '[redacted]'" in printed("apply-oauth")  # logged, and masked
    assert "'x-kit-api-key': '[redacted]'" in printed("apply-kit")
    assert "[redacted]" in printed("apply-kit") and "[redacted]" in printed("apply-hl")
    assert "smoke: job" in printed("smoke")
    assert (out / "kit-report.csv").stat().st_size > 100 and (out / "hl-report.csv").stat().st_size > 100
    assert (app_home / "settings.json").exists() and (app_home / "journal.sqlite3").exists()
    issued = set(sb.oauth.access_tokens) | set(sb.oauth.refresh_tokens)
    assert len(sb.oauth.refresh_tokens) >= 3, "the OAuth job should have refreshed its token"
    assert any((home / ".local" / "share" / "keyrings").iterdir()), "the keyring file should exist"

    secrets = {
        c.kit_api_key,
        c.kit_oauth_token,
        c.kit_refresh_token,
        c.kit_v3_key,
        c.kit_v3_secret,
        c.highlevel_token,
        env["WRONG_KEY"],
        *issued,
    }
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 40
    hits = [f"{path.relative_to(tmp_path)}: {secret[:6]}…" for path, secret in found_in(files, secrets)]
    session_output = session.stdout + session.stderr
    hits += [f"session output: {s[:6]}…" for s in secrets if s in session_output]
    assert hits == []
