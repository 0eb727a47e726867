"""Account › Accounts…: add, edit, test and remove accounts; and what the main window needs to offer
them (the switcher's entries, the "no keyring" banner).

Saving always tests first, so an account in the list is one that worked: the dialog says who the
credential belongs to, or exactly what is wrong. Secrets go to the OS keyring only; with no working
keyring the dialog says how to fix it and offers to keep them in memory for this session. Every
keyring call and every request runs as a task on the qasync loop (keyring calls on their own
threads with a timeout), so a locked keyring or a slow network never freezes the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from audience_manager.api.oauth import OAuthConfig, SignInError, sign_in
from audience_manager.core.accounts import Account, Credentials
from audience_manager.core.secret_text import InvalidSecretError
from audience_manager.store.accounts import AccountBook, SettingsError
from audience_manager.store.connections import ConnectionCheckError, check_account, open_account
from audience_manager.store.paths import settings_path
from audience_manager.store.secrets import KeyringUnavailableError, Secrets, shared_secrets
from audience_manager.ui.account_form import AccountForm
from audience_manager.ui.background import Background, in_worker
from audience_manager.ui.icons import icon

log = logging.getLogger(__name__)

# The demo accounts offered beside the saved ones, and what serves them: given by the composition
# root (`app.py`), so the window never imports the simulated platforms. It receives the sandbox and
# transport already open (or None) and returns (sandbox, transport, the accounts with credentials).
DemoAccounts = Callable[
    [Any, httpx.AsyncBaseTransport | None],
    Awaitable[tuple[Any, httpx.AsyncBaseTransport, list[tuple[Account, Credentials]]]],
]
_demo_accounts: DemoAccounts | None = None


def provide_demo_accounts(source: DemoAccounts | None) -> None:
    """Set where `offer_saved_accounts` gets the demo accounts (None: offer none)."""
    global _demo_accounts
    _demo_accounts = source


SIGN_IN_TIMEOUT_S = 300.0
NO_KEYRING_TITLE = "Tokens cannot be saved: no secure keyring."
SESSION_ONLY_TEXT = "Use for this session only (kept in memory, forgotten when the app quits)"


def _tinted(frame: QFrame, role: QPalette.ColorRole) -> None:
    tint = frame.palette().color(role)
    rgb = f"{tint.red()}, {tint.green()}, {tint.blue()}"
    frame.setStyleSheet(
        f"#{frame.objectName()} {{ background: rgba({rgb}, 38); border: 1px solid rgba({rgb}, 120); "
        "border-radius: 6px; }"
    )


class KeyringBanner(QFrame):
    """ "No secure keyring": what happened, how to fix it, and the session-only way out.

    In the dialog it carries the "use for this session only" box; in the main window a button that
    opens the dialog (`session_requested`)."""

    session_requested = Signal()

    def __init__(self, parent: QWidget | None = None, *, with_checkbox: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("keyringBanner")
        self.title = QLabel(f"<b>{self.tr(NO_KEYRING_TITLE)}</b>", self)
        self.text = QLabel(self)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.session_box = QCheckBox(self.tr(SESSION_ONLY_TEXT), self)
        self.session_box.setVisible(with_checkbox)
        self.session_button = QPushButton(self.tr("Enter to&kens for this session…"), self)
        self.session_button.setVisible(not with_checkbox)
        self.session_button.clicked.connect(self.session_requested)
        mark = QLabel(self)
        mark.setPixmap(icon("warning", self.palette().color(QPalette.ColorRole.Text)).pixmap(22, 22))
        mark.setAlignment(Qt.AlignmentFlag.AlignTop)
        words = QVBoxLayout()
        words.setSpacing(4)
        words.addWidget(self.title)
        words.addWidget(self.text)
        words.addWidget(self.session_box)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(10)
        layout.addWidget(mark)
        layout.addLayout(words, 1)
        layout.addWidget(self.session_button, 0, Qt.AlignmentFlag.AlignVCenter)
        _tinted(self, QPalette.ColorRole.Highlight)
        self.setVisible(False)

    def show_problem(self, problem: str | None) -> None:
        self.text.setText(problem or "")
        self.setVisible(problem is not None)
        if problem is None:
            self.session_box.setChecked(False)


class AccountsDialog(QDialog):
    """Signals report what happened (tests wait on them; the window reloads on `accounts_changed`)."""

    accounts_changed = Signal(str)  # the name to select afterwards ("" when one was removed)
    verified = Signal(str)  # the "belongs to" text
    check_failed = Signal(str)
    signed_in = Signal()
    keyring_checked = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        secrets: Secrets | None = None,
        book: AccountBook | None = None,
        open_browser: Callable[[str], object] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Accounts"))
        self.setModal(True)
        self.secrets = secrets or shared_secrets()
        self.book = book
        self.transport = transport  # tests route requests in-process; None is the network
        self._open_browser = open_browser or (lambda url: QDesktopServices.openUrl(QUrl(url)))
        self.background = Background(on_error=self._fail)
        self.keyring_problem: str | None = None
        self.busy = False

        self.banner = KeyringBanner(self)
        self.list = QListWidget(self)
        self.list.setIconSize(QSize(20, 20))
        self.list.setMinimumWidth(220)
        self.list.setSpacing(2)
        self.add_button = QPushButton(icon("add"), self.tr("Add"), self)
        self.remove_button = QPushButton(icon("clear"), self.tr("Remove"), self)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel(self.tr("Saved accounts"), self))
        left_layout.addWidget(self.list, 1)
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(self.add_button)
        buttons_row.addWidget(self.remove_button)
        buttons_row.addStretch(1)
        left_layout.addLayout(buttons_row)

        self.form = AccountForm(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setMinimumHeight(44)
        self.status.setContentsMargins(0, 6, 0, 0)
        self.status.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(8, 0, 0, 0)
        right_layout.setSpacing(12)
        right_layout.addWidget(self.form)
        right_layout.addWidget(self.status)
        right_layout.addStretch(1)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([240, 520])

        self.buttons = QDialogButtonBox(self)
        self.test_button = self.buttons.addButton(
            self.tr("Test connection"), QDialogButtonBox.ButtonRole.ActionRole
        )
        self.save_button = self.buttons.addButton(
            self.tr("Test and save"), QDialogButtonBox.ButtonRole.ApplyRole
        )
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.save_button.setDefault(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        layout.setSpacing(12)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.buttons)
        self.resize(820, 520)

        self.list.currentItemChanged.connect(self._selected)
        self.add_button.clicked.connect(self.add_action)
        self.remove_button.clicked.connect(self.remove_action)
        self.test_button.clicked.connect(self.test_action)
        self.save_button.clicked.connect(self.save_action)
        self.close_button.clicked.connect(self.reject)
        self.form.sign_in_requested.connect(self.sign_in_action)
        self.form.edited.connect(self._clear_status)

        self._reload_list()
        self.add_action()
        self._spawn(self._check_keyring())

    # -- the list ---------------------------------------------------------------------------

    def _book(self) -> AccountBook:
        if self.book is None:
            self.book = AccountBook(settings_path())
        return self.book

    def _reload_list(self, select: str = "") -> None:
        self.list.blockSignals(True)
        self.list.clear()
        try:
            accounts = self._book().accounts()
        except SettingsError as exc:
            accounts = []
            self._say(str(exc), error=True)
        for account in accounts:
            item = QListWidgetItem(icon("account"), f"{account.name}\n{account.platform.label}")
            item.setData(Qt.ItemDataRole.UserRole, account.name)
            item.setToolTip(account.location_id or account.base_url)
            self.list.addItem(item)
            if account.name == select:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.remove_button.setEnabled(self.list.currentItem() is not None)

    def _selected(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None = None) -> None:
        self.remove_button.setEnabled(item is not None)
        if item is None:
            return
        account = self._book().get(str(item.data(Qt.ItemDataRole.UserRole)))
        if account is not None:
            self.form.show_account(account, session_only=self.secrets.is_session_only(account.name))
            self._say(self.tr("Change what you need; leave a secret empty to keep the saved one."))

    def select_account(self, name: str) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == name:
                self.list.setCurrentItem(item)

    def add_action(self) -> None:
        self.list.clearSelection()
        self.list.setCurrentRow(-1)
        self.form.clear()
        self._say(self.tr("Choose the kind of account, name it and paste its credential."))
        self.form.name_edit.setFocus()

    # -- keyring ----------------------------------------------------------------------------

    async def _check_keyring(self) -> None:
        self.keyring_problem = await self.secrets.keyring_problem_async()
        self.banner.show_problem(self.keyring_problem)
        self.keyring_checked.emit()

    @property
    def session_only(self) -> bool:
        return self.keyring_problem is not None and self.banner.session_box.isChecked()

    # -- actions ----------------------------------------------------------------------------

    def test_action(self) -> asyncio.Task[Any] | None:
        return self._run(self._test(save=False))

    def save_action(self) -> asyncio.Task[Any] | None:
        return self._run(self._test(save=True))

    def sign_in_action(self) -> asyncio.Task[Any] | None:
        return self._run(self._sign_in())

    def remove_action(self) -> QMessageBox | None:
        item = self.list.currentItem()
        if item is None:
            return None
        name = str(item.data(Qt.ItemDataRole.UserRole))
        box = QMessageBox(
            QMessageBox.Icon.Question,
            self.tr("Remove account"),
            self.tr(
                "Remove {0}? Its token is deleted from the keyring; jobs already run stay in History."
            ).format(name),
            QMessageBox.StandardButton.Cancel,
            self,
        )
        remove = box.addButton(self.tr("Remove"), QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: button is remove and self._run(self._remove(name)))
        self.remove_box, self.remove_confirm = box, remove
        box.open()
        return box

    # -- the work ---------------------------------------------------------------------------

    async def _credentials_for(self, account: Account) -> Credentials | None:
        """What was typed, completed by the saved secrets of the account being edited."""
        typed = self.form.typed_credentials()
        editing = self.form.editing
        if editing is None:
            return typed
        saved = await self.secrets.load_async(editing.name)
        if saved is None:
            return typed
        if typed is None:
            return saved
        if account.kind.signs_in:
            return typed
        return Credentials(token=typed.token or saved.token, secret=typed.secret or saved.secret)

    async def _test(self, *, save: bool) -> None:
        account = self.form.account()
        editing = self.form.editing
        if save and (editing is None or editing.name != account.name) and self._book().get(account.name):
            self._fail(
                self.tr("An account called {0} already exists; choose another name.").format(account.name)
            )
            return
        try:
            credentials = await self._credentials_for(account)
        except KeyringUnavailableError as exc:
            self._fail(self.tr("The saved token cannot be read: {0}").format(exc))
            return
        except InvalidSecretError as exc:  # a line break or a non-ASCII character; never the value
            self._fail(str(exc))
            return
        if credentials is None:
            credentials = Credentials(token="")
        self._say(self.tr("Testing the connection to {0}…").format(account.base_url))
        try:
            info = await check_account(account, credentials, transport=self.transport)
        except ConnectionCheckError as exc:
            self._fail(str(exc))
            return
        belongs = self.tr("Verified: this {0} belongs to {1}").format(
            self.form.kind.token_label or self.tr("sign-in"), info.name
        ) + (f" ({info.detail})" if info.detail else "")
        if not save:
            self._say("✓ " + belongs + ".", good=True)
            self.verified.emit(belongs)
            return
        if self.keyring_problem is not None and not self.session_only:
            self._fail(
                self.tr(
                    'Not saved: there is no secure keyring. Tick "use for this session only" '
                    "above to keep the token in memory until the app quits."
                )
                + " "
                + self.tr("(The token itself works: it belongs to {0}.)").format(info.name)
            )
            return
        try:
            await self.secrets.save_async(account.name, credentials, session_only=self.session_only)
            if editing is not None and editing.name != account.name:
                await self.secrets.delete_async(editing.name)
        except KeyringUnavailableError as exc:
            self.keyring_problem = str(exc)
            self.banner.show_problem(self.keyring_problem)
            self._fail(self.tr("Not saved: {0}").format(exc))
            return
        book = self._book()
        await in_worker(lambda: book.put(account, replacing=editing.name if editing else None))
        where = (
            self.tr("in memory for this session") if self.session_only else self.tr("in the system keyring")
        )
        self._reload_list(select=account.name)
        self.form.show_account(account, session_only=self.session_only)
        self._say("✓ " + belongs + ". " + self.tr("Saved; the secret is {0}.").format(where), good=True)
        self.verified.emit(belongs)
        self.accounts_changed.emit(account.name)

    async def _sign_in(self) -> None:
        account = self.form.account()
        if not account.oauth_client_id:
            self._fail(
                self.tr("Enter the OAuth client ID of your Kit app first (Kit › Settings › Developer).")
            )
            return
        self._say(self.tr("Waiting for you to sign in to Kit in your browser…"))
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=30) as http:
                credentials = await sign_in(
                    OAuthConfig.for_account(account), self._open_browser, http=http, timeout=SIGN_IN_TIMEOUT_S
                )
        except SignInError as exc:
            self._fail(str(exc))
            return
        self.form.set_signed_in(credentials)
        self._say(self.tr("Signed in to Kit. Press “Test and save” to keep this account."), good=True)
        self.signed_in.emit()

    async def _remove(self, name: str) -> None:
        try:
            await self.secrets.delete_async(name)
        except KeyringUnavailableError as exc:
            self._fail(
                self.tr("Not removed: the token could not be deleted from the keyring: {0}").format(exc)
            )
            return
        book = self._book()
        await in_worker(book.remove, name)
        self._reload_list()
        self.add_action()
        self._say(self.tr("Removed {0} and its keyring entry.").format(name), good=True)
        self.accounts_changed.emit("")

    # -- plumbing ---------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[Any] | None:
        if self.busy:
            coro.close()
            return None
        self._set_busy(True)

        async def guarded() -> None:
            try:
                await coro
            except Exception as exc:  # shown in the dialog, never a crash
                log.warning("accounts dialog: %s", type(exc).__name__)
                self._fail(self.tr("Something went wrong: {0}").format(type(exc).__name__))
            finally:
                self._set_busy(False)

        return self._spawn(guarded())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[Any]:
        return self.background.spawn(coro)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for button in (self.test_button, self.save_button, self.add_button, self.form.sign_in_button):
            button.setEnabled(not busy)
        self.remove_button.setEnabled(not busy and self.list.currentItem() is not None)
        self.list.setEnabled(not busy)

    def _say(self, text: str, *, good: bool = False, error: bool = False) -> None:
        self.status.setText(text)
        if error:
            self.status.setStyleSheet("color: palette(link-visited);")
        elif good:
            self.status.setStyleSheet("font-weight: 600;")
        else:
            self.status.setStyleSheet("")

    def _fail(self, text: str) -> None:
        self._say("✗ " + text, error=True)
        self.check_failed.emit(text)

    def _clear_status(self) -> None:
        if not self.busy and self.status.text().startswith(("✓", "✗")):
            self._say("")

    def done(self, result: int) -> None:
        self.background.cancel_all()
        super().done(result)


# --------------------------------------------------------------------------- the main window's side


async def offer_saved_accounts(
    workspace: Any, secrets: Secrets | None = None, *, select: str = "", always: bool = False
) -> bool:
    """Put the saved accounts (secrets from the keyring, off the GUI thread) in the switcher, followed
    by the demo accounts, which stay available. False, leaving the workspace as it is, when nothing
    is saved (unless `always`: after the last account was removed)."""
    from audience_manager.ui.workspace import AccountEntry

    secrets = secrets or shared_secrets()
    try:
        saved = await in_worker(lambda: AccountBook(settings_path()).accounts())
    except SettingsError as exc:
        log.warning("%s", exc)
        saved = []
    if not saved and not always:
        return False
    entries = []
    for account in saved:
        credentials = None
        with contextlib.suppress(KeyringUnavailableError):  # shown when the account is opened
            credentials = await secrets.load_async(account.name)
        entries.append(AccountEntry(account, credentials))  # type: ignore[arg-type]
    sandbox: Any = None
    # The demo accounts keep the transport they were opened with (an open one stays usable).
    transport: httpx.AsyncBaseTransport | None = getattr(workspace, "demo_transport", None)
    if _demo_accounts is not None:
        sandbox, transport, demo = await _demo_accounts(workspace.sandbox, transport)
        workspace.demo_transport = transport
        entries += [AccountEntry(a, c) for a, c in demo]

    def factory(account: Account, credentials: Credentials | None) -> Any:
        if account.demo:
            from audience_manager.api.clients import open_platform

            return open_platform(account, credentials, transport=transport)  # type: ignore[arg-type]
        if credentials is None:
            raise RuntimeError(
                "its token is not available: the keyring is locked or missing, or the token was not saved. "
                "Open Account › Accounts… to enter it again."
            )
        return open_account(account, credentials, secrets)

    current = workspace.current.account.name if workspace.current is not None else ""
    wanted = select or current
    index = next((i for i, e in enumerate(entries) if e.account.name == wanted), 0)
    workspace.set_entries(
        entries,
        factory,
        demo=not saved,
        sandbox=sandbox,
        on_close=transport.aclose if transport is not None else None,
        select=index,
    )
    return True


async def keyring_trouble(workspace: Any, secrets: Secrets | None = None) -> str | None:
    """The banner's text when saved accounts cannot get their secrets from the keyring, else None."""
    if not any(not e.account.demo for e in workspace.entries):
        return None
    return await (secrets or shared_secrets()).keyring_problem_async()
