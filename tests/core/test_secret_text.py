"""Secrets are checked when read: surrounding whitespace removed, anything else unsendable refused,
and no message ever holds the secret or a piece of it."""

from __future__ import annotations

import io

import pytest

from audience_manager import cli
from audience_manager.api.redaction import MASK, redact
from audience_manager.core.accounts import Credentials
from audience_manager.core.secret_text import InvalidSecretError, clean_secret, surrounding_note

TOKEN = "kit_live_0123456789abcdefABCDEF"


def test_surrounding_whitespace_is_removed_with_a_note() -> None:
    assert Credentials(f"  {TOKEN}\n").token == TOKEN
    assert surrounding_note(f"{TOKEN}\n") == "Spaces or line breaks around the token were removed."
    assert surrounding_note(TOKEN) is None


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (TOKEN[:10] + "\n" + TOKEN[10:], "a line break"),
        (TOKEN[:10] + "\t" + TOKEN[10:], "a tab"),
        (TOKEN[:10] + "\x00" + TOKEN[10:], "a control character"),
        (TOKEN[:10] + "\u00a0" + TOKEN[10:], "not plain ASCII"),
        (TOKEN[:10] + "é" + TOKEN[10:], "not plain ASCII"),
    ],
)
def test_a_secret_that_cannot_be_sent_is_refused_without_quoting_it(bad: str, words: str) -> None:
    with pytest.raises(InvalidSecretError) as caught:
        Credentials(bad)
    message = str(caught.value)
    assert words in message and "character 11" in message
    assert TOKEN[:10] not in message and TOKEN[10:] not in message
    with pytest.raises(InvalidSecretError):
        Credentials("ok-token-1234", secret=bad)
    assert clean_secret(" fine ") == "fine"


def test_a_token_with_a_line_break_in_the_environment_never_reaches_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    env = {"KIT_TOKEN": TOKEN[:12] + "\n" + TOKEN[12:]}
    code = cli.main(
        ["list", "tags", "--platform", "kit-v4", "--auth", "oauth", "--token-env", "KIT_TOKEN",
         "--base-url", "http://127.0.0.1:9"],
        stdout=out, stderr=err, environ=env,
    )  # fmt: skip
    assert code == 2
    text = out.getvalue() + err.getvalue()
    assert "line break" in text
    assert TOKEN[:12] not in text and TOKEN[12:] not in text and "Illegal header" not in text


def test_redaction_masks_pieces_of_a_secret_and_any_value_httpx_quotes() -> None:
    secret = TOKEN[:12] + "\n" + TOKEN[12:]
    said = f"Illegal header value b'Bearer {TOKEN[:12]}\\n{TOKEN[12:]}'"
    masked = redact(said, [secret])
    assert TOKEN[:12] not in masked and TOKEN[12:] not in masked and MASK in masked
    assert TOKEN[12:] not in redact(f"Bearer [redacted]\n{TOKEN[12:]}", [secret])
    assert "abcdefgh" not in redact("Illegal header value b'abcdefgh'")
