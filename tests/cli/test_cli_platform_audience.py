"""`apply --from tag:A --except tag:B` on the sandbox: the count said before the run is the rows changed."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

from .conftest import Served


def outcomes(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_everyone_on_webinar_but_not_on_customer_is_tagged_without_a_file(
    served: Served, tmp_path: Path
) -> None:
    kit = served.sb.state.kit
    webinar, _ = kit.create_tag("Webinar Dec 4")
    customer, _ = kit.create_tag("Customer 2026")
    kit.create_tag("Follow up")
    active = [s.id for s in kit.subscribers.values() if s.state == "active"]
    cancelled = [s.id for s in kit.subscribers.values() if s.state == "cancelled"]
    on_webinar = active[:1_240] + cancelled[:5]  # the cancelled ones are not in the "active" listing
    for sid in on_webinar:
        kit.tag(sid, webinar.id, "2026-01-01T00:00:00Z")
    for sid in active[928:1_300]:  # 312 of the webinar's, and 60 others
        kit.tag(sid, customer.id, "2026-01-01T00:00:00Z")
    report = tmp_path / "report.csv"
    served.sb.stats.reset()
    run = served.run(
        [
            "apply",
            *served.kit_args(),
            "--action",
            "tag",
            "--target",
            "Follow up",
            "--from",
            "tag:webinar dec 4",
            "--except",
            "tag:Customer 2026",
            "--report",
            str(report),
        ]
    )
    assert run.code == 0, run.stderr
    assert "audience: 1,240 on webinar dec 4, 312 of them also on Customer 2026: 928 people" in run.stderr
    said = int(re.search(r": ([\d,]+) people", run.stderr).group(1).replace(",", ""))  # type: ignore[union-attr]
    rows = outcomes(report)
    assert Counter(r["outcome"] for r in rows) == {"succeeded": said}
    follow = kit.find_tag_by_name("Follow up")
    assert follow is not None and set(kit.taggings[follow.id]) == set(active[:928])
    assert "resolving" not in run.stderr  # the members came with their ids: no lookups


def test_only_in_a_file_and_a_union_of_tags(served: Served, tmp_path: Path) -> None:
    kit = served.sb.state.kit
    a, _ = kit.create_tag("A")
    b, _ = kit.create_tag("B")
    kit.create_tag("Target")
    active = [s for s in kit.subscribers.values() if s.state == "active"]
    for s in active[:30]:
        kit.tag(s.id, a.id, "2026-01-01T00:00:00Z")
    for s in active[20:50]:
        kit.tag(s.id, b.id, "2026-01-01T00:00:00Z")
    listed = tmp_path / "vip.csv"
    listed.write_text("email\n" + "\n".join(s.email_address.upper() for s in active[10:40]) + "\n")
    run = served.run(
        [
            "apply",
            *served.kit_args(),
            "--action",
            "tag",
            "--target",
            "Target",
            "--from",
            "tag:A",
            "--from",
            "tag:B",
            "--only-in",
            str(listed),
        ]
    )
    assert run.code == 0, run.stderr
    assert ": 30 people" in run.stderr
    target = kit.find_tag_by_name("Target")
    assert target is not None and set(kit.taggings[target.id]) == {s.id for s in active[10:40]}


def test_usage_errors(served: Served) -> None:
    served.sb.state.kit.create_tag("Webinar")
    base = ["apply", *served.kit_args(), "--action", "tag", "--target", "Webinar"]
    run = served.run([*base, "--from", "tag:Webinr"])
    assert run.code == 2 and "no tag named or numbered 'Webinr'. Did you mean: Webinar?" in run.stderr
    run = served.run([*base, "--except", "tag:Webinar", "x.csv"])
    assert run.code == 2 and "--except and --only-in need --from" in run.stderr
    run = served.run([*base])
    assert run.code == 2 and "give INPUT" in run.stderr
