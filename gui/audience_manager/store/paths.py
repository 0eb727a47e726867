"""Where the app keeps its files. One place, so tests and a portable install can move all of it.

`AUDIENCE_MANAGER_HOME` overrides the platform's user data directory (tests set it to a temporary
directory so they never touch a real user's journal or settings).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "audience-manager"


def data_dir() -> Path:
    override = os.environ.get("AUDIENCE_MANAGER_HOME")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def journal_path() -> Path:
    return data_dir() / "journal.sqlite3"


def settings_path() -> Path:
    """Accounts (never their secrets) and preferences, as JSON."""
    return data_dir() / "settings.json"


def log_dir() -> Path:
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
