"""The accounts the user added, without their secrets, in the settings file.

Written atomically (temporary file + rename) so a crash never leaves half a settings file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from audience_manager.core.accounts import Account
from audience_manager.core.platforms import AuthKind, PlatformKind

_FIELDS = [f.name for f in dataclasses.fields(Account)]


class SettingsError(Exception):
    """The settings file cannot be read; the message names the file and what to do."""


def _to_json(account: Account) -> dict[str, Any]:
    data = dataclasses.asdict(account)
    data["platform"] = account.platform.value
    data["auth"] = account.auth.value
    return data


def _from_json(data: dict[str, Any]) -> Account:
    known = {k: v for k, v in data.items() if k in _FIELDS}
    known["platform"] = PlatformKind(known["platform"])
    known["auth"] = AuthKind(known["auth"])
    return Account(**known)


class AccountBook:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._accounts: dict[str, Account] = {}
        self._other: dict[str, Any] = {}
        self.reload()

    def reload(self) -> None:
        if not self.path.exists():
            self._accounts, self._other = {}, {}
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            accounts = [_from_json(a) for a in data.get("accounts", [])]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SettingsError(
                f"The settings file {self.path} cannot be read ({exc}). Move it aside and restart; "
                "your tokens stay in the keyring."
            ) from exc
        self._accounts = {a.name: a for a in accounts}
        self._other = {k: v for k, v in data.items() if k != "accounts"}

    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    def get(self, name: str) -> Account | None:
        return self._accounts.get(name)

    def put(self, account: Account, *, replacing: str | None = None) -> None:
        if replacing and replacing != account.name:
            self._accounts.pop(replacing, None)
        self._accounts[account.name] = account
        self._save()

    def remove(self, name: str) -> None:
        self._accounts.pop(name, None)
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {**self._other, "accounts": [_to_json(a) for a in self._accounts.values()]}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".settings-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, indent=2)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
