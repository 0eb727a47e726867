"""A sandbox on 127.0.0.1 for the security tests, and the CLI run in-process against it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from audience_manager import cli
from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve

TOKEN_VAR = "AM_SECURITY_TOKEN"


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str


@dataclass
class Loopback:
    sb: Sandbox
    base_url: str

    @property
    def secrets(self) -> set[str]:
        c = self.sb.credentials
        return {c.kit_oauth_token, c.kit_api_key, c.kit_refresh_token, c.kit_v3_key, c.kit_v3_secret}

    def kit_args(self) -> list[str]:
        return [
            "--platform",
            "kit-v4",
            "--base-url",
            self.base_url,
            "--auth",
            "oauth",
            "--token-env",
            TOKEN_VAR,
        ]

    def run(self, argv: list[str]) -> CliRun:
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(
            argv, stdout=out, stderr=err, environ={TOKEN_VAR: self.sb.credentials.kit_oauth_token}
        )
        return CliRun(code, out.getvalue(), err.getvalue())


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    sb = Sandbox(subscribers=200, contacts=20)
    with serve(sb) as base_url:
        yield Loopback(sb, base_url)
