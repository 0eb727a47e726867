"""The settings file holds accounts and never a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audience_manager.core.accounts import Account
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.store.accounts import AccountBook, SettingsError


def test_accounts_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    book = AccountBook(path)
    book.put(Account("Shop", PlatformKind.KIT_V4, AuthKind.API_KEY))
    location = "ve9EPM428h8vShlRW1KT"
    agency = Account("Agency", PlatformKind.HIGHLEVEL, AuthKind.PRIVATE_TOKEN, location_id=location)
    book.put(agency)
    again = AccountBook(path)
    assert [a.name for a in again.accounts()] == ["Shop", "Agency"]
    assert again.get("Agency") == book.get("Agency")
    assert again.get("Shop").base_url == "https://api.kit.com"  # type: ignore[union-attr]


def test_rename_and_remove(tmp_path: Path) -> None:
    book = AccountBook(tmp_path / "settings.json")
    book.put(Account("Shop", PlatformKind.KIT_V4, AuthKind.API_KEY))
    book.put(Account("Shop 2", PlatformKind.KIT_V4, AuthKind.API_KEY), replacing="Shop")
    assert [a.name for a in book.accounts()] == ["Shop 2"]
    book.remove("Shop 2")
    assert AccountBook(tmp_path / "settings.json").accounts() == []


def test_settings_hold_no_secret_fields(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    AccountBook(path).put(Account("Shop", PlatformKind.KIT_V4, AuthKind.OAUTH, oauth_client_id="client-1"))
    text = path.read_text()
    for word in ("token", "secret", "password"):
        assert word not in {k.lower() for k in json.loads(text)["accounts"][0]}


def test_a_broken_settings_file_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    with pytest.raises(SettingsError, match="Move it aside"):
        AccountBook(path)
