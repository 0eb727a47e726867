"""Messages that said the wrong thing: each now says what the input is."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from audience_manager.api.errors import AuthenticationError
from audience_manager.core.audience_file import AudienceFileError, read_audience
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.paste import parse_text

IDS = frozenset({IdentifierKind.SUBSCRIBER_ID})


@pytest.mark.parametrize("digits", ["١٢٣٤٥", "１２３４５", "۱۲۳"])
def test_digits_of_another_script_say_so_not_too_many_digits(digits: str) -> None:
    audience = parse_text(f"101\n{digits}\n", IDS)
    (problem,) = audience.invalid
    assert "not 0-9" in problem.reason and "19 digits" not in problem.reason


def test_a_2_mb_line_of_digits_says_it_is_a_very_long_cell(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("id,name\n1,a\n" + "7" * 2_000_000 + ",b\n")
    with pytest.raises(AudienceFileError) as caught:
        read_audience(path)
    message = str(caught.value)
    assert "very long line" in message and "probably never closed" not in message


def test_a_refused_credential_does_not_end_with_two_full_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    from audience_manager import cli
    from audience_manager.cli import demo

    err = io.StringIO()
    exc = AuthenticationError(401, ["The credential was refused; check it in the account settings."])

    def boom(*args: object, **kwargs: object) -> int:
        raise exc

    monkeypatch.setattr(demo, "serve", boom)  # the command's handler, looked up as the parser is built
    code = cli.main(["sandbox"], stderr=err, stdout=io.StringIO(), environ={})
    assert code == 2
    assert ".." not in err.getvalue() and "Check --token-env" in err.getvalue()
