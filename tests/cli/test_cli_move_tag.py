"""`apply --action move-tag --from tag:OLD --target NEW` on the sandbox: nobody ends with both tags,
one outcome a row, and the undo restores both."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from .conftest import TOKEN_VAR, Served

AT = "2026-01-01T00:00:00Z"


def outcomes(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_move_from_lead_to_customer_on_kit_and_undo(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = served.sb.state.kit
    lead, _ = kit.create_tag("Lead 14")
    customer, _ = kit.create_tag("Customer 14")
    active = [s.id for s in kit.subscribers.values() if s.state == "active"]
    for sid in active[:300]:
        kit.tag(sid, lead.id, AT)
    for sid in active[250:320]:  # 50 of the leads are customers already, 20 others too
        kit.tag(sid, customer.id, AT)
    report = tmp_path / "report.csv"
    run = served.run(
        [
            "apply",
            *served.kit_args(),
            "--action",
            "move-tag",
            "--from",
            "tag:Lead 14",
            "--target",
            "Customer 14",
            "--report",
            str(report),
        ]
    )
    assert run.code == 0, run.stderr
    assert "audience: 300 on Lead 14: 300 people" in run.stderr
    rows = outcomes(report)
    assert len(rows) == 300 and Counter(r["outcome"] for r in rows) == {"succeeded": 300}
    assert kit.taggings[lead.id] == {}  # nobody left on Lead
    assert set(kit.taggings[customer.id]) == set(active[:320])
    assert not set(kit.taggings[lead.id]) & set(kit.taggings[customer.id])

    job_id = re.search(r"^job (\w+)", run.stderr, re.M).group(1)  # type: ignore[union-attr]
    monkeypatch.setenv(TOKEN_VAR, served.sb.credentials.kit_oauth_token)  # `jobs` reads the process's
    undo = served.run(["jobs", "undo", job_id, "--token-env", TOKEN_VAR])
    assert undo.code == 0, undo.stderr + undo.stdout
    assert set(kit.taggings[lead.id]) == set(active[:300])  # both restored
    assert set(kit.taggings[customer.id]) == set(active[250:320])  # the 50 keep the tag they had


def test_move_on_highlevel(served: Served) -> None:
    from audience_manager.sandbox.state import HLTag

    hl = served.sb.state.highlevel
    location = served.sb.credentials.highlevel_location
    loc = hl.locations[location]
    for n, name in enumerate(["lead-14", "customer-14"]):
        if loc.find_tag(name) is None:
            loc.tags[f"tag14m{n:014d}"] = HLTag(f"tag14m{n:014d}", name, location)
    contacts = [c for c in hl.contacts.values() if c.location_id == location and not c.deleted]
    for c in contacts[:30]:
        c.tags[:] = ["lead-14", "vip"]
    env = served.highlevel_env()
    run = served.run(
        [
            "apply",
            *served.highlevel_args(),
            "--action",
            "move-tag",
            "--from",
            "tag:lead-14",
            "--target",
            "customer-14",
        ],
        environ=env,
    )
    assert run.code == 0, run.stderr
    assert all(sorted(c.tags) == ["customer-14", "vip"] for c in contacts[:30])


def test_move_usage(served: Served) -> None:
    served.sb.state.kit.create_tag("Lead 14")
    base = ["apply", *served.kit_args(), "--action", "move-tag"]
    run = served.run([*base, "--target", "x", "--from", "tag:a", "--from", "tag:b"])
    assert run.code == 2 and "give --from tag:OLD once" in run.stderr
    run = served.run([*base, "--target", "x", "--target", "y", "--from", "tag:a"])
    assert run.code == 2 and "one --target" in run.stderr
    run = served.run([*base, "--target", "Lead 14", "--from", "tag:Lead 14"])
    assert run.code == 2 and "are the same tag" in run.stderr
