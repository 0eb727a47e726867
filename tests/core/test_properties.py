"""Properties that hold for any input: parsing never raises, every token ends in exactly one place,
nothing is sent twice, and the file reader fails only with a message for the user."""

from __future__ import annotations

import io
import random
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audience_manager.core.audience import Audience
from audience_manager.core.audience_file import AudienceFileError, inspect_file, read_audience
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.paste import parse_text

KINDS = st.frozensets(st.sampled_from(list(IdentifierKind)))
# Tokens: no separators (`,` `;` whitespace) and nothing `splitlines` breaks on.
# Without `<`: `Name <address>` is read as one address (see core.paste), not as two tokens.
TOKEN_CHARS = st.characters(blacklist_categories=("Z", "C"), blacklist_characters=",;<")
TOKENS = st.one_of(
    st.text(TOKEN_CHARS, min_size=1, max_size=30),
    st.from_regex(r"\A[1-9][0-9]{0,12}\Z"),
    st.from_regex(r"\A[A-Za-z0-9]{20}\Z"),
    st.emails().map(lambda email: email.upper() if len(email) % 2 else email),
    st.sampled_from(["1.23E+05", "'123", "12345.0", "0", "007", '="42"', "Email", "a@b", "@x.co"]),
)
SEPARATORS = st.sampled_from(["\n", "\r\n", "\r", "\t", " ", ", ", ";", " ; ", "\n\n"])
# Without tabs: a paste whose lines all hold the same number of tab-separated cells may be read as
# a table (one column of identifiers, the other columns ignored), where tokens are not all rows.
TOKEN_SEPARATORS = st.sampled_from(["\n", "\r\n", "\r", " ", ", ", ";", " ; ", "\n\n", " \t"])


def _all_rows(audience: Audience) -> list[int]:
    return [r.row for r in audience.rows] + [p.row for p in audience.invalid + audience.duplicates]


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), accepted=KINDS)
def test_parse_text_never_raises_and_numbers_rows_uniquely(
    text: str, accepted: frozenset[IdentifierKind]
) -> None:
    audience = parse_text(text, accepted)
    rows = _all_rows(audience)
    assert len(rows) == len(set(rows))
    assert all(row >= 1 for row in rows)
    assert all(r.kind in accepted for r in audience.rows)


@settings(max_examples=150, deadline=None)
@given(
    tokens=st.lists(TOKENS, max_size=40), separators=st.lists(TOKEN_SEPARATORS, min_size=1), accepted=KINDS
)
def test_every_token_ends_in_exactly_one_place(
    tokens: list[str], separators: list[str], accepted: frozenset[IdentifierKind]
) -> None:
    text = "".join(token + separators[index % len(separators)] for index, token in enumerate(tokens))
    audience = parse_text(text, accepted)
    assert audience.total == len(tokens)
    rows = _all_rows(audience)
    assert len(set(rows)) == len(tokens)


@settings(max_examples=100, deadline=None)
@given(tokens=st.lists(TOKENS, max_size=40), separator=SEPARATORS)
def test_duplicates_are_sent_once_and_point_at_a_sent_row(tokens: list[str], separator: str) -> None:
    audience = parse_text(separator.join(tokens))
    identifiers = [r.identifier for r in audience.rows]
    assert len(identifiers) == len(set(identifiers))
    sent_rows = {r.row: r for r in audience.rows}
    for duplicate in audience.duplicates:
        first = int(duplicate.reason.removeprefix("Duplicate of row ").split(";")[0])
        assert first in sent_rows and first < duplicate.row


@settings(max_examples=100, deadline=None)
@given(tokens=st.lists(TOKENS, max_size=40), accepted=KINDS)
def test_what_is_sent_parses_again_to_itself(tokens: list[str], accepted: frozenset[IdentifierKind]) -> None:
    first = parse_text("\n".join(tokens), accepted)
    again = parse_text("\n".join(r.identifier for r in first.rows), accepted)
    assert [r.identifier for r in again.rows] == [r.identifier for r in first.rows]
    assert again.invalid == [] and again.duplicates == []


def _read_bytes(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"dropped{suffix}"
        path.write_bytes(data)
        try:
            inspect_file(path)
            read_audience(path)
        except AudienceFileError as error:
            assert str(error)  # a message, never an empty one


PREFIXES = st.sampled_from(
    [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"PK\x03\x04", b"\x89PNG", b"sep=;\n", b"email\n", b'"']
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=PREFIXES, data=st.binary(max_size=3000), suffix=st.sampled_from([".csv", ".xlsx", ".txt"]))
def test_random_bytes_only_ever_give_a_file_error(prefix: bytes, data: bytes, suffix: str) -> None:
    _read_bytes(prefix + data, suffix)


TEXTISH = st.text(st.sampled_from(list("ab1@.,;\t|\"'\r\n =+-E\u00e9\u00a0")) | st.characters(), max_size=400)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=TEXTISH,
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "latin-1"]),
)
def test_random_text_in_any_encoding_only_ever_gives_a_file_error(text: str, encoding: str) -> None:
    _read_bytes(text.encode(encoding, errors="replace"), ".csv")


def _workbook_bytes() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["email", "id"])
    for n in range(30):
        book.active.append([f"p{n}@example.com", n + 1])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


WORKBOOK = _workbook_bytes()


@pytest.mark.filterwarnings("ignore::UserWarning")  # openpyxl warns about what it repairs
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 40), cut=st.integers(100, len(WORKBOOK)))
def test_damaged_workbooks_only_ever_give_a_file_error(seed: int, flips: int, cut: int) -> None:
    generator = random.Random(seed)
    data = bytearray(WORKBOOK[:cut])
    for _ in range(flips):
        data[generator.randrange(len(data))] = generator.randrange(256)
    _read_bytes(bytes(data), ".xlsx")


def _rezip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


with zipfile.ZipFile(io.BytesIO(WORKBOOK)) as _archive:
    WORKBOOK_PARTS = {name: _archive.read(name) for name in _archive.namelist()}


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    part=st.sampled_from(sorted(WORKBOOK_PARTS)),
    seed=st.integers(0, 2**32 - 1),
    edits=st.integers(1, 8),
)
def test_workbooks_with_damaged_xml_only_ever_give_a_file_error(part: str, seed: int, edits: int) -> None:
    """A well-formed ZIP whose XML is damaged reaches openpyxl's parser, not just the ZIP check."""
    generator = random.Random(seed)
    content = bytearray(WORKBOOK_PARTS[part])
    for _ in range(edits):
        at = generator.randrange(len(content))
        if generator.random() < 0.5:
            del content[at : at + generator.randrange(1, 20)]
        else:
            content[at:at] = generator.choice(
                [b"<", b">", b'"', b"&", b"\x00", b'<c r="A1" t="s"><v>99</v></c>']
            )
    _read_bytes(_rezip({**WORKBOOK_PARTS, part: bytes(content)}), ".xlsx")
