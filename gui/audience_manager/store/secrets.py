"""Account secrets in the OS keyring, and nowhere else.

One keyring entry per account under the app's service name; its value is a small JSON document
with the token, the v3 secret and the OAuth refresh token, so one prompt unlocks one account.

A keyring can be missing (no Secret Service), locked, or the `fail` backend; a plaintext backend
(keyrings.alt) may be installed and would otherwise be picked silently. All of those count as "no
keyring": the user is told how to fix it and may keep the secret in memory for the session. We never
fall back to a file.

Keyring calls can block (a locked collection waits for a GUI prompt), so the async methods run them
on a dedicated thread with a timeout: a hung call costs one thread, never the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
from typing import Any, Protocol

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

from audience_manager.core.accounts import Credentials
from audience_manager.core.secret_text import InvalidSecretError

log = logging.getLogger(__name__)

SERVICE = "audience-manager"
KEYRING_TIMEOUT_S = 10.0

_NOT_SECURE_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")


class KeyringUnavailableError(Exception):
    """No secure keyring: the message says what happened and how to fix it."""


def how_to_fix() -> str:
    if sys.platform.startswith("linux"):
        return (
            "Install and unlock a Secret Service keyring (GNOME Keyring or KWallet), for example "
            "`sudo apt install gnome-keyring`, then log out and in again."
        )
    if sys.platform == "darwin":
        return "Unlock your login keychain in Keychain Access, then try again."
    return "Make sure Windows Credential Manager is available for your user, then try again."


def _backends(backend: KeyringBackend) -> list[KeyringBackend]:
    inner = getattr(backend, "backends", None)
    return list(inner) if inner is not None else [backend]


def is_secure(backend: KeyringBackend) -> bool:
    """A backend keeps secrets encrypted by the OS (not the `fail`, `null` or plaintext ones)."""
    usable = [b for b in _backends(backend) if not type(b).__module__.startswith(_NOT_SECURE_MODULES)]
    return bool(usable)


class SecretStore(Protocol):
    def save(self, account: str, credentials: Credentials) -> None: ...
    def load(self, account: str) -> Credentials | None: ...
    def delete(self, account: str) -> None: ...


def _encode(credentials: Credentials) -> str:
    return json.dumps(
        {
            "token": credentials.token,
            "secret": credentials.secret,
            "refresh_token": credentials.refresh_token,
            "expires_at": credentials.expires_at,
        }
    )


def _decode(value: str) -> Credentials:
    data: dict[str, Any] = json.loads(value)
    return Credentials(
        token=str(data.get("token", "")),
        secret=str(data.get("secret", "")),
        refresh_token=str(data.get("refresh_token", "")),
        expires_at=float(data.get("expires_at", 0.0)),
    )


class KeyringSecrets:
    """Secrets in the OS keyring through the `keyring` package."""

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        # Resolved on first use: finding the backend may talk to D-Bus, which is not for the GUI thread.
        self._given = backend

    @property
    def _backend(self) -> KeyringBackend:
        if self._given is None:
            self._given = keyring.get_keyring()
        return self._given

    @property
    def backend_name(self) -> str:
        return ", ".join(f"{type(b).__module__}.{type(b).__name__}" for b in _backends(self._backend))

    def check(self) -> None:
        if not is_secure(self._backend):
            # The backend's class name means nothing to a marketer; the log keeps it for support.
            log.info("no secure keyring backend: %s", self.backend_name)
            raise KeyringUnavailableError(f"No secure keyring is available on this computer. {how_to_fix()}")

    def _call(self, what: str, fn: Any, *args: str) -> Any:
        self.check()
        try:
            return fn(*args)
        except keyring.errors.KeyringLocked as exc:
            raise KeyringUnavailableError(f"The keyring is locked; unlock it and {what} again.") from exc
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailableError(f"The keyring refused to {what}: {exc}. {how_to_fix()}") from exc

    def save(self, account: str, credentials: Credentials) -> None:
        self._call("save the token", self._backend.set_password, SERVICE, account, _encode(credentials))

    def load(self, account: str) -> Credentials | None:
        value = self._call("read the token", self._backend.get_password, SERVICE, account)
        if not value:
            return None
        try:
            return _decode(value)
        except InvalidSecretError as exc:  # saved by another version or by hand: say whose and what to do
            raise InvalidSecretError(
                f"The secret saved for the account {account!r} cannot be used: {exc} Re-enter it in Account ›"
                " Accounts (or `accounts add`)."
            ) from None

    def delete(self, account: str) -> None:
        try:
            self._call("delete the token", self._backend.delete_password, SERVICE, account)
        except KeyringUnavailableError as exc:
            if isinstance(exc.__cause__, keyring.errors.PasswordDeleteError):
                return  # nothing stored: deleting is already done
            raise


class SessionSecrets:
    """ "Use for this session only": kept in this process's memory, gone when the app quits."""

    def __init__(self) -> None:
        self._values: dict[str, Credentials] = {}

    def save(self, account: str, credentials: Credentials) -> None:
        self._values[account] = credentials

    def load(self, account: str) -> Credentials | None:
        return self._values.get(account)

    def delete(self, account: str) -> None:
        self._values.pop(account, None)


