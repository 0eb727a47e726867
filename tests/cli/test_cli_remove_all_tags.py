"""HighLevel "remove all tags" from the CLI on the sandbox: a confirmation naming the count, then
every contact stripped, and the undo gives each one back exactly its old tags."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import pytest

from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve
from audience_manager.sandbox.state import HLTag

from .conftest import TOKEN_VAR, Served


@pytest.fixture
def big() -> Iterator[Served]:
    sb = Sandbox(subscribers=100, contacts=400)
    with serve(sb) as base_url:
        yield Served(sb, base_url)


def test_remove_all_tags_from_200_contacts_and_undo_exactly(
    big: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = big
    hl = served.sb.state.highlevel
    location = served.sb.credentials.highlevel_location
    contacts = [c for c in hl.contacts.values() if c.location_id == location and not c.deleted]
    rng = random.Random(14)
    pool = ["vip", "webinar", "lead", "customer", "newsletter", "trial"]
    chosen = contacts[:200]
    for n, c in enumerate(chosen):
        c.tags[:] = ["cohort-14", *rng.sample(pool, n % 4)]  # 1 to 4 tags each, many distinct sets
    contacts[200].tags[:] = ["vip"]  # not in the cohort: left alone
    before = {c.id: set(c.tags) for c in chosen}
    loc = hl.locations[location]
    for n, name in enumerate(["cohort-14", *pool]):
        if loc.find_tag(name) is None:
            loc.tags[f"tag14x{n:014d}"] = HLTag(f"tag14x{n:014d}", name, location)
    env = served.highlevel_env()
    base = ["apply", *served.highlevel_args(), "--action", "untag", "--all-tags", "--from", "tag:cohort-14"]

    asked = served.run(base, environ=env)
    assert asked.code == 2
    assert "removes every tag from 200 HighLevel contacts" in asked.stderr and "--confirm 200" in asked.stderr
    assert all(set(c.tags) == before[c.id] for c in chosen)  # nothing sent

    run = served.run([*base, "--confirm", "200"], environ=env)
    assert run.code == 0, run.stderr
    assert "audience: 200 on cohort-14: 200 people" in run.stderr
    assert all(c.tags == [] for c in chosen) and contacts[200].tags == ["vip"]
    job_id = re.search(r"^job (\w+)", run.stderr, re.M).group(1)  # type: ignore[union-attr]

    monkeypatch.setenv(TOKEN_VAR, served.sb.credentials.highlevel_token)  # `jobs` reads the process's
    undo = served.run(["jobs", "undo", job_id, *served.highlevel_args()], environ=env)
    assert undo.code == 0, undo.stderr
    assert {c.id: set(c.tags) for c in chosen} == before  # exactly the old tags, each contact
    assert contacts[200].tags == ["vip"]


def test_all_tags_is_only_for_untag_without_a_target(served: Served) -> None:
    env = served.highlevel_env()
    base = ["apply", *served.highlevel_args(), "--from", "tag:x", "--all-tags"]
    run = served.run([*base, "--action", "tag"], environ=env)
    assert run.code == 2 and "--all-tags goes with --action untag" in run.stderr
    run = served.run([*base, "--action", "untag", "--target", "vip"], environ=env)
    assert run.code == 2
    kit = served.run(["apply", *served.kit_args(), "--action", "untag", "--all-tags", "--from", "tag:x"])
    assert kit.code == 2 and "cannot remove all tags" in kit.stderr
