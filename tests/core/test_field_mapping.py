"""Columns to fields: guessed from matching names; each row keeps its own cells of the columns read."""

from __future__ import annotations

from pathlib import Path

from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.audience_file import read_audience
from audience_manager.core.field_mapping import guess_first_name_column, guess_mapping
from audience_manager.core.job_spec import BlankCells, JobSpec
from audience_manager.core.planning import plan
from audience_manager.core.platforms import Capabilities, RateLimit

COMPANY = Target(TargetKind.FIELD, "1", "Company", key="company")
PLAN = Target(TargetKind.FIELD, "2", "Plan", key="plan")
LAST = Target(TargetKind.FIELD, "3", "Last name", key="last_name")
HL_CITY = Target(TargetKind.FIELD, "abc", "Town", key="contact.city")


def test_names_match_whatever_their_case_spacing_or_key() -> None:
    got = guess_mapping(
        ["email", "COMPANY", "plan ", "Last_Name", "city", "notes"], [COMPANY, PLAN, LAST, HL_CITY], "email"
    )
    assert got == {"COMPANY": COMPANY, "plan ": PLAN, "Last_Name": LAST, "city": HL_CITY, "notes": None}


def test_a_field_goes_to_one_column_and_the_identifier_is_never_mapped() -> None:
    got = guess_mapping(["company", "Company", "email"], [COMPANY], "email")
    assert got == {"company": COMPANY, "Company": None}
    assert guess_mapping(["company"], [COMPANY], "company") == {}


def test_first_name_column_is_found_by_its_usual_names() -> None:
    assert guess_first_name_column(["Email", "First name"]) == "First name"
    assert guess_first_name_column(["email", "fname"]) == "fname"
    assert guess_first_name_column(["email", "name"]) is None


def test_rows_keep_their_cells_and_the_plan_carries_each_rows_value(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "email,company,plan\na@x.example,Acme,\nb@x.example, Globex ,Pro\nc@x.example\n", encoding="utf-8"
    )
    audience = read_audience(path, "email", value_columns=["company", "plan"])
    assert [r.values for r in audience.rows] == [
        (("company", "Acme"), ("plan", "")),
        (("company", "Globex"), ("plan", "Pro")),
        (("company", ""), ("plan", "")),  # a short row: its missing cells are blank
    ]
    spec = JobSpec("a", Action.SET_FIELD, (COMPANY, PLAN), audience, fields=(("1", "company"), ("2", "plan")))
    caps = Capabilities(
        actions=frozenset(Action), identifiers=frozenset(), items_per_request=100, rate=RateLimit(120, 60)
    )
    subjects = {"a@x.example": "11", "b@x.example": "12", "c@x.example": "13"}
    items = [i for batch in plan(spec, caps, subjects=subjects).batches for i in batch]
    assert [(i.subject, i.target.id, i.value) for i in items] == [
        ("11", "1", "Acme"), ("12", "1", "Globex"), ("13", "1", ""),
        ("11", "2", ""), ("12", "2", "Pro"), ("13", "2", ""),
    ]  # fmt: skip
    assert spec.leaves_blank("", COMPANY) and not spec.leaves_blank("Acme", COMPANY)
    clearing = JobSpec(
        "a", Action.SET_FIELD, (COMPANY,), audience, fields=(("1", "company"),), blank=BlankCells.CLEAR
    )
    assert not clearing.leaves_blank("", COMPANY)
    one_value = JobSpec("a", Action.SET_FIELD, (COMPANY,), audience, value="Same")
    assert one_value.value_for(audience.rows[0], COMPANY) == "Same" and not one_value.leaves_blank(
        "", COMPANY
    )