class Secrets:
    """The app's view: the keyring first, the session memory for accounts the user chose to keep there."""

    def __init__(self, keyring_store: KeyringSecrets | None = None) -> None:
        self.keyring = keyring_store or KeyringSecrets()
        self.session = SessionSecrets()

    def keyring_problem(self) -> str | None:
        """Why secrets cannot be kept in the keyring, with how to fix it; None when they can.

        Only the backend is judged here (a locked collection shows when it is used)."""
        try:
            self.keyring.check()
        except KeyringUnavailableError as exc:
            return str(exc)
        except Exception as exc:  # a broken keyring installation is one more "no keyring"
            return f"The keyring cannot be used ({type(exc).__name__}). {how_to_fix()}"
        return None

    async def keyring_problem_async(self) -> str | None:
        try:
            result: str | None = await self._off_thread(self.keyring_problem)
        except KeyringUnavailableError as exc:
            return str(exc)
        return result

    def is_session_only(self, account: str) -> bool:
        """The user chose to keep this account's secrets in memory (no keyring)."""
        return self.session.load(account) is not None

    def rename(self, old: str, new: str) -> None:
        """Move an account's secrets to its new name (the entry is keyed by the name)."""
        if old == new:
            return
        credentials = self.load(old)
        if credentials is None:
            return
        self.save(new, credentials, session_only=self.is_session_only(old))
        self.delete(old)

    def save(self, account: str, credentials: Credentials, *, session_only: bool = False) -> None:
        if session_only:
            self.session.save(account, credentials)
            return
        self.keyring.save(account, credentials)
        self.session.delete(account)

    def load(self, account: str) -> Credentials | None:
        held = self.session.load(account)
        if held is not None:
            return held
        return self.keyring.load(account)

    def delete(self, account: str) -> None:
        self.session.delete(account)
        if self.keyring_problem() is None:
            self.keyring.delete(account)

    async def _off_thread(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run `fn` on its own daemon thread: a call that hangs on a locked keyring is abandoned
        after the timeout and can neither block later calls nor keep the app from quitting."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def settle(ok: bool, value: Any) -> None:
            if future.done():
                return
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

        def work() -> None:
            try:
                value, ok = fn(*args, **kwargs), True
            except BaseException as exc:  # handed to the awaiting task, raised there
                value, ok = exc, False
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
                loop.call_soon_threadsafe(settle, ok, value)

        threading.Thread(target=work, name="keyring-call", daemon=True).start()
        try:
            return await asyncio.wait_for(future, KEYRING_TIMEOUT_S)
        except TimeoutError as exc:
            raise KeyringUnavailableError(
                "The keyring did not answer within 10 seconds; it may be locked and waiting for a "
                "password prompt. Unlock it and try again."
            ) from exc

    async def save_async(self, account: str, credentials: Credentials, *, session_only: bool = False) -> None:
        await self._off_thread(self.save, account, credentials, session_only=session_only)

    async def load_async(self, account: str) -> Credentials | None:
        result: Credentials | None = await self._off_thread(self.load, account)
        return result

    async def delete_async(self, account: str) -> None:
        await self._off_thread(self.delete, account)

    async def rename_async(self, old: str, new: str) -> None:
        await self._off_thread(self.rename, old, new)


_shared: Secrets | None = None


def shared_secrets() -> Secrets:
    """The app's one `Secrets`: "for this session only" memory must be the same for every window
    and dialog of the process."""
    global _shared
    if _shared is None:
        _shared = Secrets()
    return _shared


def set_shared_secrets(secrets: Secrets | None) -> None:
    """Tests put an in-memory keyring here; None goes back to the OS keyring on next use."""
    global _shared
    _shared = secrets
