"""Who has a tag (or is on a form), read once from the platform and then kept current by our own writes.

Platforms answer a tag or untag write alike whether or not the subscriber had the tag (Kit's bulk
untag lists failures only), so the client cannot tell "changed" from "already so" by the answer.
Reading the tag's members before the first write of a job, and updating that set with every write
we make, gives each row an exact `previous` ("yes"/"no"), and so an undo that reverts exactly what
the job changed. A tag too long to read within the caller's cap is remembered as such for a while,
so a job does not pay for the attempt again on every batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

MEMBERSHIP_TTL = 600.0  # seconds a listed membership is trusted (our own writes keep it current)

Lister = Callable[[str], Awaitable["set[str] | None"]]  # target id -> member ids, None: too long/unknown


@dataclass
class _Listed:
    listed_at: float
    ids: set[str] = field(default_factory=set)


class Memberships:
    """Member ids per target, listed on demand by `lister`, at most once at a time per target."""

    def __init__(
        self, lister: Lister, *, clock: Callable[[], float] = time.monotonic, ttl: float = MEMBERSHIP_TTL
    ) -> None:
        self._lister = lister
        self._clock = clock
        self._ttl = ttl
        self._listed: dict[str, _Listed] = {}
        self._unknown_until: dict[str, float] = {}  # target id -> when to try listing it again
        self._locks: dict[str, asyncio.Lock] = {}

    def known(self, target_id: str) -> set[str] | None:
        """The fresh member set (kept current by `note`), or None when it is not known now."""
        listed = self._listed.get(target_id)
        if listed is None or self._clock() - listed.listed_at >= self._ttl:
            return None
        return listed.ids

    async def members(self, target_id: str) -> set[str] | None:
        """The members, listing them first if need be; None when the list is too long or unknown."""
        return await self._read(target_id, self._lister, give_up_for_a_while=True)

    async def read(self, target_id: str, lister: Lister) -> set[str] | None:
        """The members, listed with `lister` if need be even when `members` gave up on them lately.

        For a caller that will pay for a longer list than a write would (a Preview reads a tag of any
        length); what it reads is kept and used by the writes that follow, what it cannot read is not
        remembered as unknown.
        """
        return await self._read(target_id, lister, give_up_for_a_while=False)

    async def _read(self, target_id: str, lister: Lister, *, give_up_for_a_while: bool) -> set[str] | None:
        found = self.known(target_id)
        if found is not None or (give_up_for_a_while and self._given_up(target_id)):
            return found
        # One listing per target even with several batches in flight; they wait for it.
        async with self._locks.setdefault(target_id, asyncio.Lock()):
            found = self.known(target_id)
            if found is not None or (give_up_for_a_while and self._given_up(target_id)):
                return found
            started = self._clock()
            ids = await lister(target_id)
            if ids is None:
                if give_up_for_a_while:
                    self._unknown_until[target_id] = self._clock() + self._ttl
                return None
            self._listed[target_id] = _Listed(listed_at=started, ids=ids)
            return ids

    def _given_up(self, target_id: str) -> bool:
        """`members` found the list too long or unknown lately: not worth another try yet."""
        return self._clock() < self._unknown_until.get(target_id, float("-inf"))

    def forget(self, target_id: str) -> None:
        """Read `target_id` again before trusting it (a write of ours may have landed unseen)."""
        self._listed.pop(target_id, None)

    def note(self, target_id: str, subject: str, *, has: bool) -> None:
        """A write of ours changed (or confirmed) `subject`'s membership of `target_id`."""
        listed = self._listed.get(target_id)
        if listed is None:
            return
        if has:
            listed.ids.add(subject)
        else:
            listed.ids.discard(subject)
