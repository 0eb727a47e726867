"""One sandbox server per module on 127.0.0.1; each case puts a fresh simulated account behind it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from audience_manager.sandbox.server import serve

from .fault_rig import Served, SwitchableApp


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    switch = SwitchableApp()
    with serve(switch) as base_url:
        yield Served(switch, base_url)
