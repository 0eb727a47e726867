"""An audience defined on the platform itself: "everyone on tag A or form F, except those on tag B,
only those also in this file".

A `Source` is a tag, a form or a file. An `AudienceQuery` is the union of its `sources`, minus
everyone in any of `excluded`, kept only if also in every one of `only_in`. Reading who is in each
source is the jobs layer's (`jobs.platform_audience`); the set algebra here is pure, so it is
tested against Python's own sets.

People are compared by the platform's id when one is known, else by their lower-cased email: a file
row "Ann@x.com" is the member (id 7, "ann@x.com") when a platform source listed that email.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from audience_manager.core.identifiers import normalise_email


class SourceKind(enum.StrEnum):
    TAG = "tag"
    FORM = "form"
    FILE = "file"


class QueryError(ValueError):
    """A source written in a way we cannot read ("tag:" with no name)."""


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    name: str  # the tag's or form's name (or id), or the file's path

    @classmethod
    def parse(cls, text: str) -> Source:
        """`tag:NAME`, `form:NAME`, else a file path."""
        head, sep, rest = text.partition(":")
        if sep and head.strip().lower() in (SourceKind.TAG, SourceKind.FORM):
            name = rest.strip()
            if not name:
                raise QueryError(f"{text!r}: {head.strip().lower()}: needs a name")
            return cls(SourceKind(head.strip().lower()), name)
        if not text.strip():
            raise QueryError("an empty source")
        return cls(SourceKind.FILE, text)

    def describe(self) -> str:
        if self.kind is SourceKind.FILE:
            return self.name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or self.name
        return self.name if self.kind is SourceKind.TAG else f"form {self.name}"


@dataclass(frozen=True, order=True)
class Person:
    """Someone a source lists: the platform's id and/or email (a file may give only one)."""

    id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class AudienceQuery:
    sources: tuple[Source, ...]
    excluded: tuple[Source, ...] = ()
    only_in: tuple[Source, ...] = ()

    def __post_init__(self) -> None:
        if not self.sources:
            raise QueryError("an audience needs at least one source")

    @property
    def all_sources(self) -> tuple[Source, ...]:
        return tuple(dict.fromkeys((*self.sources, *self.excluded, *self.only_in)))

    def describe(self) -> str:
        """ "Webinar, except Customer" (the definition, without counts)."""
        text = " or ".join(s.describe() for s in self.sources)
        if self.excluded:
            text += ", except " + " or ".join(s.describe() for s in self.excluded)
        if self.only_in:
            text += ", only if also in " + " and ".join(s.describe() for s in self.only_in)
        return text


@dataclass(frozen=True)
class Combined:
    """The people a query selects, in first-listed order, and how the count came about."""

    people: list[Person]
    listed: int  # distinct people in the union of the sources
    excluded: int  # of those, taken out because they are in an excluded source
    not_in_only: int  # of the rest, taken out because they are not in every only-in source
    query: AudienceQuery = field(repr=False)

    def describe(self) -> str:
        """ "1,240 on Lead, 312 of them also on Customer: 928 people"."""
        q = self.query
        text = f"{self.listed:,} on {' or '.join(s.describe() for s in q.sources)}"
        if q.excluded:
            text += f", {self.excluded:,} of them also on {' or '.join(s.describe() for s in q.excluded)}"
        if q.only_in:
            text += f", {self.not_in_only:,} not also in {' and '.join(s.describe() for s in q.only_in)}"
        n = len(self.people)
        return f"{text}: {n:,} {'person' if n == 1 else 'people'}"


def combine(query: AudienceQuery, members: Mapping[Source, Iterable[Person]]) -> Combined:
    """Apply the query's set operations to what each source lists (every source must be given)."""
    lists: dict[Source, list[Person]] = {s: list(members[s]) for s in query.all_sources}
    ids_of_email: dict[str, str] = {}
    for people in lists.values():
        for p in people:
            if p.id is not None and p.email:
                ids_of_email.setdefault(normalise_email(p.email), p.id)

    def key(p: Person) -> str:
        if p.id is not None:
            return "id:" + p.id
        email = normalise_email(p.email or "")
        known = ids_of_email.get(email)
        return "id:" + known if known is not None else "email:" + email

    def keys(sources: Sequence[Source]) -> set[str]:
        return {key(p) for s in sources for p in lists[s]}

    chosen: dict[str, Person] = {}
    for source in query.sources:
        for p in lists[source]:
            k = key(p)
            if k not in chosen or not chosen[k].email:
                email = p.email or (chosen[k].email if k in chosen else None)
                chosen[k] = Person(k[3:] if k.startswith("id:") else None, email)
    listed = len(chosen)
    out = keys(query.excluded)
    kept = {k: p for k, p in chosen.items() if k not in out}
    excluded = listed - len(kept)
    for only in query.only_in:
        inside = keys([only])
        kept = {k: p for k, p in kept.items() if k in inside}
    not_in_only = listed - excluded - len(kept)
    return Combined(list(kept.values()), listed, excluded, not_in_only, query)


def audience_keys(query: AudienceQuery, members: Mapping[Source, Iterable[Person]]) -> set[str]:
    """The selected people's identities (id, else email), for tests and comparisons."""
    return {
        p.id if p.id is not None else normalise_email(p.email or "") for p in combine(query, members).people
    }
