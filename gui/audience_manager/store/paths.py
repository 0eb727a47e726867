"""Where the app keeps its files. One place, so tests and a portable install can move all of it.

One name, `audience-manager`, in the platform's own folders (platformdirs):
- settings (accounts without their secrets, the window's layout): the config folder
  (~/.config/audience-manager, ~/Library/Application Support/audience-manager, %LOCALAPPDATA%\\...);
- the job journal: the data folder (~/.local/share/audience-manager, ...);
- logs: the log folder (~/.local/state/audience-manager/log, ~/Library/Logs/audience-manager,
  %LOCALAPPDATA%\\audience-manager\\Logs).

Before 0.1.0 everything lived in the data folder (settings.json, logs/). The first call that asks
for a folder moves what is there to its new place when the new place has nothing yet, so no account,
job or setting is lost; the journal stays where it was on every platform.

`AUDIENCE_MANAGER_HOME` puts all of it in one folder instead (tests set it to a temporary
directory so they never touch a real user's journal or settings; a portable install may too).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "audience-manager"
HOME_VARIABLE = "AUDIENCE_MANAGER_HOME"
SETTINGS_FILE = "settings.json"
WINDOW_FILE = "window.ini"
JOURNAL_FILE = "journal.sqlite3"
NOTICES_FILE = "THIRD-PARTY-NOTICES.txt"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Places:
    config: Path
    data: Path
    logs: Path


def places() -> Places:
    override = os.environ.get(HOME_VARIABLE)
    if override:
        home = Path(override)
        return Places(config=home, data=home, logs=home / "logs")
    found = Places(
        config=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        logs=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )
    _migrate_once(found)
    return found


def config_dir() -> Path:
    return _made(places().config)


def data_dir() -> Path:
    return _made(places().data)


def log_dir() -> Path:
    return _made(places().logs)


def journal_path() -> Path:
    return data_dir() / JOURNAL_FILE


def settings_path() -> Path:
    """Accounts (never their secrets) and preferences, as JSON."""
    return config_dir() / SETTINGS_FILE


def window_settings_path() -> Path:
    """The window's geometry and splitters (a QSettings ini file)."""
    return config_dir() / WINDOW_FILE


def notices_path() -> Path | None:
    """The third-party notices the packages ship (beside the frozen app's files), if any."""
    meipass = getattr(sys, "_MEIPASS", None)
    candidates = [Path(meipass) / NOTICES_FILE] if meipass else []
    candidates.append(Path(__file__).resolve().parents[3] / "out" / NOTICES_FILE)  # a source checkout's build
    return next((p for p in candidates if p.is_file()), None)


def migrate(old_data: Path, new: Places) -> list[str]:
    """Move the files the old layout kept in `old_data` to `new`'s folders; what moved, in words.

    A file or folder moves only when its new place does not exist yet (a newer copy is never
    overwritten), and is left where it was if the move fails."""
    moves = [
        (old_data / SETTINGS_FILE, new.config / SETTINGS_FILE),
        (old_data / WINDOW_FILE, new.config / WINDOW_FILE),
        (old_data / "logs", new.logs),
    ]
    for suffix in ("", "-wal", "-shm"):  # SQLite's write-ahead log travels with the journal
        moves.append((old_data / (JOURNAL_FILE + suffix), new.data / (JOURNAL_FILE + suffix)))
    moved = []
    for old, target in moves:
        if old == target or not old.exists() or (target.exists() and not _empty_dir(target)):
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                target.rmdir()
            shutil.move(str(old), str(target))
        except OSError as exc:
            log.warning("could not move %s to %s: %s", old, target, exc)
            continue
        moved.append(f"{old} -> {target}")
    for line in moved:
        log.info("moved to the new location: %s", line)
    return moved


_migrated = False


def _migrate_once(found: Places) -> None:
    global _migrated
    if _migrated:
        return
    _migrated = True
    # The old layout: everything in platformdirs' user data folder.
    migrate(Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)), found)


def _empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
