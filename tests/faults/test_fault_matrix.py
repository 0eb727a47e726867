"""Fault matrix: every platform × every action it has × every fault the network and the platform throw.

Real loopback HTTP against the sandbox, the real client through `open_platform`, the real `Runner`.
Each case asserts what the user is promised: every row × target ends in exactly one outcome and none
is lost; the job ends finished (or failed, when the token is withdrawn) with a reason in plain words;
a row that exists fails only with the fault's own plain reason; no reason and no DEBUG log line holds
a token or a traceback. Each case records its row in tests/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from dataclasses import dataclass, field

import pytest

from audience_manager.api.clients import open_platform
from audience_manager.api.highlevel import RATE as HIGHLEVEL_RATE
from audience_manager.api.kit_v3 import RATE as KIT_V3_RATE
from audience_manager.api.kit_v4 import kit_v4_capabilities
from audience_manager.api.pacing import RateLimiter
from audience_manager.api.transport import RetryPolicy
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.actions import Action
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.job_spec import JobSpec
from audience_manager.core.outcomes import Outcome, RowOutcome
from audience_manager.core.paste import parse_text
from audience_manager.core.platforms import AuthKind, PlatformKind, RateLimit
from audience_manager.jobs.events import JobFinished, JobState
from audience_manager.jobs.runner import Runner
from audience_manager.sandbox import Faults, ManualClock, Sandbox
from tests import reliability

from .fault_rig import Served, VirtualSleep

# ------------------------------------------------------------------------------------------ the matrix


@dataclass(frozen=True)
class PlatformCase:
    name: str
    kind: PlatformKind
    auth: AuthKind
    rate: RateLimit
    actions: tuple[Action, ...]
    known: int  # existing subscribers / contacts in the audience
    unknown: int  # well-formed ids that belong to nobody


ALL_KIT = (Action.TAG, Action.UNTAG, Action.ADD_TO_FORM, Action.SET_FIELD)
PLATFORMS = (
    # Bulk platforms get over 200 rows: three requests of at most 100, so a fault can land mid-job.
    PlatformCase(
        "Kit v4 OAuth (bulk)", PlatformKind.KIT_V4, AuthKind.OAUTH,
        kit_v4_capabilities(AuthKind.OAUTH).rate, ALL_KIT, 145, 5,
    ),
    PlatformCase(
        "Kit v4 API key (per row)", PlatformKind.KIT_V4, AuthKind.API_KEY,
        kit_v4_capabilities(AuthKind.API_KEY).rate, ALL_KIT, 10, 2,
    ),
    PlatformCase(
        "Kit v3", PlatformKind.KIT_V3, AuthKind.LEGACY_KEY, KIT_V3_RATE,
        (Action.TAG, Action.UNTAG, Action.ADD_TO_FORM), 10, 2,
    ),
    PlatformCase(
        "HighLevel", PlatformKind.HIGHLEVEL, AuthKind.PRIVATE_TOKEN, HIGHLEVEL_RATE,
        (Action.TAG, Action.UNTAG), 146, 4,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Fault:
    name: str
    words: str  # what the fault is, for RELIABILITY.md
    faults: dict[str, object] = field(default_factory=dict)  # Faults attributes
    timeout: float = 5.0  # the client's; httpx measures it on the wall clock
    # A row that exists may fail only with a reason that matches this (the fault's own words).
    reason: str = "$^"
    token_withdrawn: bool = False


FAULTS = (
    Fault(
        "429-storm", "429 storm: 60 % of requests refused as too many",
        {"status_rates": {429: 0.6}}, reason="too many requests",
    ),
    Fault(
        "5xx-burst", "5xx burst: 35 % of requests answer 500, 502, 503 or 504",
        {"status_rates": {500: 0.15, 502: 0.1, 503: 0.05, 504: 0.05}}, reason="server error",
    ),
    Fault(
        "timeouts", "timeouts: 25 % of requests answer after the client's 0.1 s timeout",
        {"slow_rate": 0.25, "slow_latency": 0.15}, timeout=0.1, reason="did not answer in time",
    ),
    Fault(
        "dropped", "connections dropped: 25 % before or in the middle of the answer",
        {"drop_rate": 0.25}, reason="failed or dropped",
    ),
    Fault(
        "413", "413: 30 % of requests refused as too large / bulk queue full",
        {"status_rates": {413: 0.3}}, reason="too much at once",
    ),
    Fault(
        "401-mid-job", "401: the token expires or is withdrawn after the job's first request",
        token_withdrawn=True, reason="refused the token",
    ),
    Fault(
        "slow", "very slow: every answer 20 ms late, 20 % of them 150 ms",
        {"latency": 0.02, "slow_rate": 0.2, "slow_latency": 0.15}, timeout=2.0,
    ),
    Fault(
        "malformed", "malformed: 30 % of 200 answers carry JSON cut short",
        {"malformed_rate": 0.3}, reason="instead of data",
    ),
    Fault(
        "html-proxy", "HTML error page from a proxy on 30 % of requests",
        {"html_error_rate": 0.3}, reason="instead of data",
    ),
)  # fmt: skip

CASES = [
    pytest.param(p, a, f, id=f"{p.kind.value}-{p.auth.value}-{a.value}-{f.name}")
    for p in PLATFORMS
    for a in p.actions
    for f in FAULTS
]

# --------------------------------------------------------------------------------------------- checks

NOT_PLAIN = re.compile(
    r"Traceback|File \"|\bline \d+, in\b|<html|<!doctype|\{\s*\"|\bNone\b|\b[A-Z][a-z]+(?:[A-Z][a-z]+)*"
    r"(?:Error|Exception|Timeout)\b|\bhttpx\b|\basyncio\b",
    re.IGNORECASE,
)


def not_plain(reason: str) -> str | None:
    """Why `reason` is not plain words for a user, or None when it is."""
    if not reason.strip():
        return "empty"
    if "\n" in reason:
        return "several lines"
    if len(reason) > 400:
        return "longer than 400 characters"
    found = NOT_PLAIN.search(reason)
    return f"contains {found.group(0)!r}" if found else None


def secrets_of(sb: Sandbox) -> set[str]:
    c = sb.credentials
    return {
        c.kit_api_key, c.kit_oauth_token, c.kit_refresh_token, c.kit_v3_key, c.kit_v3_secret,
        c.highlevel_token,
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------- rig

FAST_RETRY = RetryPolicy()  # the real policy; its waits cost nothing on the virtual clock


def make_audience(sb: Sandbox, p: PlatformCase, *, with_email: bool = True) -> tuple[str, set[str]]:
    """Pasted text with existing and unknown identifiers, one email (Kit), one garbage line and one
    duplicate; returns the text and the identifiers that exist."""
    if p.kind is PlatformKind.HIGHLEVEL:
        known = sb.known_contact_ids(p.known)
        unknown = sb.unknown_contact_ids(p.unknown)
    else:
        known = [str(i) for i in sb.known_subscriber_ids(p.known - 1)]
        if with_email:
            known.append(sb.known_emails(p.known + 5)[-1])  # looked up before any write
        unknown = [str(i) for i in sb.unknown_subscriber_ids(p.unknown)]
    lines = [*known, *unknown, "not an identifier", known[0]]
    return "\n".join(lines), set(known)


def credentials_for(sb: Sandbox, p: PlatformCase) -> Credentials:
    c = sb.credentials
    if p.kind is PlatformKind.KIT_V4:
        return Credentials(c.kit_oauth_token if p.auth is AuthKind.OAUTH else c.kit_api_key)
    if p.kind is PlatformKind.KIT_V3:
        return Credentials(c.kit_v3_key, secret=c.kit_v3_secret)
    return Credentials(c.highlevel_token)


def withdraw_token(served: Served, sb: Sandbox, p: PlatformCase) -> None:
    """After one more request the credential stops working: Kit's OAuth token expires (its own
    "expired" answer), any other credential is revoked."""
    if p.kind is PlatformKind.KIT_V4 and p.auth is AuthKind.OAUTH:
        used = sb.oauth.access_tokens[sb.credentials.kit_oauth_token].uses
        sb.faults.expire_token_after = used + 1
        return

    def revoke() -> None:
        if p.kind is PlatformKind.KIT_V4:
            sb.kit_v4.api_keys.clear()
        elif p.kind is PlatformKind.KIT_V3:
            sb.kit_v3.api_key = "revoked"
            sb.kit_v3.api_secret = "revoked"
        else:
            sb.highlevel.tokens.clear()

    served.switch.revoke_after(1, revoke)


@dataclass
class Run:
    sb: Sandbox
    outcomes: list[RowOutcome]
    finished: JobFinished
    expected_pairs: set[tuple[int, str]]
    targets: list[str]
    known: set[str]
    total_rows: int


async def run_case(
    served: Served, p: PlatformCase, action: Action, fault: Fault, *, with_email: bool = True
) -> Run:
    clock = ManualClock()
    sb = Sandbox(subscribers=400, contacts=300, clock=clock, faults=Faults(seed=11))
    served.switch.use(sb)
    sleep = VirtualSleep(clock)
    account = Account(
        f"{p.name} under {fault.name}",
        p.kind,
        p.auth,
        base_url=served.base_url,
        location_id=sb.credentials.highlevel_location if p.kind is PlatformKind.HIGHLEVEL else "",
    )
    platform = open_platform(
        account,
        credentials_for(sb, p),
        retry=FAST_RETRY,
        sleep=sleep,
        timeout=fault.timeout,
        limiter=RateLimiter(p.rate, clock=clock, sleep=sleep),
    )
    try:
        available = await platform.list_targets(action.target_kind)
        assert available, f"the sandbox has no {action.target_kind} to use"
        target = available[0]
        text, known = make_audience(sb, p, with_email=with_email)
        accepted = frozenset(platform.capabilities.identifiers | {IdentifierKind.EMAIL})
        audience = parse_text(text, accepted, source="fault matrix")
        spec = JobSpec(
            account.name,
            action,
            (target,),
            audience,
            value="Spring 2026" if action is Action.SET_FIELD else None,
        )
        for name, value in fault.faults.items():
            setattr(sb.faults, name, value)
        if fault.token_withdrawn:
            withdraw_token(served, sb, p)
        runner = Runner(platform, spec, flush_interval=0.05, concurrency=4)
        finished: JobFinished | None = None
        async for event in runner.events():
            if isinstance(event, JobFinished):
                finished = event
        assert finished is not None
        rows = {r.row for r in audience.rows} | {x.row for x in (*audience.invalid, *audience.duplicates)}
        return Run(
            sb,
            runner.outcomes(),
            finished,
            {(r, target.id) for r in rows},
            [target.id],
            known,
            len(rows),
        )
    finally:
        sb.faults.clear()
        await platform.aclose()


def rows_ended(run: Run, fault: Fault) -> str:
    """What the rows ended as, in words that hold on every run (the test asserts each of them)."""
    if fault.token_withdrawn:
        return (
            "rows sent before: their own outcome; the rest failed: refused the token, reconnect, Retry failed"
        )
    if fault.reason == "$^":
        return "every existing row succeeded or unchanged; unknown and garbage rows failed or skipped"
    return (
        "at least 60 % of existing rows succeeded or unchanged; any that failed name the fault in plain words"
    )


# ---------------------------------------------------------------------------------------------- test


@pytest.mark.parametrize(("p", "action", "fault"), CASES)
def test_every_row_ends_in_exactly_one_plain_outcome(
    served: Served, p: PlatformCase, action: Action, fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="audience_manager")
    run = asyncio.run(run_case(served, p, action, fault))
    secrets = secrets_of(run.sb)

    # Exactly one outcome per row × target, none lost, none invented.
    pairs = [(o.row, t) for o in run.outcomes for t in run.targets]
    assert len(pairs) == len(set(pairs)) == len(run.expected_pairs)
    assert set(pairs) == run.expected_pairs

    # The job ends as the fault says, with a plain reason when it stops early.
    if fault.token_withdrawn:
        assert run.finished.state is JobState.FAILED, run.finished
        assert "refused the token" in run.finished.reason
        assert not_plain(run.finished.reason) is None, run.finished.reason
    else:
        assert run.finished.state is JobState.FINISHED, run.finished
        assert run.finished.reason == ""

    # Every reason is plain words, with no token; an existing row fails only for the fault's reason.
    fault_reason = re.compile(fault.reason, re.IGNORECASE)
    failed_known = []
    for o in run.outcomes:
        if o.outcome in (Outcome.FAILED, Outcome.SKIPPED):
            assert not_plain(o.reason) is None, f"row {o.row}: {o.reason!r} ({not_plain(o.reason)})"
        assert not any(s in o.reason for s in secrets), f"row {o.row}: a token in its reason"
        if o.outcome is Outcome.FAILED and o.identifier in run.known:
            failed_known.append(o)
            assert fault_reason.search(o.reason), f"row {o.row} {o.identifier}: {o.reason!r}"
    succeeded = sum(o.outcome in (Outcome.SUCCEEDED, Outcome.UNCHANGED) for o in run.outcomes)
    if fault.token_withdrawn:
        assert failed_known, "the withdrawn token failed no row"
    else:
        # Retries carry the job through: most existing rows still end well.
        assert succeeded >= 0.6 * len(run.known), Counter(o.outcome for o in run.outcomes)
        assert len(failed_known) <= 0.4 * len(run.known)

    # DEBUG logs of the whole run: no token, whatever the fault.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged, "the run logged nothing at DEBUG"
    assert not any(s in logged for s in secrets), "a token in the DEBUG log"

    state = "failed: refused the token" if fault.token_withdrawn else "finished"
    reliability.record(
        "faults",
        f"{PLATFORMS.index(p)}-{p.actions.index(action)}-{FAULTS.index(fault):02d}",
        [p.name, action.label, fault.words, str(run.total_rows), state, rows_ended(run, fault)],
    )


# ----------------------------------------------------------------------- faults that never let up

PERSISTENT = (
    Fault("dropped-always", "every connection dropped", {"drop_rate": 1.0}, reason="failed or dropped"),
    Fault(
        "html-always", "a proxy's HTML error page on every request", {"html_error_rate": 1.0},
        reason=r"server error \(HTTP 502|instead of data",
    ),
    Fault("503-always", "503 on every request", {"status_rates": {503: 1.0}}, reason="server error"),
    Fault(
        "timeouts-always", "every answer after the client's 0.1 s timeout",
        {"slow_rate": 1.0, "slow_latency": 0.15}, timeout=0.1, reason="did not answer in time",
    ),
    Fault("429-always", "429 on every request", {"status_rates": {429: 1.0}}, reason="too many requests"),
    Fault("413-always", "413 on every request", {"status_rates": {413: 1.0}}, reason="too much at once"),
)  # fmt: skip

PERSISTENT_CASES = [
    pytest.param(p, f, id=f"{p.kind.value}-{p.auth.value}-{f.name}") for p in PLATFORMS for f in PERSISTENT
]


def fault_reason_in(fault: Fault, text: str) -> bool:
    return re.search(fault.reason, text, re.IGNORECASE) is not None


@pytest.mark.parametrize(("p", "fault"), PERSISTENT_CASES)
def test_a_fault_that_never_lets_up_fails_every_row_with_its_plain_reason(
    served: Served, p: PlatformCase, fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    """Retries run out: every row sent fails with the fault's reason in plain words (never a class
    name or a traceback), rows never sent are skipped, and the job still ends with one outcome each.
    After three batches in a row give up, the job stops: the rest fail at once as "Not sent: <the
    same reason>" instead of each spending its own retries."""
    caplog.set_level(logging.DEBUG, logger="audience_manager")
    run = asyncio.run(run_case(served, p, Action.TAG, fault, with_email=False))
    secrets = secrets_of(run.sb)
    pairs = [(o.row, t) for o in run.outcomes for t in run.targets]
    assert len(pairs) == len(set(pairs)) and set(pairs) == run.expected_pairs
    assert run.finished.state in (JobState.FINISHED, JobState.FAILED), run.finished
    if run.finished.state is JobState.FAILED:
        assert fault_reason_in(fault, run.finished.reason), run.finished
    fault_reason = re.compile(fault.reason, re.IGNORECASE)
    kinds = Counter(o.outcome for o in run.outcomes)
    assert set(kinds) == {Outcome.FAILED, Outcome.SKIPPED}, kinds
    for o in run.outcomes:
        assert not_plain(o.reason) is None, f"row {o.row}: {o.reason!r} ({not_plain(o.reason)})"
        assert not any(s in o.reason for s in secrets)
        if o.outcome is Outcome.FAILED:
            assert fault_reason.search(o.reason), f"row {o.row}: {o.reason!r}"
    assert not any(s in r.getMessage() for r in caplog.records for s in secrets), "a token in the log"
    example = next(o.reason for o in run.outcomes if o.outcome is Outcome.FAILED)
    example = re.sub(r"over \d+ s\b", "over N s", example)  # wall-clock seconds vary from run to run
    reliability.record(
        "faults",
        f"{PLATFORMS.index(p)}-9-{PERSISTENT.index(fault):02d}",
        [
            p.name,
            Action.TAG.label,
            fault.words,
            str(run.total_rows),
            run.finished.state.value,
            f"every row sent failed (garbage and duplicate rows skipped): {example}",
        ],
    )
