"""Credentials travel only over verified TLS, or to this computer; the sandbox listens only here."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import threading
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from audience_manager.api.clients import open_platform
from audience_manager.api.transport import InsecureURLError, Transport, check_base_url
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import HOST, run_forever, serve

from .conftest import TOKEN_VAR, Loopback

SOURCE = Path(__file__).resolve().parents[2] / "gui" / "audience_manager"


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "http://api.kit.com/v4",
        "http://10.0.0.5:8080",
        "http://[::ffff:8.8.8.8]",
        "ftp://x",
    ],
)
def test_credentials_are_never_sent_in_clear_over_the_network(url: str) -> None:
    with pytest.raises(InsecureURLError, match="use an https:// address"):
        check_base_url(url)


@pytest.mark.parametrize(
    "url", ["https://api.kit.com", "http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:9"]
)
def test_https_and_this_computer_are_allowed(url: str) -> None:
    check_base_url(url)


@pytest.mark.parametrize("command", ["apply", "list"])
def test_the_cli_refuses_a_plain_http_address_with_a_clear_message(
    loopback: Loopback, tmp_path: Path, command: str
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("1001\n")
    args = [
        "--platform",
        "kit-v4",
        "--base-url",
        "http://example.com",
        "--auth",
        "oauth",
        "--token-env",
        TOKEN_VAR,
    ]
    argv = [
        command,
        *args,
        *(["--action", "tag", "--target", "x", str(ids)] if command == "apply" else ["tags"]),
    ]
    run = loopback.run(argv)
    assert run.code == 2
    assert run.stdout == ""
    assert run.stderr == (
        "audience-manager: error: Refusing to send credentials to http://example.com: use an https:// "
        "address (plain http is allowed only to this computer).\n"
    )


class SpyClient(httpx.AsyncClient):
    built: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        SpyClient.built.append(dict(kwargs))
        super().__init__(*args, **kwargs)


@pytest.mark.parametrize(
    ("kind", "auth"),
    [
        (PlatformKind.KIT_V4, AuthKind.OAUTH),
        (PlatformKind.KIT_V4, AuthKind.API_KEY),
        (PlatformKind.KIT_V3, AuthKind.LEGACY_KEY),
        (PlatformKind.HIGHLEVEL, AuthKind.PRIVATE_TOKEN),
    ],
)
def test_every_client_verifies_tls_certificates(
    kind: PlatformKind, auth: AuthKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    SpyClient.built = []
    monkeypatch.setattr(httpx, "AsyncClient", SpyClient)
    account = Account("a", kind, auth, base_url="https://api.example.com", location_id="loc")
    platform = open_platform(account, Credentials("t0ken-for-tls-test", secret="s3cret-for-tls-test"))
    try:
        assert len(SpyClient.built) == 1
        assert SpyClient.built[0].get("verify", True) is True  # never False, never a custom context
        client = platform._http.client  # type: ignore[attr-defined]
        pool = client._transport._pool  # the SSL context httpx really uses
        context: ssl.SSLContext = pool._ssl_context
        assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    finally:
        asyncio.run(platform.aclose())


def test_no_code_path_can_turn_tls_verification_off() -> None:
    """Neither an option nor an environment variable: the only `verify=` in the source is True."""
    offending = []
    pattern = re.compile(
        r"verify\s*=\s*(?!True\b)|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context"
    )
    for path in SOURCE.rglob("*.py"):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if pattern.search(line):
                offending.append(f"{path.relative_to(SOURCE)}:{number}: {line.strip()}")
    assert offending == []
    assert "verify=True" in (SOURCE / "api" / "transport.py").read_text("utf-8")
    transport_args = Transport.__init__.__code__.co_varnames
    assert not any("verify" in name or "insecure" in name or "ssl" in name for name in transport_args)


def _listening_address(base_url: str) -> str:
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=2) as s:
        return str(s.getpeername()[0])


def test_the_sandbox_listens_on_loopback_only() -> None:
    assert HOST == "127.0.0.1"
    with serve(Sandbox(subscribers=10, contacts=5)) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert _listening_address(base_url) == "127.0.0.1"


def test_the_sandbox_command_listens_on_loopback_only(capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    lines: list[str] = []

    class Out:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    thread = threading.Thread(
        target=run_forever, args=(Sandbox(subscribers=10, contacts=5), 0), kwargs={"out": Out(), "stop": stop}
    )
    thread.start()
    try:
        for _ in range(500):
            if lines:
                break
            stop.wait(0.01)
        found = re.search(r"Sandbox running at (http://\S+)", "".join(lines))
        assert found, lines
        assert found.group(1).startswith("http://127.0.0.1:")
        assert _listening_address(found.group(1)) == "127.0.0.1"
    finally:
        stop.set()
        thread.join(10)
