"""A sandbox served on 127.0.0.1 for each test, and a way to run the CLI against it in-process."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest

sandbox = pytest.importorskip("audience_manager.sandbox", reason="the sandbox package is not importable yet")
server = pytest.importorskip(
    "audience_manager.sandbox.server", reason="the sandbox server is not importable yet"
)

from audience_manager import cli  # noqa: E402

TOKEN_VAR = "AM_TEST_TOKEN"
SECRET_VAR = "AM_TEST_SECRET"


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str


@dataclass
class Served:
    sb: sandbox.Sandbox
    base_url: str
    secrets: set[str] = field(default_factory=set)
    outputs: list[str] = field(default_factory=list)

    def env(self, auth: str = "oauth") -> dict[str, str]:
        c = self.sb.credentials
        token = c.kit_oauth_token if auth == "oauth" else c.kit_api_key
        self.secrets.add(token)
        return {TOKEN_VAR: token}

    def fresh_tag(self, name: str = "Spring launch 2026") -> str:
        """A Kit tag nobody has yet, so every tagging is reported `succeeded`."""
        self.sb.state.kit.create_tag(name)
        return name

    def v3_env(self) -> dict[str, str]:
        c = self.sb.credentials
        self.secrets |= {c.kit_v3_key, c.kit_v3_secret}
        return {TOKEN_VAR: c.kit_v3_key, SECRET_VAR: c.kit_v3_secret}

    def v3_args(self) -> list[str]:
        return [
            "--platform",
            "kit-v3",
            "--base-url",
            self.base_url,
            "--token-env",
            TOKEN_VAR,
            "--secret-env",
            SECRET_VAR,
        ]

    def highlevel_env(self) -> dict[str, str]:
        token = self.sb.credentials.highlevel_token
        self.secrets.add(token)
        return {TOKEN_VAR: token}

    def highlevel_args(self) -> list[str]:
        location = self.sb.credentials.highlevel_location
        return [
            "--platform",
            "highlevel",
            "--base-url",
            self.base_url,
            "--token-env",
            TOKEN_VAR,
            "--location",
            location,
        ]

    def kit_args(self, auth: str = "oauth") -> list[str]:
        return ["--platform", "kit-v4", "--base-url", self.base_url, "--auth", auth, "--token-env", TOKEN_VAR]

    def run(
        self, argv: Sequence[str], *, auth: str = "oauth", environ: dict[str, str] | None = None
    ) -> CliRun:
        out, err = io.StringIO(), io.StringIO()
        env = self.env(auth) if environ is None else environ
        code = cli.main(list(argv), stdout=out, stderr=err, environ=env)
        self.outputs += [out.getvalue(), err.getvalue()]
        return CliRun(code, out.getvalue(), err.getvalue())


@pytest.fixture
def served() -> Iterator[Served]:
    sb = sandbox.Sandbox(subscribers=2_000, contacts=50)
    with server.serve(sb) as base_url:
        result = Served(sb, base_url)
        yield result
    c = sb.credentials
    every_secret = result.secrets | {c.kit_oauth_token, c.kit_api_key, c.kit_refresh_token, c.kit_v3_secret}
    for text in result.outputs:
        for secret in every_secret:
            assert secret not in text, "a token leaked into the CLI's output"
