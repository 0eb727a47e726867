"""An audience read from the platform itself (`core.audience_query`): the members of tags and forms,
and files, combined; the one function the window and the CLI both call.

Each tag's or form's members come with their ids (`Platform.members`), so the job that follows
sends no lookups for them. Reading reports progress per page and stops at `stop` (an Event the
caller sets on Cancel), raising `AudienceReadCancelled`; nothing is written either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from audience_manager.api.platform import Platform
from audience_manager.core.actions import Target, TargetKind
from audience_manager.core.audience import Audience, AudienceRow
from audience_manager.core.audience_query import AudienceQuery, Combined, Person, Source, SourceKind, combine
from audience_manager.core.identifiers import IdentifierKind


class AudienceReadCancelled(Exception):
    """The user stopped the reading; no audience was made."""


class UnknownSourceError(LookupError):
    """Tags or forms of the query the account does not have (`unknown`), with the names it has."""

    def __init__(self, unknown: Sequence[Source], available: Mapping[TargetKind, Sequence[Target]]) -> None:
        self.unknown = list(unknown)
        self.available = dict(available)
        super().__init__("no " + ", ".join(f"{s.kind.value} named {s.name!r}" for s in unknown))


@dataclass(frozen=True)
class ReadProgress:
    """How far the reading got: `source` being read, `read` of its members so far (`total` when
    the platform says), `done` sources finished of `sources`."""

    source: Source
    read: int
    total: int | None
    done: int
    sources: int

    def describe(self) -> str:
        of = f" of {self.total:,}" if self.total is not None else ""
        return (
            f"reading {self.source.describe()}: {self.read:,}{of} ({self.done + 1} of {self.sources} lists)"
        )


@dataclass(frozen=True)
class PlatformAudience:
    audience: Audience
    combined: Combined

    def describe(self) -> str:
        return self.combined.describe()


ReadFile = Callable[[str], Audience]
OnProgress = Callable[[ReadProgress], None]

_KINDS = {SourceKind.TAG: TargetKind.TAG, SourceKind.FORM: TargetKind.FORM}


async def find_targets(platform: Platform, query: AudienceQuery) -> dict[Source, Target]:
    """Each tag and form source as the account's target (by id, else by name, case-insensitive)."""
    wanted = [s for s in query.all_sources if s.kind is not SourceKind.FILE]
    available: dict[TargetKind, list[Target]] = {}
    for kind in dict.fromkeys(_KINDS[s.kind] for s in wanted):
        available[kind] = await platform.list_targets(kind)
    found: dict[Source, Target] = {}
    unknown: list[Source] = []
    for source in wanted:
        targets = available[_KINDS[source.kind]]
        text = source.name.strip()
        target = next((t for t in targets if t.id == text), None) or next(
            (t for t in targets if t.name.casefold() == text.casefold()), None
        )
        if target is None:
            unknown.append(source)
        else:
            found[source] = target
    if unknown:
        raise UnknownSourceError(unknown, available)
    return found


async def read_platform_audience(
    platform: Platform,
    query: AudienceQuery,
    *,
    status: str = "active",
    read_file: ReadFile | None = None,
    progress: OnProgress | None = None,
    stop: asyncio.Event | None = None,
    targets: Mapping[Source, Target] | None = None,
) -> PlatformAudience:
    """Read every source of `query` and combine them into the job's audience (ids where known)."""
    if targets is None:
        targets = await find_targets(platform, query)
    sources = query.all_sources
    lists: dict[Source, list[Person]] = {}
    for done, source in enumerate(sources):
        if stop is not None and stop.is_set():
            raise AudienceReadCancelled
        if source.kind is SourceKind.FILE:
            if read_file is None:
                raise ValueError("a file source needs read_file")
            lists[source] = _people_of_file(read_file(source.name))
            continue
        people: list[Person] = []
        async for page in platform.members(targets[source], status):
            people += [Person(sid, email or None) for sid, email in page.people]
            if progress is not None:
                progress(ReadProgress(source, len(people), page.total, done, len(sources)))
            if stop is not None and stop.is_set():
                raise AudienceReadCancelled
        lists[source] = people
    combined = combine(query, lists)
    id_kind = next(
        (
            k
            for k in (IdentifierKind.SUBSCRIBER_ID, IdentifierKind.CONTACT_ID)
            if k in platform.capabilities.identifiers
        ),
        IdentifierKind.SUBSCRIBER_ID,
    )
    rows = [
        AudienceRow(n, p.id, id_kind)
        if p.id is not None
        else AudienceRow(n, p.email or "", IdentifierKind.EMAIL)
        for n, p in enumerate(combined.people, 1)
    ]
    audience = Audience(rows=rows, source=query.describe())
    return PlatformAudience(audience, combined)


def _people_of_file(audience: Audience) -> list[Person]:
    return [
        Person(None, r.identifier) if r.kind is IdentifierKind.EMAIL else Person(r.identifier, None)
        for r in audience.rows
    ]
