"""Settings, journal and logs in the platform's folders under one name, moved there from the old
layout (everything in the data folder) without losing an account, a job or a setting."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from audience_manager.core.accounts import Account
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.jobs.journal import Journal
from audience_manager.store import paths
from audience_manager.store.accounts import AccountBook


def _user_dir(base: Path, tail: str = "") -> object:
    def user_dir(name: str, appauthor: object = None) -> str:
        return str(base / name / tail) if tail else str(base / name)

    return user_dir


@pytest.fixture
def platform_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """platformdirs pointed at tmp folders laid out as on Linux (data, config and logs apart)."""
    monkeypatch.delenv(paths.HOME_VARIABLE, raising=False)
    monkeypatch.setattr(platformdirs, "user_data_dir", _user_dir(tmp_path / "share"))
    monkeypatch.setattr(platformdirs, "user_config_dir", _user_dir(tmp_path / "config"))
    monkeypatch.setattr(platformdirs, "user_log_dir", _user_dir(tmp_path / "state", "log"))
    monkeypatch.setattr(paths, "_migrated", False)
    folders = {"data": tmp_path / "share", "config": tmp_path / "config", "log": tmp_path / "state"}
    return {k: v / paths.APP_NAME for k, v in folders.items()}


def test_one_name_in_the_platforms_folders(platform_folders: dict[str, Path]) -> None:
    assert paths.settings_path() == platform_folders["config"] / "settings.json"
    assert paths.window_settings_path() == platform_folders["config"] / "window.ini"
    assert paths.journal_path() == platform_folders["data"] / "journal.sqlite3"
    assert paths.log_dir() == platform_folders["log"] / "log"
    assert {p.parent.name if p.name == "log" else p.name for p in paths.places().__dict__.values()} == {
        paths.APP_NAME
    }


def test_the_old_layout_moves_without_losing_accounts_jobs_or_logs(platform_folders: dict[str, Path]) -> None:
    old = platform_folders["data"]
    old.mkdir(parents=True)
    book = AccountBook(old / "settings.json")
    book.put(Account("Shop", PlatformKind.KIT_V4, AuthKind.API_KEY))
    journal = Journal(old / "journal.sqlite3")
    journal.close()
    (old / "logs").mkdir()
    (old / "logs" / "audience-manager.log").write_text("old line\n")

    settings = paths.settings_path()  # the first question moves the files

    assert settings == platform_folders["config"] / "settings.json"
    assert [a.name for a in AccountBook(settings).accounts()] == ["Shop"]
    assert not (old / "settings.json").exists()
    assert (paths.log_dir() / "audience-manager.log").read_text() == "old line\n"
    assert paths.journal_path() == old / "journal.sqlite3" and paths.journal_path().exists()


def test_a_file_already_in_the_new_place_is_never_overwritten(platform_folders: dict[str, Path]) -> None:
    old, new = platform_folders["data"], platform_folders["config"]
    old.mkdir(parents=True)
    new.mkdir(parents=True)
    (old / "settings.json").write_text('{"old": true}')
    (new / "settings.json").write_text('{"new": true}')
    assert paths.settings_path().read_text() == '{"new": true}'
    assert (old / "settings.json").read_text() == '{"old": true}'  # left for the user, not lost


def test_migrate_moves_the_journal_with_its_write_ahead_log(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    for name in ("journal.sqlite3", "journal.sqlite3-wal", "settings.json", "window.ini"):
        (old / name).write_text(name)
    new = paths.Places(config=tmp_path / "c", data=tmp_path / "d", logs=tmp_path / "l")
    moved = paths.migrate(old, new)
    assert len(moved) == 4
    assert (new.data / "journal.sqlite3-wal").read_text() == "journal.sqlite3-wal"
    assert (new.config / "window.ini").read_text() == "window.ini"
    assert paths.migrate(old, new) == []  # once


def test_the_override_keeps_everything_in_one_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.HOME_VARIABLE, str(tmp_path))
    assert paths.settings_path() == tmp_path / "settings.json"
    assert paths.journal_path() == tmp_path / "journal.sqlite3"
    assert paths.log_dir() == tmp_path / "logs"
