"""The Accounts dialog against the sandbox on loopback, with an in-memory keyring: a new user adds
a Kit API-key account and a HighLevel account, sees them verified, runs a job on each from the
window, restarts and finds them; OAuth sign-in end to end; no keyring: says what to do and still
works for the session."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import keyring.backends.fail
import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from audience_manager.core.actions import Action, TargetKind
from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.server import serve
from audience_manager.store.accounts import AccountBook
from audience_manager.store.paths import settings_path
from audience_manager.store.secrets import SERVICE, KeyringSecrets, Secrets, set_shared_secrets
from audience_manager.ui.accounts_dialog import AccountsDialog, offer_saved_accounts
from audience_manager.ui.main_window import MainWindow
from audience_manager.ui.workspace import Workspace
from tests.store.memory_keyring import MemoryKeyring

# The picture in resources/screenshots is refreshed only on request (SCREENSHOTS_DIR=resources/screenshots):
# a test run must not change the source tree.
SCREENSHOTS_DIR = os.environ.get("SCREENSHOTS_DIR", "")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, str]]:
    sb = Sandbox(subscribers=400, contacts=120)
    with serve(sb) as url:
        yield sb, url


@pytest.fixture
def backend() -> Iterator[MemoryKeyring]:
    memory = MemoryKeyring()
    set_shared_secrets(Secrets(KeyringSecrets(memory)))
    yield memory
    set_shared_secrets(None)


def fill(
    dialog: AccountsDialog,
    kind: int,
    name: str,
    token: str,
    *,
    base_url: str,
    secret: str = "",
    location: str = "",
) -> None:
    form = dialog.form
    dialog.add_action()
    form.kind_box.setCurrentIndex(kind)
    form.name_edit.setText(name)
    form.token_edit.setText(token)
    form.secret_edit.setText(secret)
    form.location_edit.setText(location)
    form.advanced_box.setChecked(True)
    form.base_url_edit.setText(base_url)


def save(qtbot: QtBot, dialog: AccountsDialog) -> str:
    with qtbot.waitSignal(dialog.verified, timeout=10000) as blocker:
        dialog.save_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    return str(blocker.args[0])


def make_window(qtbot: QtBot, home: Path) -> MainWindow:
    workspace = Workspace(journal_path=home / "journal.sqlite3")
    window = MainWindow(workspace, QSettings(str(home / "window.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    return window


def close_window(qtbot: QtBot, window: MainWindow) -> None:
    closing = asyncio.ensure_future(window.workspace.aclose())
    qtbot.waitUntil(closing.done, timeout=5000)


def run_job_in(qtbot: QtBot, window: MainWindow, ids: list[str], tag_id: str) -> tuple[str, Any]:
    ws = window.workspace
    qtbot.waitUntil(lambda: bool(ws.catalog) and not ws.catalog_busy, timeout=10000)
    assert not ws.catalog_error
    window.audience_panel.paste_action("\n".join(ids))
    qtbot.waitUntil(
        lambda: window.audience_panel.audience is not None and not window.audience_panel.busy, timeout=5000
    )
    window.action_bar.set_action(Action.TAG)
    window.catalog_panel.set_checked(TargetKind.TAG, {tag_id})
    dialog = window.run_action()
    assert dialog is not None, window.run_blocker()
    with qtbot.waitSignal(window.job_finished, timeout=20000) as blocker:
        dialog.run_button.click()
    return str(blocker.args[1]), window.results_panel.model.counts()


@pytest.mark.slow  # two jobs and a restart: 3 to 7 s on a shared machine
def test_a_new_user_adds_kit_and_highlevel_runs_jobs_restarts_and_finds_them(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    served: tuple[Sandbox, str],
    backend: MemoryKeyring,
    tmp_path: Path,
) -> None:
    sb, url = served
    c = sb.credentials
    home = Path(str(settings_path().parent))
    window = make_window(qtbot, home)
    dialog = window.open_accounts_action()
    qtbot.waitSignal(dialog.keyring_checked, timeout=5000)
    assert not dialog.banner.isVisible()

    fill(dialog, 0, "Shop", c.kit_api_key, base_url=url)
    said = save(qtbot, dialog)
    assert "Sandbox Demo Co." in said and "owner@sandbox-demo.example" in said
    fill(dialog, 3, "Agency", c.highlevel_token, base_url=url, location=c.highlevel_location)
    said = save(qtbot, dialog)
    assert "Sandbox Demo Studio" in said
    assert dialog.list.count() == 2
    dialog.form.advanced_box.setChecked(False)
    qtbot.wait(300)  # let the layout settle and the clear button fade before the picture
    picture = dialog.grab()
    assert not picture.isNull() and picture.width() > 400
    if SCREENSHOTS_DIR:
        picture.save(str(Path(SCREENSHOTS_DIR) / "accounts-dialog.png"))

    # The switcher lists both, then the demo accounts.
    qtbot.waitUntil(lambda: len(window.workspace.entries) == 6, timeout=5000)
    names = [e.account.name for e in window.workspace.entries]
    assert names[:2] == ["Shop", "Agency"] and all(e.account.demo for e in window.workspace.entries[2:])
    # The first account opened (nothing was open); adding the second one did not switch to it.
    assert window.workspace.current is not None and window.workspace.current.account.name == "Shop"
    assert "Agency is saved. Choose it in the account list" in window.statusBar().currentMessage()
    dialog.close()

    # A job on each account, through the window's own Run path.
    contacts = sb.known_contact_ids(4)
    ws = window.workspace
    window.catalog_panel.account_box.setCurrentIndex(1)  # the user picks Agency
    qtbot.waitUntil(lambda: ws.current is not None and ws.current.account.name == "Agency", timeout=5000)
    qtbot.waitUntil(lambda: bool(ws.catalog) and not ws.catalog_busy, timeout=10000)
    assert not ws.catalog_error
    hl_tag = window.workspace.catalog[TargetKind.TAG][0]
    state, counts = run_job_in(qtbot, window, contacts, hl_tag.id)
    assert state == "finished" and counts.get("succeeded", 0) + counts.get("unchanged", 0) == 4
    window.workspace.switch_account(0)
    qtbot.waitUntil(lambda: getattr(window.workspace.current, "account", None) is not None, timeout=5000)
    assert window.workspace.current is not None and window.workspace.current.account.name == "Shop"
    tag, _ = sb.state.kit.create_tag("Added from the dialog test")
    qtbot.waitUntil(lambda: not window.workspace.catalog_busy, timeout=10000)
    window.workspace.refresh_catalog()
    qtbot.waitUntil(lambda: not window.workspace.catalog_busy, timeout=10000)
    state, counts = run_job_in(qtbot, window, [str(i) for i in sb.known_subscriber_ids(3)], str(tag.id))
    assert state == "finished" and counts.get("succeeded") == 3
    close_window(qtbot, window)

    # Restart: a new window and workspace find both accounts with their tokens.
    again = make_window(qtbot, home)
    offered = asyncio.ensure_future(offer_saved_accounts(again.workspace))
    qtbot.waitUntil(offered.done, timeout=10000)
    assert offered.result() is True
    assert [e.account.name for e in again.workspace.entries][:2] == ["Shop", "Agency"]
    qtbot.waitUntil(lambda: bool(again.workspace.catalog), timeout=10000)
    assert not again.workspace.catalog_error
    close_window(qtbot, again)

    # The tokens are in the keyring and nowhere on disk.
    stored = {k[1]: json.loads(v) for k, v in backend.entries.items() if k[0] == SERVICE}
    assert stored["Shop"]["token"] == c.kit_api_key and stored["Agency"]["token"] == c.highlevel_token
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (c.kit_api_key, c.highlevel_token):
                assert secret.encode() not in data, path


def test_a_wrong_token_says_what_is_wrong_and_nothing_is_saved(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    served: tuple[Sandbox, str],
    backend: MemoryKeyring,
) -> None:
    sb, url = served
    dialog = AccountsDialog(book=AccountBook(settings_path()))
    qtbot.addWidget(dialog)
    dialog.show()
    fill(
        dialog, 3, "Agency", "pit-wrong-token-0000", base_url=url, location=sb.credentials.highlevel_location
    )
    with qtbot.waitSignal(dialog.check_failed, timeout=10000) as blocker:
        dialog.save_button.click()
    assert "invalid" in blocker.args[0] and "Private Integrations" in blocker.args[0]
    assert "pit-wrong-token-0000" not in dialog.status.text()
    other = next(loc for loc in sb.state.highlevel.locations if loc != sb.credentials.highlevel_location)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    fill(dialog, 3, "Agency", sb.credentials.highlevel_token, base_url=url, location=other)
    with qtbot.waitSignal(dialog.check_failed, timeout=10000) as blocker:
        dialog.test_button.click()
    assert other in blocker.args[0]
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    assert backend.entries == {} and dialog.list.count() == 0


def test_edit_keeps_the_saved_secret_and_remove_deletes_it(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    served: tuple[Sandbox, str],
    backend: MemoryKeyring,
) -> None:
    sb, url = served
    c = sb.credentials
    dialog = AccountsDialog(book=AccountBook(settings_path()))
    qtbot.addWidget(dialog)
    dialog.show()
    fill(dialog, 2, "Legacy", c.kit_v3_key, secret=c.kit_v3_secret, base_url=url)
    save(qtbot, dialog)
    dialog.select_account("Legacy")
    assert dialog.form.token_edit.text() == ""  # never read back into a widget
    dialog.form.name_edit.setText("Legacy list")
    save(qtbot, dialog)  # the secret is taken from the keyring, the entry follows the new name
    assert [k[1] for k in backend.entries] == ["Legacy list"]
    assert [a.name for a in AccountBook(settings_path()).accounts()] == ["Legacy list"]

    box = dialog.remove_action()
    assert box is not None
    with qtbot.waitSignal(dialog.accounts_changed, timeout=5000):
        dialog.remove_confirm.click()
    assert backend.entries == {} and AccountBook(settings_path()).accounts() == []


def test_oauth_sign_in_end_to_end(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    served: tuple[Sandbox, str],
    backend: MemoryKeyring,
) -> None:
    sb, url = served
    opened: list[str] = []
    followers: list[asyncio.Future[None]] = []

    def browser(address: str) -> None:
        opened.append(address)

        async def follow() -> None:
            async with httpx.AsyncClient(follow_redirects=True) as client:
                await client.get(address)

        followers.append(asyncio.ensure_future(follow()))

    dialog = AccountsDialog(book=AccountBook(settings_path()), open_browser=browser)
    qtbot.addWidget(dialog)
    dialog.show()
    form = dialog.form
    form.kind_box.setCurrentIndex(1)
    assert not form.token_edit.isVisible() and form.client_id_edit.isVisible()
    form.name_edit.setText("Shop (OAuth)")
    form.client_id_edit.setText(sb.credentials.oauth_client_id)
    form.advanced_box.setChecked(True)
    form.base_url_edit.setText(url)
    form.authorize_url_edit.setText(f"{url}/oauth/authorize")
    form.token_url_edit.setText(f"{url}/oauth/token")
    with qtbot.waitSignal(dialog.signed_in, timeout=10000):
        form.sign_in_button.click()
    assert opened and "code_challenge=" in opened[0]
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    said = save(qtbot, dialog)
    assert "Sandbox Demo Co." in said
    stored = json.loads(backend.entries[(SERVICE, "Shop (OAuth)")])
    assert stored["refresh_token"].startswith("sbx_kit_rt_") and stored["expires_at"] > 0
    saved = AccountBook(settings_path()).get("Shop (OAuth)")
    assert saved is not None and saved.oauth_client_id == sb.credentials.oauth_client_id
    assert saved.oauth_token_url == f"{url}/oauth/token"


def test_no_keyring_says_what_to_do_and_works_for_the_session(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    served: tuple[Sandbox, str],
) -> None:
    sb, url = served
    secrets = Secrets(KeyringSecrets(keyring.backends.fail.Keyring()))  # type: ignore[no-untyped-call]
    set_shared_secrets(secrets)
    try:
        home = Path(str(settings_path().parent))
        window = make_window(qtbot, home)
        dialog = window.open_accounts_action()
        qtbot.waitUntil(lambda: dialog.banner.isVisible(), timeout=5000)
        assert "gnome-keyring" in dialog.banner.text.text()
        assert "keyring.backends" not in dialog.banner.text.text()  # no class names for a marketer
        fill(dialog, 0, "Shop", sb.credentials.kit_api_key, base_url=url)
        with qtbot.waitSignal(dialog.check_failed, timeout=10000) as blocker:
            dialog.save_button.click()
        assert "session only" in blocker.args[0]
        # Refused, so it does not open with "Verified"; that the token works is said after.
        assert dialog.status.text().startswith("✗ Not saved") and "Verified" not in dialog.status.text()
        qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
        dialog.banner.session_box.setChecked(True)
        said = save(qtbot, dialog)
        assert "in memory for this session" in dialog.status.text() and "Sandbox Demo Co." in said
        assert secrets.is_session_only("Shop")
        # The form says where the token is: this session's memory, not the keyring.
        assert dialog.form.token_edit.placeholderText().startswith("kept for this session only")
        qtbot.waitUntil(
            lambda: bool(window.workspace.entries) and window.workspace.entries[0].account.name == "Shop",
            timeout=5000,
        )
        qtbot.waitUntil(
            lambda: bool(window.workspace.catalog) and not window.workspace.catalog_busy, timeout=10000
        )
        assert not window.workspace.catalog_error
        qtbot.waitUntil(window.keyring_banner.isVisible, timeout=5000)  # the window says so too
        assert "keyring.backends" not in window.keyring_banner.text.text()
        # On a demo account the banner about saved accounts' tokens steps aside.
        box = window.catalog_panel.account_box
        box.setCurrentIndex(next(i for i in range(box.count()) if "Demo" in box.itemText(i)))
        qtbot.waitUntil(lambda: window.workspace.current.account.demo, timeout=5000)
        qtbot.waitUntil(lambda: not window.keyring_banner.isVisible(), timeout=5000)
        dialog.close()
        close_window(qtbot, window)
        assert sb.credentials.kit_api_key.encode() not in settings_path().read_bytes()
    finally:
        set_shared_secrets(None)


def test_a_refused_refresh_asks_to_sign_in_again_and_the_job_is_retried(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    served: tuple[Sandbox, str],
    backend: MemoryKeyring,
) -> None:
    from audience_manager.core.outcomes import Outcome

    sb, url = served
    followers: list[asyncio.Future[None]] = []

    def browser(address: str) -> None:
        async def follow() -> None:
            async with httpx.AsyncClient(follow_redirects=True) as client:
                await client.get(address)

        followers.append(asyncio.ensure_future(follow()))

    tag, _ = sb.state.kit.create_tag("Retried after signing in again")
    home = Path(str(settings_path().parent))
    window = make_window(qtbot, home)
    dialog = AccountsDialog(window, open_browser=browser)
    dialog.accounts_changed.connect(
        lambda name: window._spawn(offer_saved_accounts(window.workspace, select=name, always=True))
    )
    dialog.show()
    form = dialog.form
    form.kind_box.setCurrentIndex(1)
    form.name_edit.setText("Bulk")
    form.client_id_edit.setText(sb.credentials.oauth_client_id)
    form.advanced_box.setChecked(True)
    form.base_url_edit.setText(url)
    form.authorize_url_edit.setText(f"{url}/oauth/authorize")
    form.token_url_edit.setText(f"{url}/oauth/token")
    with qtbot.waitSignal(dialog.signed_in, timeout=10000):
        form.sign_in_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    save(qtbot, dialog)
    ws = window.workspace
    box = window.catalog_panel.account_box
    qtbot.waitUntil(lambda: any("Bulk" in box.itemText(i) for i in range(box.count())), timeout=5000)
    box.setCurrentIndex(next(i for i in range(box.count()) if "Bulk" in box.itemText(i)))
    qtbot.waitUntil(lambda: ws.current is not None and ws.current.account.name == "Bulk", timeout=5000)
    qtbot.waitUntil(lambda: bool(ws.catalog) and not ws.catalog_busy, timeout=10000)

    # The sign-in is revoked elsewhere: its access token expires now and its refresh token is spent.
    stored = json.loads(backend.entries[(SERVICE, "Bulk")])
    sb.oauth.refresh_tokens[stored["refresh_token"]] = False
    ids = [str(i) for i in sb.known_subscriber_ids(6)]
    sb.faults.expire_token_after = sb.oauth.access_tokens[stored["token"]].uses  # the next request fails
    try:
        _state, counts = run_job_in(qtbot, window, ids, str(tag.id))
    finally:
        sb.faults.expire_token_after = None
    failed = [o for o in window.results_panel.model.outcomes() if o.outcome is Outcome.FAILED]
    assert failed and len(failed) + counts.get(Outcome.SUCCEEDED, 0) == 6  # every row has its outcome
    assert "Sign in to Kit again" in failed[0].reason
    assert stored["refresh_token"] not in failed[0].reason

    # Sign in again in the dialog; the switcher reopens the account; Retry failed finishes the job.
    dialog.select_account("Bulk")
    with qtbot.waitSignal(dialog.signed_in, timeout=10000):
        form.sign_in_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    with qtbot.waitSignal(ws.account_switched, timeout=10000):  # reopened with the new sign-in
        save(qtbot, dialog)
        dialog.close()
    qtbot.waitUntil(lambda: ws.platform is not None and not ws.catalog_busy, timeout=10000)
    task = window.retry_failed_action(failed)
    assert task is not None
    qtbot.waitUntil(task.done, timeout=5000)
    confirm = task.result()
    assert confirm is not None
    with qtbot.waitSignal(window.job_finished, timeout=20000):
        confirm.run_button.click()
    assert window.results_panel.model.counts().get(Outcome.FAILED, 0) == 0
    close_window(qtbot, window)



def test_a_locked_keyring_is_explained_and_the_session_only_way_works(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, served: tuple[Sandbox, str]
) -> None:
    import keyring.errors

    class LockedKeyring(MemoryKeyring):  # type: ignore[misc]
        def set_password(self, service: str, username: str, password: str) -> None:
            raise keyring.errors.KeyringLocked("collection is locked")

    sb, url = served
    secrets = Secrets(KeyringSecrets(LockedKeyring()))
    dialog = AccountsDialog(secrets=secrets, book=AccountBook(settings_path()))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitSignal(dialog.keyring_checked, timeout=5000)
    assert not dialog.banner.isVisible()  # the backend looks fine until it is used
    fill(dialog, 0, "Shop", sb.credentials.kit_api_key, base_url=url)
    with qtbot.waitSignal(dialog.check_failed, timeout=10000) as blocker:
        dialog.save_button.click()
    assert "locked" in blocker.args[0] and "unlock" in blocker.args[0]
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    assert dialog.banner.isVisible() and dialog.list.count() == 0
    dialog.banner.session_box.setChecked(True)
    save(qtbot, dialog)
    assert secrets.is_session_only("Shop") and dialog.list.count() == 1


def test_the_window_banner_opens_the_dialog_ready_for_this_session(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, served: tuple[Sandbox, str]
) -> None:
    from audience_manager.core.accounts import Account
    from audience_manager.core.platforms import AuthKind, PlatformKind

    set_shared_secrets(Secrets(KeyringSecrets(keyring.backends.fail.Keyring())))  # type: ignore[no-untyped-call]
    try:
        AccountBook(settings_path()).put(Account("Shop", PlatformKind.KIT_V4, AuthKind.API_KEY))
        window = make_window(qtbot, Path(str(settings_path().parent)))
        offered = asyncio.ensure_future(offer_saved_accounts(window.workspace))
        qtbot.waitUntil(offered.done, timeout=10000)
        qtbot.waitUntil(window.keyring_banner.isVisible, timeout=5000)
        qtbot.waitUntil(lambda: bool(window.workspace.catalog_error), timeout=5000)
        assert "Accounts" in window.workspace.catalog_error  # the saved account says where to fix it
        window.keyring_banner.session_button.click()
        dialog = window.accounts_dialog
        assert dialog is not None and dialog.isVisible()
        assert dialog.banner.session_box.isChecked()
        assert dialog.list.currentItem() is not None  # the account to complete is selected
        dialog.close()
        close_window(qtbot, window)
    finally:
        set_shared_secrets(None)
