"""Secrets live only in a secure keyring; an insecure or missing one is refused with a way out."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import textwrap

import keyring.backends.fail
import pytest

from audience_manager.core.accounts import Credentials
from audience_manager.store.secrets import (
    SERVICE,
    KeyringSecrets,
    KeyringUnavailableError,
    Secrets,
    is_secure,
)

from .memory_keyring import MemoryKeyring

FAIL = keyring.backends.fail.Keyring()  # type: ignore[no-untyped-call]
CREDS = Credentials(token="tok-123-secret", secret="sec-456", refresh_token="ref-789", expires_at=42.0)


def test_round_trip_is_one_entry_per_account() -> None:
    backend = MemoryKeyring()
    store = KeyringSecrets(backend)
    store.save("Shop", CREDS)
    assert list(backend.entries) == [(SERVICE, "Shop")]
    assert store.load("Shop") == CREDS
    store.delete("Shop")
    assert store.load("Shop") is None
    store.delete("Shop")  # deleting twice is not an error


def test_fail_backend_is_refused_with_instructions() -> None:
    store = KeyringSecrets(FAIL)
    assert not is_secure(FAIL)
    with pytest.raises(KeyringUnavailableError, match="keyring"):
        store.save("Shop", CREDS)


def test_plaintext_backend_is_not_secure() -> None:
    plain = type("PlaintextKeyring", (MemoryKeyring,), {"__module__": "keyrings.alt.file"})()
    assert not is_secure(plain)


def test_session_only_keeps_the_token_in_memory() -> None:
    secrets = Secrets(KeyringSecrets(FAIL))
    assert secrets.keyring_problem() is not None
    secrets.save("Shop", CREDS, session_only=True)
    assert secrets.load("Shop") == CREDS
    secrets.delete("Shop")
    with pytest.raises(KeyringUnavailableError):  # gone from memory, and there is no keyring to ask
        secrets.load("Shop")


def test_credentials_repr_hides_secrets() -> None:
    assert "tok-123-secret" not in repr(CREDS)
    assert "sec-456" not in repr(CREDS)


def test_a_hung_keyring_times_out_instead_of_freezing(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import audience_manager.store.secrets as secrets_module

    release = threading.Event()

    class HungKeyring(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            release.wait(5)
            return None

    monkeypatch.setattr(secrets_module, "KEYRING_TIMEOUT_S", 0.2)
    secrets = Secrets(KeyringSecrets(HungKeyring()))
    with pytest.raises(KeyringUnavailableError, match="did not answer"):
        asyncio.run(secrets.load_async("Shop"))
    release.set()


@pytest.mark.keyring
@pytest.mark.skipif(not shutil.which("dbus-run-session") or not shutil.which("gnome-keyring-daemon"),
                    reason="needs dbus-run-session and gnome-keyring (installed by .ci/run)")
def test_real_secret_service_round_trip(tmp_path: object) -> None:
    """Against a real gnome-keyring in its own D-Bus session and throwaway HOME."""
    home = os.fspath(tmp_path)  # type: ignore[call-overload]
    os.makedirs(os.path.join(home, ".cache"), exist_ok=True)
    script = textwrap.dedent(
        """
        import keyring
        from audience_manager.core.accounts import Credentials
        from audience_manager.store.secrets import KeyringSecrets, is_secure
        backend = keyring.get_keyring()
        assert is_secure(backend), backend
        store = KeyringSecrets(backend)
        creds = Credentials(token="real-token-xyz", secret="s")
        store.save("Real", creds)
        assert store.load("Real") == creds
        store.delete("Real")
        assert store.load("Real") is None
        print("backend", type(backend).__module__)
        """
    )
    env = {**os.environ, "HOME": home}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    result = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c",
         'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"',
         "sh", sys.executable, "-c", script],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "SecretService" in result.stdout
    assert "real-token-xyz" not in result.stdout + result.stderr


def test_a_locked_keyring_says_unlock_it() -> None:
    import keyring.errors

    class LockedKeyring(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise keyring.errors.KeyringLocked("collection is locked")

    with pytest.raises(KeyringUnavailableError, match="locked; unlock it"):
        KeyringSecrets(LockedKeyring()).save("Shop", CREDS)


def test_renaming_moves_the_entry_and_keeps_session_only_in_memory() -> None:
    backend = MemoryKeyring()
    secrets = Secrets(KeyringSecrets(backend))
    secrets.save("Shop", CREDS)
    secrets.rename("Shop", "Shop 2")
    assert list(backend.entries) == [(SERVICE, "Shop 2")]
    secrets.save("Memo", CREDS, session_only=True)
    secrets.rename("Memo", "Memo 2")
    assert secrets.is_session_only("Memo 2") and (SERVICE, "Memo 2") not in backend.entries


def test_a_hung_call_does_not_block_the_next_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import audience_manager.store.secrets as secrets_module

    release = threading.Event()
    calls: list[str] = []

    class SometimesHung(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            calls.append(username)
            if username == "Hung":
                release.wait(5)
            return super().get_password(service, username)

    monkeypatch.setattr(secrets_module, "KEYRING_TIMEOUT_S", 0.2)
    backend = SometimesHung()
    secrets = Secrets(KeyringSecrets(backend))
    secrets.save("Fine", CREDS)

    async def go() -> Credentials | None:
        with pytest.raises(KeyringUnavailableError):
            await secrets.load_async("Hung")
        return await secrets.load_async("Fine")  # not queued behind the hung call

    assert asyncio.run(go()) == CREDS
    release.set()
