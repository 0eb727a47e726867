"""Helpers for the journal, resume, retry, undo and preview tests: a crash simulator and an account."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audience_manager.api.platform import StateKey, state_key
from audience_manager.core.accounts import Account
from audience_manager.core.actions import Action
from audience_manager.core.outcomes import RowOutcome
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.core.work import ItemResult, WorkItem
from audience_manager.jobs.events import JobState
from audience_manager.jobs.journal import Journal

from .runner_fakes import MemoryPlatform, caps

ACCOUNT = Account(
    name="memory", platform=PlatformKind.KIT_V4, auth=AuthKind.OAUTH, base_url="http://127.0.0.1:1"
)


@dataclass
class CountingPlatform(MemoryPlatform):
    """Counts how many times each (subject, target) pair reached the platform, and can die."""

    applied: Counter[tuple[str, str]] = field(default_factory=Counter)
    die_at_call: int | None = None
    dead: bool = False
    can_read: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.can_read:
            from dataclasses import replace

            self.caps = replace(self.caps, can_read_membership=True)

    async def apply(
        self, action: Action, items: Sequence[WorkItem], value: str | None = None
    ) -> list[ItemResult]:
        if self.die_at_call is not None and len(self.apply_calls) >= self.die_at_call:
            self.dead = True
        if self.dead:
            # The process is gone: this request never leaves. Hang like a dead process would.
            await asyncio.Event().wait()
        self.applied.update((i.subject, i.target.id) for i in items)
        return await super().apply(action, items, value)

    async def read_state(self, action: Action, items: Sequence[WorkItem]) -> dict[StateKey, str | None]:
        if not self.can_read:
            return {}
        out: dict[StateKey, str | None] = {}
        for item in items:
            if not self._exists(item.subject):
                continue
            key = state_key(item)
            if action is Action.SET_FIELD:
                out[key] = self.values.get((item.subject, item.target.id))
            elif action is Action.ADD_TO_FORM:
                out[key] = "yes" if item.subject in self.forms.get(item.target.id, set()) else "no"
            else:
                out[key] = "yes" if item.subject in self.tags.get(item.target.id, set()) else "no"
        return out


@dataclass
class DyingRecorder:
    """Forwards to the journal until the platform dies, then drops everything, as a killed process does."""

    journal: Journal
    platform: CountingPlatform

    def job_started(self, job_id: str) -> None:
        self.journal.job_started(job_id)

    def batch_sent(
        self,
        job_id: str,
        items: Sequence[WorkItem],
        before: Mapping[tuple[int, str], str | None] | None = None,
    ) -> None:
        if not self.platform.dead:
            self.journal.batch_sent(job_id, items, before)

    def results_received(self, job_id: str, results: Sequence[ItemResult]) -> None:
        if not self.platform.dead:
            self.journal.results_received(job_id, results)

    def outcomes_without_request(self, job_id: str, outcomes: Sequence[RowOutcome]) -> None:
        if not self.platform.dead:
            self.journal.outcomes_without_request(job_id, outcomes)

    def job_ended(self, job_id: str, state: JobState, reason: str) -> None:
        if not self.platform.dead:
            self.journal.job_ended(job_id, state, reason)


__all__ = ["ACCOUNT", "CliRig", "CountingPlatform", "DyingRecorder", "caps"]


# -- the CLI against the sandbox on loopback ------------------------------------------------------


@dataclass
class CliRig:
    """A sandbox on 127.0.0.1 and the CLI run in-process with its data directory in a temp folder."""

    sandbox: Any
    base_url: str
    capsys: Any

    def connection(self) -> list[str]:
        return [
            "--platform",
            "kit-v4",
            "--auth",
            "oauth",
            "--token-env",
            "AM_JOBS_TOKEN",
            "--base-url",
            self.base_url,
        ]

    def run(self, *argv: str) -> tuple[int, str, str]:
        from audience_manager import cli

        self.capsys.readouterr()
        code = cli.main(list(argv))
        out, err = self.capsys.readouterr()
        assert self.sandbox.credentials.kit_oauth_token not in out + err
        return code, out, err

    def apply(self, *argv: str) -> tuple[int, str, str]:
        return self.run("apply", *argv, *self.connection())

    def ids_file(self, folder: Path, ids: Sequence[object], extra: Sequence[str] = ()) -> str:
        path = folder / "audience.txt"
        path.write_text("\n".join([*map(str, ids), *extra]) + "\n")
        return str(path)
