"""tests/RELIABILITY.md holds exactly the cases the suite tries: no row for a case that is gone.

Each case checks its own row as it runs (`reliability.record`); this checks the other direction, by
counting the cases each section's tests declare (the fault tables, the corpus folder).
"""

from __future__ import annotations

from pathlib import Path

from tests import reliability

from .test_fault_matrix import CASES, PERSISTENT_CASES
from .test_lost_answers import LOST_CASES

CORPUS = Path(reliability.TESTS) / "data" / "corpus"


def test_every_section_is_there_with_its_heading_row() -> None:
    text = reliability.DOC.read_text("utf-8")
    for spec in reliability.SECTIONS.values():
        assert f"## {spec.title}" in text
        assert reliability.line(spec.columns) in text


def test_no_row_for_a_case_that_no_longer_exists() -> None:
    corpus = sum(1 for _ in CORPUS.iterdir())
    expected = {
        "faults": len(CASES) + len(PERSISTENT_CASES) + len(LOST_CASES),
        "cli-corpus": corpus,
        "window-corpus": corpus,
    }
    for section, count in expected.items():
        rows = reliability.committed_rows(section)
        assert len(rows) == len(set(rows)) == count, (
            f"RELIABILITY.md has {len(rows)} {section} rows for {count} cases: "
            "run `python tests/reliability.py` and commit the file"
        )


def test_the_file_is_what_the_generator_writes_from_these_rows() -> None:
    """Hand edits are caught too: the committed file must be the generator's rendering of its rows."""
    text = reliability.DOC.read_text("utf-8")
    rebuilt = reliability.render_rows(
        {name: [row for row in reliability.committed_rows(name)] for name in reliability.SECTIONS}
    )
    assert text == rebuilt
