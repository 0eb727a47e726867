"""Every file of the bad-input corpus through the CLI, against the sandbox on 127.0.0.1.

`apply --dry-run FILE` must end with exit code 0 (read) or 2 (unusable file) and say so in words the
user can act on: the same counts or the same message the file reader gives, never a traceback. A real
`apply` of each readable file then runs the job (unknown ids fail per row: exit 1) and still prints no
traceback. Each file records its row in tests/RELIABILITY.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from audience_manager import cli
from audience_manager.cli import common as cli_common
from audience_manager.core.audience import Audience
from audience_manager.core.audience_file import AudienceFileError, read_audience
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve
from tests import reliability

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
FILES = sorted(p.name for p in CORPUS.iterdir())
TOKEN_VAR = "AM_CORPUS_TOKEN"
TRACEBACK_SIGNS = ("Traceback", 'File "', "Error(", "unexpected error")
KIT = frozenset({IdentifierKind.SUBSCRIBER_ID, IdentifierKind.EMAIL})
HIGHLEVEL = frozenset({IdentifierKind.CONTACT_ID, IdentifierKind.EMAIL})


@dataclass
class Loopback:
    sb: Sandbox
    base_url: str

    def args(self, highlevel: bool) -> tuple[list[str], dict[str, str], str]:
        c = self.sb.credentials
        if highlevel:
            options = ["--platform", "highlevel", "--location", c.highlevel_location]
            return options, {TOKEN_VAR: c.highlevel_token}, "vip"
        options = ["--platform", "kit-v4", "--auth", "oauth"]
        return options, {TOKEN_VAR: c.kit_oauth_token}, "Newsletter"

    def run(self, argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(argv, stdout=out, stderr=err, environ=env)
        return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    sb = Sandbox(subscribers=300, contacts=50)
    with serve(sb) as base_url:
        yield Loopback(sb, base_url)


def is_highlevel_file(name: str) -> bool:
    """The corpus's HighLevel exports hold contact ids, which only a HighLevel account takes."""
    return name.startswith("highlevel")


def expected(path: Path, accepted: frozenset[IdentifierKind]) -> Audience | AudienceFileError:
    try:
        return read_audience(path, accepted=accepted)
    except AudienceFileError as exc:
        return exc


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        for sign in TRACEBACK_SIGNS:
            assert sign not in text, f"{sign!r} in the CLI's output:\n{text}"


@pytest.mark.parametrize("name", FILES)
def test_corpus_file_through_the_cli(loopback: Loopback, name: str, tmp_path: Path) -> None:
    highlevel = is_highlevel_file(name)
    options, env, tag = loopback.args(highlevel)
    common = ["apply", *options, "--base-url", loopback.base_url, "--token-env", TOKEN_VAR]
    common += ["--action", "tag", "--target", tag]
    path = CORPUS / name
    read = expected(path, (HIGHLEVEL if highlevel else KIT) | {IdentifierKind.EMAIL})

    code, out, err = loopback.run([*common, "--dry-run", str(path)], env)
    assert_no_traceback(out, err)
    secrets = set(env.values())
    assert not any(s in out + err for s in secrets)
    if isinstance(read, AudienceFileError):
        assert code == cli_common.EXIT_USAGE, (code, out, err)
        assert out == ""
        assert err == f"{cli_common.PROG}: error: {read}\n"
        reliability.record("cli-corpus", name, [name, str(code), str(read)])
        return
    assert code == cli_common.EXIT_OK, (code, out, err)
    dups = len(read.duplicates)
    plural = "" if dups == 1 else "s"
    counts = f"Rows: {len(read.rows)} to send, {len(read.invalid)} invalid, {dups} duplicate{plural}."
    assert counts in out.splitlines(), out
    for note in read.notes:
        assert f"note: {note}" in err

    # The real run: every row reported, exit 1 when any row failed (ids the sandbox does not know).
    report = tmp_path / "report.csv"
    code, out, err = loopback.run([*common, "--report", str(report), str(path)], env)
    assert_no_traceback(out, err)
    assert not any(s in out + err for s in secrets)
    with report.open(encoding="utf-8-sig", newline="") as f:
        records = list(csv.DictReader(f))
    assert len(records) == len(read.rows) + len(read.invalid) + len(read.duplicates)
    assert code in (cli_common.EXIT_OK, cli_common.EXIT_ROWS_FAILED), (code, out, err)
    assert (code == cli_common.EXIT_ROWS_FAILED) == any(r["outcome"] == "failed" for r in records)
    reliability.record("cli-corpus", name, [name, f"0 (dry run), {code} (run)", counts])
