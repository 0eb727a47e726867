"""`accounts add|list|test|remove` and `apply/list --account NAME`, in-process against the sandbox on
loopback, with an in-memory keyring; the browser sign-in is driven by a function that follows the
authorize page's redirect, as a browser would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import keyring.backends.fail
import pytest

from audience_manager import cli
from audience_manager.cli import accounts as cli_accounts
from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve
from audience_manager.store.accounts import AccountBook
from audience_manager.store.secrets import SERVICE, KeyringSecrets, Secrets, set_shared_secrets

from .memory_keyring import MemoryKeyring


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(subscribers=300, contacts=60)


@pytest.fixture(scope="module")
def base_url(sandbox: Sandbox) -> Iterator[str]:
    with serve(sandbox) as url:
        yield url


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUDIENCE_MANAGER_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def backend(home: Path) -> Iterator[MemoryKeyring]:
    memory = MemoryKeyring()
    set_shared_secrets(Secrets(KeyringSecrets(memory)))
    yield memory
    set_shared_secrets(None)


def run(
    args: list[str], capsys: pytest.CaptureFixture[str], env: dict[str, str] | None = None
) -> tuple[int, str]:
    code = cli.main(args, environ=env or {})
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_add_list_use_and_remove_a_kit_key_account(
    sandbox: Sandbox,
    base_url: str,
    home: Path,
    backend: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    key = sandbox.credentials.kit_api_key
    monkeypatch.setenv("MY_KEY", key)
    code, out = run(
        [
            "accounts",
            "add",
            "--platform",
            "kit-v4",
            "--name",
            "Shop",
            "--base-url",
            base_url,
            "--token-env",
            "MY_KEY",
        ],
        capsys,
    )
    assert code == 0, out
    assert "Verified: Sandbox Demo Co." in out
    assert key not in (home / "settings.json").read_text()
    assert json.loads(backend.entries[(SERVICE, "Shop")])["token"] == key

    code, out = run(["accounts", "list"], capsys)
    assert code == 0 and "Shop\tkit-v4\tapi-key" in out and "secret in keyring" in out

    code, out = run(["accounts", "test", "Shop"], capsys)
    assert code == 0 and "Shop: OK, Sandbox Demo Co." in out

    code, out = run(["list", "tags", "--account", "Shop"], capsys)
    assert code == 0 and len(out.splitlines()) >= 3

    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(str(i) for i in sandbox.known_subscriber_ids(3)))
    tag, _ = sandbox.state.kit.create_tag("From the CLI account")
    code, out = run(
        ["apply", "--account", "Shop", "--action", "tag", "--target", str(tag.id), str(ids)], capsys
    )
    assert code == 0, out
    assert "3 succeeded" in out or "3 outcomes" in out
    assert key not in out

    code, out = run(["accounts", "remove", "Shop"], capsys)
    assert code == 0 and "keyring entry" in out
    assert backend.entries == {}
    assert AccountBook(home / "settings.json").accounts() == []
    code, out = run(["list", "tags", "--account", "Shop"], capsys)
    assert code == 2 and "no saved account is called 'Shop'" in out


def test_a_wrong_token_is_not_saved(
    base_url: str,
    home: Path,
    backend: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_KEY", "kit_wrong_0000000000")
    code, out = run(
        [
            "accounts",
            "add",
            "--platform",
            "kit-v4",
            "--name",
            "Bad",
            "--base-url",
            base_url,
            "--token-env",
            "MY_KEY",
        ],
        capsys,
    )
    assert code == 2 and "not saved" in out and "invalid" in out
    assert "kit_wrong_0000000000" not in out
    assert backend.entries == {} and not (home / "settings.json").exists()


def test_highlevel_and_v3_accounts(
    sandbox: Sandbox,
    base_url: str,
    home: Path,
    backend: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = sandbox.credentials
    monkeypatch.setenv("HL", c.highlevel_token)
    monkeypatch.setenv("V3K", c.kit_v3_key)
    monkeypatch.setenv("V3S", c.kit_v3_secret)
    code, out = run(
        [
            "accounts",
            "add",
            "--platform",
            "highlevel",
            "--name",
            "Agency",
            "--location",
            c.highlevel_location,
            "--base-url",
            base_url,
            "--token-env",
            "HL",
        ],
        capsys,
    )
    assert code == 0, out
    code, out = run(
        [
            "accounts",
            "add",
            "--platform",
            "kit-v3",
            "--name",
            "Legacy",
            "--base-url",
            base_url,
            "--token-env",
            "V3K",
            "--secret-env",
            "V3S",
        ],
        capsys,
    )
    assert code == 0, out
    code, out = run(
        [
            "accounts",
            "add",
            "--platform",
            "highlevel",
            "--name",
            "Agency",
            "--location",
            "x",
            "--base-url",
            base_url,
            "--token-env",
            "HL",
        ],
        capsys,
    )
    assert code == 2 and "--replace" in out
    code, out = run(["list", "tags", "--account", "Agency"], capsys)
    assert code == 0 and out.strip()
    code, out = run(["list", "tags", "--account", "Legacy", "--platform", "kit-v3"], capsys)
    assert code == 2 and "not both" in out


def test_oauth_sign_in_in_the_browser_then_a_job_refreshes_and_saves_the_rotated_pair(
    sandbox: Sandbox,
    base_url: str,
    home: Path,
    backend: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    def browser(url: str) -> None:  # called on its own thread, as a real browser command would be
        httpx.get(url, follow_redirects=True)

    monkeypatch.setattr(cli_accounts.webbrowser, "open", browser)
    code, out = run(
        [
            "accounts",
            "add",
            "--platform",
            "kit-v4",
            "--auth",
            "oauth",
            "--name",
            "Shop OAuth",
            "--base-url",
            base_url,
            "--client-id",
            sandbox.credentials.oauth_client_id,
            "--authorize-url",
            f"{base_url}/oauth/authorize",
            "--token-url",
            f"{base_url}/oauth/token",
        ],
        capsys,
    )
    assert code == 0, out
    assert "Sign in to Kit in your browser" in out and "Verified" in out
    first = json.loads(backend.entries[(SERVICE, "Shop OAuth")])
    assert first["refresh_token"] and first["expires_at"] > 0

    sandbox.faults.expire_token_after = 1  # the token expires under the job: refresh, save, retry
    try:
        ids = tmp_path / "ids.txt"
        ids.write_text("\n".join(str(i) for i in sandbox.known_subscriber_ids(5)))
        tag, _ = sandbox.state.kit.create_tag("OAuth from the CLI")
        code, out = run(
            [
                "apply",
                "--account",
                "Shop OAuth",
                "--action",
                "tag",
                "--target",
                str(tag.id),
                str(ids),
                "--verbose",
            ],
            capsys,
        )
    finally:
        sandbox.faults.expire_token_after = None
    assert code == 0, out
    now = json.loads(backend.entries[(SERVICE, "Shop OAuth")])
    assert now["refresh_token"] != first["refresh_token"]
    assert sandbox.oauth.refresh_tokens[now["refresh_token"]] is True  # the saved one is the live one
    for secret in (first["token"], first["refresh_token"], now["token"], now["refresh_token"]):
        assert secret not in out


def test_no_keyring_refuses_to_save_and_says_how_to_fix(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_shared_secrets(Secrets(KeyringSecrets(keyring.backends.fail.Keyring())))  # type: ignore[no-untyped-call]
    try:
        monkeypatch.setenv("MY_KEY", "kit_some_key_123456")
        code, out = run(
            ["accounts", "add", "--platform", "kit-v4", "--name", "Shop", "--token-env", "MY_KEY"], capsys
        )
    finally:
        set_shared_secrets(None)
    assert code == 2
    assert "No secure keyring" in out and "gnome-keyring" in out and "--token-env" in out
    assert not (home / "settings.json").exists()
    assert not any("kit_some_key" in p.read_text(errors="replace") for p in home.rglob("*") if p.is_file())


def test_oauth_tokens_from_the_environment_are_saved_with_their_refresh_token(
    sandbox: Sandbox,
    base_url: str,
    home: Path,
    backend: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issued = sandbox.oauth.issue()
    monkeypatch.setenv("AT", str(issued["access_token"]))
    monkeypatch.setenv("RT", str(issued["refresh_token"]))
    code, out = run(
        [
            "accounts",
            "add",
            "--platform",
            "kit-v4",
            "--auth",
            "oauth",
            "--name",
            "Env",
            "--base-url",
            base_url,
            "--token-env",
            "AT",
            "--secret-env",
            "RT",
            "--token-url",
            f"{base_url}/oauth/token",
        ],
        capsys,
    )
    assert code == 0, out
    stored = json.loads(backend.entries[(SERVICE, "Env")])
    assert stored["token"] == issued["access_token"] and stored["refresh_token"] == issued["refresh_token"]
    code, out = run(
        ["accounts", "add", "--platform", "kit-v3", "--name", "X", "--auth", "oauth", "--token-env", "AT"],
        capsys,
    )
    assert code == 2 and "only for kit-v4" in out


@pytest.mark.parametrize("option", ["--token-url", "--authorize-url", "--base-url"])
def test_accounts_add_refuses_a_plain_http_url_a_secret_would_go_to(
    option: str, capsys: pytest.CaptureFixture[str], backend: MemoryKeyring
) -> None:
    code, out = run(
        [
            "accounts", "add", "--platform", "kit-v4", "--name", "Http", "--auth", "oauth",
            "--token-env", "AT", "--secret-env", "RT", option, "http://auth.example.com/oauth/x",
        ],
        capsys,
        {"AT": "access-token-123456", "RT": "refresh-token-123456"},
    )  # fmt: skip
    assert code == 2 and "use an https:// address" in out, out
    assert "auth.example.com" in out and "refresh-token-123456" not in out
    assert not backend.entries
