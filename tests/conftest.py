"""Test-wide isolation: no test reads or writes the user's real settings, journal, logs or keyring."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before anything imports Qt: offscreen unless the caller asked for xcb (desktop-stack.md §2, gotcha 4).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_HOME = Path(tempfile.mkdtemp(prefix="audience-manager-tests-"))
os.environ["AUDIENCE_MANAGER_HOME"] = str(_HOME)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
