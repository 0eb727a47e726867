"""The platform audience's set algebra against Python's own sets, and its words."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audience_manager.core.audience_query import (
    AudienceQuery,
    Person,
    QueryError,
    Source,
    SourceKind,
    audience_keys,
    combine,
)

TAGS = [Source(SourceKind.TAG, n) for n in ("A", "B", "C", "D")]
FILE = Source(SourceKind.FILE, "list.csv")
ids = st.integers(min_value=1, max_value=30)


def person(i: int) -> Person:
    return Person(str(i), f"p{i}@example.com")


@settings(max_examples=300, deadline=None)
@given(
    members=st.lists(st.frozensets(ids), min_size=4, max_size=4),
    file_ids=st.frozensets(ids),
    n_sources=st.integers(1, 2),
    n_except=st.integers(0, 1),
    use_only=st.sampled_from(["none", "tag", "file"]),
    data=st.data(),
)
def test_combine_matches_python_sets(members, file_ids, n_sources, n_except, use_only, data) -> None:
    sources = tuple(TAGS[:n_sources])
    excluded = tuple(TAGS[2 : 2 + n_except])
    only = {"none": (), "tag": (TAGS[3],), "file": (FILE,)}[use_only]
    # a file names people by email (any case), the platform lists them with id and email
    by_email = data.draw(st.booleans())
    file_people = [
        Person(None, f"P{i}@Example.com ") if by_email else Person(str(i), None) for i in sorted(file_ids)
    ]
    lists = {t: [person(i) for i in sorted(m)] for t, m in zip(TAGS, members, strict=True)}
    lists[FILE] = file_people
    query = AudienceQuery(sources, excluded, only)

    expected = set().union(*(members[i] for i in range(n_sources)))
    listed = len(expected)
    for i in range(2, 2 + n_except):
        expected -= members[i]
    after_except = len(expected)
    if use_only == "tag":
        expected &= members[3]
    elif use_only == "file":
        expected &= file_ids

    combined = combine(query, lists)
    assert audience_keys(query, lists) == {str(i) for i in expected}
    assert len(combined.people) == len(expected)
    assert combined.listed == listed
    assert combined.excluded == listed - after_except
    assert combined.not_in_only == after_except - len(expected)
    assert all(p.id is not None and p.email for p in combined.people)  # resolved: no lookups after


@given(st.lists(st.frozensets(st.text("ab@.x", min_size=1, max_size=6)), min_size=2, max_size=2))
def test_a_file_source_unions_by_email(emails) -> None:
    a, b = Source(SourceKind.FILE, "a.csv"), Source(SourceKind.FILE, "b.csv")
    lists = {a: [Person(None, e) for e in emails[0]], b: [Person(None, e.upper()) for e in emails[1]]}
    got = audience_keys(AudienceQuery((a, b)), lists)
    assert got == {e.strip().lower() for e in emails[0] | emails[1]}


def test_words_before_the_run() -> None:
    lead, customer = Source.parse("tag:Lead"), Source.parse("tag:Customer")
    lists = {
        lead: [person(i) for i in range(1, 1241)],
        customer: [person(i) for i in range(1, 313)] + [person(i) for i in range(5000, 5100)],
    }
    combined = combine(AudienceQuery((lead,), (customer,)), lists)
    assert combined.describe() == "1,240 on Lead, 312 of them also on Customer: 928 people"


def test_parse_sources() -> None:
    assert Source.parse("tag:Lead") == Source(SourceKind.TAG, "Lead")
    assert Source.parse("FORM: Newsletter") == Source(SourceKind.FORM, "Newsletter")
    assert Source.parse("people.csv") == Source(SourceKind.FILE, "people.csv")
    with pytest.raises(QueryError):
        Source.parse("tag:")
    with pytest.raises(QueryError):
        AudienceQuery(())
