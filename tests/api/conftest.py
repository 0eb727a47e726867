"""Shared helpers for the API tests: a fake clock that sleeping advances, and the shared docs path."""

from __future__ import annotations

from pathlib import Path

import pytest
from timing_fakes import FakeTime, VirtualTime

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


@pytest.fixture
def virtual_time() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"the shared API docs are not next to the project ({SHARED} is missing)")
    return SHARED
