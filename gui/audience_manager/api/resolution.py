"""Turning a list of emails into the platform's ids at the lowest cost in requests.

Every platform can look one email up per request. Most can also do better for a long list: read the
whole account page by page and match locally (Kit v4 and v3 list their subscribers, HighLevel pages
its contacts), or ask about many emails in one request (HighLevel's search with an `OR` group).
Which is cheaper depends on the list and on the account's size, so each client prices its ways with
`ResolutionPlan`s and `cheapest` picks one; the cost comparison and the local matching live here,
once, and the clients only say what their requests cost and how to read a page.

A plan is what the user sees before the job ("resolving 3,050 emails: 20 requests") and what the
client follows when it resolves; `ResolveProgress` reports the reading as it goes, with the answers
found so far (so a caller can keep them even if the job is stopped half way).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from audience_manager.core.identifiers import normalise_email


class ResolutionMethod(enum.StrEnum):
    NONE = "none"  # nothing left to look up
    LOOKUP = "lookup"  # one request per email
    LISTING = "listing"  # read every subscriber/contact of the account, match locally
    SEARCH = "search"  # many emails in one search request (HighLevel)


@dataclass(frozen=True)
class ResolutionPlan:
    """How a client will resolve `emails` emails, and what it costs.

    `requests` is the estimate shown to the user (exact for lookups and searches, exact for a
    listing of an account whose size the platform told us). `population` is the account's size when
    known, `unit` what the progress counts ("subscribers" read, "emails" looked up), `total` how many
    of them there are to go through.
    """

    method: ResolutionMethod
    emails: int
    requests: int
    unit: str = "emails"
    total: int = 0
    population: int | None = None
    probe_requests: int = 0  # already spent finding the account's size (included in `requests`)
    per_request: int = 1  # emails per search request, records per listed page
    fresh: bool = False  # ask the platform again, even about emails a client answered before

    def describe(self) -> str:
        """ "resolving 3,050 emails: 20 requests (reading the account's 20,000 subscribers)"."""
        if self.method is ResolutionMethod.NONE or self.emails == 0:
            return f"resolving {_n(self.emails, 'email')}: no requests (all known already)"
        head = f"resolving {_n(self.emails, 'email')}: {_n(self.requests, 'request')}"
        if self.method is ResolutionMethod.LISTING:
            size = f"{self.population:,} " if self.population is not None else ""
            return f"{head} (reading the account's {size}{self.unit} and matching here)"
        if self.method is ResolutionMethod.SEARCH:
            return f"{head} (searching {self.per_request:,} emails a request)"
        return f"{head} (one lookup per email)"


def nothing_to_resolve() -> ResolutionPlan:
    return ResolutionPlan(ResolutionMethod.NONE, 0, 0)


def lookups(emails: int, *, probe_requests: int = 0, fresh: bool = False) -> ResolutionPlan:
    return ResolutionPlan(
        ResolutionMethod.LOOKUP,
        emails,
        emails + probe_requests,
        total=emails,
        probe_requests=probe_requests,
        fresh=fresh,
    )


def listing(
    emails: int, population: int, page_size: int, unit: str, *, probe_requests: int = 0, extra: int = 0
) -> ResolutionPlan:
    """Read `population` records `page_size` a page (at least one page), plus `extra` requests."""
    pages = max(1, math.ceil(population / max(1, page_size)))
    return ResolutionPlan(
        ResolutionMethod.LISTING,
        emails,
        pages + extra + probe_requests,
        unit=unit,
        total=population,
        population=population,
        probe_requests=probe_requests,
        per_request=page_size,
    )


def searches(emails: int, per_request: int, *, probe_requests: int = 0) -> ResolutionPlan:
    return ResolutionPlan(
        ResolutionMethod.SEARCH,
        emails,
        math.ceil(emails / max(1, per_request)) + probe_requests,
        total=emails,
        probe_requests=probe_requests,
        per_request=per_request,
    )


def cheapest(plans: Iterable[ResolutionPlan]) -> ResolutionPlan:
    """The plan with the fewest requests; on a tie the earlier one (list the simplest first)."""
    best: ResolutionPlan | None = None
    for plan in plans:
        if best is None or plan.requests < best.requests:
            best = plan
    if best is None:
        raise ValueError("no way to resolve emails was offered")
    return best


def unique_emails(emails: Iterable[str]) -> list[str]:
    """The distinct normalised emails, in first-seen order."""
    return list(dict.fromkeys(normalise_email(e) for e in emails))


def answered_before(emails: Iterable[str], memo: Mapping[str, str | None]) -> dict[str, str | None]:
    """The emails a client already has an answer for (its memo is keyed by normalised email),
    keyed by the caller's own strings: they cost no request."""
    return {e: memo[key] for e in emails if (key := normalise_email(e)) in memo}


# (records read so far, records to read or None, answers learnt since the last call, keyed by the
# caller's email strings: id, or None for "does not exist")
ResolveProgress = Callable[[int, int | None, Mapping[str, str | None]], None]


def no_progress(read: int, total: int | None, answers: Mapping[str, str | None]) -> None:
    return None


class EmailMatcher:
    """The emails a caller asked about, matched against records as pages of them are read.

    Keys answers by the caller's own strings (an email may be asked as "Ann@X.com " and listed as
    "ann@x.com"); the first record with an email wins (a platform allowing duplicates answers with
    several, the earliest listed is the oldest).
    """

    def __init__(self, emails: Sequence[str]) -> None:
        self._asked: dict[str, list[str]] = {}
        for email in emails:
            self._asked.setdefault(normalise_email(email), []).append(email)
        self._found: dict[str, str] = {}  # normalised email -> id
        self._absent: set[str] = set()  # normalised emails known not to exist

    @property
    def wanted(self) -> int:
        return len(self._asked)

    @property
    def complete(self) -> bool:
        """Every asked email has been found (reading on would only find the unknown ones missing)."""
        return len(self._found) == len(self._asked)

    def missing(self) -> list[str]:
        """Normalised emails with no answer yet."""
        return [e for e in self._asked if e not in self._found and e not in self._absent]

    def take(self, pairs: Iterable[tuple[str, str]]) -> dict[str, str | None]:
        """(email, id) pairs from a page; returns the new answers keyed by the caller's strings."""
        new: dict[str, str | None] = {}
        for email, subject in pairs:
            key = normalise_email(email)
            if key in self._asked and key not in self._found:
                self._found[key] = subject
                for asked in self._asked[key]:
                    new[asked] = subject
        return new

    def give_up_on(self, normalised: Iterable[str]) -> dict[str, str | None]:
        """These emails are known not to exist: None answers keyed by the caller's strings."""
        out: dict[str, str | None] = {}
        for key in normalised:
            if key in self._asked and key not in self._found:
                self._absent.add(key)
                for asked in self._asked[key]:
                    out[asked] = None
        return out

    def answers(self, *, complete_listing: bool) -> dict[str, str | None]:
        """Every asked email: its id, None when a complete listing did not have it (or it was given
        up on). After an incomplete reading the other emails not found are left out (not answered)."""
        out: dict[str, str | None] = {}
        for key, asked in self._asked.items():
            if key in self._found or key in self._absent or complete_listing:
                for email in asked:
                    out[email] = self._found.get(key)
        return out


def _n(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
