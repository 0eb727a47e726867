"""The fields of one account: which kind it is, its name, its credential, and the settings that kind
needs (a location for HighLevel, a client id for Kit sign-in). Layout only; the dialog decides what
to do with what is typed.

Secret fields are never filled from the keyring: an account being edited shows "saved in the
keyring" as a placeholder, and an empty field means "keep the saved one".
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from audience_manager.core.accounts import (
    DEFAULT_BASE_URLS,
    KIT_OAUTH_AUTHORIZE_URL,
    KIT_OAUTH_TOKEN_URL,
    Account,
    Credentials,
)
from audience_manager.core.platforms import AuthKind, PlatformKind


@dataclass(frozen=True)
class AccountKind:
    label: str
    platform: PlatformKind
    auth: AuthKind
    token_label: str
    token_help: str


KINDS = (
    AccountKind(
        "Kit — API key",
        PlatformKind.KIT_V4,
        AuthKind.API_KEY,
        "API key",
        "From Kit › Settings › Developer › API keys (v4).\nJobs send one request per subscriber.",
    ),
    AccountKind(
        "Kit — sign in with Kit (OAuth)",
        PlatformKind.KIT_V4,
        AuthKind.OAUTH,
        "",
        "Signs in through your browser, with your Kit app's client ID.\n"
        "Jobs send bulk requests of 100 subscribers.",
    ),
    AccountKind(
        "Kit API v3 (legacy) — API key and secret",
        PlatformKind.KIT_V3,
        AuthKind.LEGACY_KEY,
        "API key",
        "From Kit › Settings › Developer › API keys (v3):\nboth the API key and the API secret.",
    ),
    AccountKind(
        "HighLevel — Private Integration Token",
        PlatformKind.HIGHLEVEL,
        AuthKind.PRIVATE_TOKEN,
        "Private Integration Token",
        "From the sub-account's Settings › Private Integrations,\n"
        "with the contacts and locations/tags scopes.",
    ),
)


def kind_of(account: Account) -> int:
    for index, kind in enumerate(KINDS):
        if kind.platform is account.platform and kind.auth is account.auth:
            return index
    return 0


def _secret_edit(parent: QWidget) -> QLineEdit:
    edit = QLineEdit(parent)
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setClearButtonEnabled(True)
    edit.setMinimumWidth(320)
    return edit


class AccountForm(QWidget):
    """Signals: `sign_in_requested` (the Kit sign-in button), `edited` (any field changed)."""

    sign_in_requested = Signal()
    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editing: Account | None = None  # the saved account shown, None for a new one
        self.signed_in: Credentials | None = None  # from "Sign in with Kit", not saved yet

        self.kind_box = QComboBox(self)
        for kind in KINDS:
            self.kind_box.addItem(self.tr(kind.label))
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText(self.tr("e.g. Shop newsletter"))
        self.token_edit = _secret_edit(self)
        self.token_help = QLabel(self)
        self.token_help.setEnabled(False)  # drawn in the palette's muted text colour
        self.secret_edit = _secret_edit(self)
        self.location_edit = QLineEdit(self)
        self.location_edit.setPlaceholderText(self.tr("e.g. ve9EPM428h8vShlRW1KT"))
        self.client_id_edit = QLineEdit(self)
        self.client_id_edit.setPlaceholderText(self.tr("your Kit app's client id"))
        self.sign_in_button = QPushButton(self.tr("Sign in with Kit…"), self)
        self.sign_in_state = QLabel(self.tr("Not signed in"), self)
        self.sign_in_row = sign_in_row = QWidget(self)
        row = QHBoxLayout(sign_in_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.sign_in_button)
        row.addWidget(self.sign_in_state, 1)

        self.advanced_box = QCheckBox(self.tr("Show advanced settings"), self)
        self.base_url_edit = QLineEdit(self)
        self.authorize_url_edit = QLineEdit(self)
        self.authorize_url_edit.setPlaceholderText(KIT_OAUTH_AUTHORIZE_URL)
        self.token_url_edit = QLineEdit(self)
        self.token_url_edit.setPlaceholderText(KIT_OAUTH_TOKEN_URL)
        self.redirect_port_box = QSpinBox(self)
        self.redirect_port_box.setRange(0, 65535)
        self.redirect_port_box.setSpecialValueText(self.tr("any free port"))
        self.redirect_port_box.setToolTip(
            self.tr(
                "The sign-in comes back to http://127.0.0.1:PORT/callback. If your Kit app accepts "
                "only the redirect URI registered with it, enter that URI's port."
            )
        )

        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.form.setVerticalSpacing(10)
        self.form.setHorizontalSpacing(14)
        self.form.addRow(self.tr("Kind"), self.kind_box)
        self.form.addRow("", self.token_help)
        self.form.addRow(self.tr("Name"), self.name_edit)
        self.form.addRow(self.tr("API key"), self.token_edit)
        self.form.addRow(self.tr("API secret"), self.secret_edit)
        self.form.addRow(self.tr("Location ID"), self.location_edit)
        self.form.addRow(self.tr("OAuth client ID"), self.client_id_edit)
        self.form.addRow(self.tr("Kit account"), sign_in_row)
        self.form.addRow("", self.advanced_box)
        self.form.addRow(self.tr("Base URL"), self.base_url_edit)
        self.form.addRow(self.tr("Authorize URL"), self.authorize_url_edit)
        self.form.addRow(self.tr("Token URL"), self.token_url_edit)
        self.form.addRow(self.tr("Redirect port"), self.redirect_port_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.form)

        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        self.advanced_box.toggled.connect(lambda _: self._show_rows())
        self.sign_in_button.clicked.connect(self.sign_in_requested)
        for edit in (
            self.name_edit,
            self.token_edit,
            self.secret_edit,
            self.location_edit,
            self.client_id_edit,
            self.base_url_edit,
            self.authorize_url_edit,
            self.token_url_edit,
        ):
            edit.textEdited.connect(lambda _text: self.edited.emit())
        self.redirect_port_box.valueChanged.connect(lambda _value: self.edited.emit())
        self._kind_changed()

    # -- what is shown ----------------------------------------------------------------------

    @property
    def kind(self) -> AccountKind:
        return KINDS[max(self.kind_box.currentIndex(), 0)]

    def _kind_changed(self) -> None:
        kind = self.kind
        self.signed_in = None if self.editing is None else self.signed_in
        label = self.form.labelForField(self.token_edit)
        if isinstance(label, QLabel):
            label.setText(self.tr(kind.token_label or "API key"))
        self.token_help.setText(self.tr(kind.token_help))
        self.base_url_edit.setPlaceholderText(DEFAULT_BASE_URLS[kind.platform])
        self._show_rows()
        self._show_sign_in_state()
        self.edited.emit()

    def _show_rows(self) -> None:
        kind = self.kind
        oauth = kind.auth is AuthKind.OAUTH
        advanced = self.advanced_box.isChecked()
        self.form.setRowVisible(self.token_edit, not oauth)
        self.form.setRowVisible(self.secret_edit, kind.platform is PlatformKind.KIT_V3)
        self.form.setRowVisible(self.location_edit, kind.platform is PlatformKind.HIGHLEVEL)
        self.form.setRowVisible(self.client_id_edit, oauth)
        self.form.setRowVisible(self.sign_in_row, oauth)
        self.form.setRowVisible(self.base_url_edit, advanced)
        self.form.setRowVisible(self.authorize_url_edit, advanced and oauth)
        self.form.setRowVisible(self.token_url_edit, advanced and oauth)
        self.form.setRowVisible(self.redirect_port_box, advanced and oauth)

    def _show_sign_in_state(self) -> None:
        if self.signed_in is not None:
            self.sign_in_state.setText(self.tr("Signed in (not saved yet)"))
        elif self.editing is not None and self.editing.auth is AuthKind.OAUTH:
            self.sign_in_state.setText(self.tr("Signed in; the tokens are in the keyring"))
        else:
            self.sign_in_state.setText(self.tr("Not signed in"))

    def set_signed_in(self, credentials: Credentials | None) -> None:
        self.signed_in = credentials
        self._show_sign_in_state()
        self.edited.emit()

    # -- filling and reading ----------------------------------------------------------------

    def clear(self) -> None:
        """A blank form for a new account."""
        self.editing = None
        self.signed_in = None
        for edit in (self.name_edit, self.token_edit, self.secret_edit, self.location_edit):
            edit.clear()
        for edit in (self.client_id_edit, self.base_url_edit, self.authorize_url_edit, self.token_url_edit):
            edit.clear()
        self.redirect_port_box.setValue(0)
        self.kind_box.setEnabled(True)
        self._placeholders(saved=False)
        self._kind_changed()

    def show_account(self, account: Account, *, session_only: bool = False) -> None:
        """A saved account's settings; its secrets stay in the keyring."""
        self.editing = account
        self.signed_in = None
        self.kind_box.setCurrentIndex(kind_of(account))
        self.kind_box.setEnabled(False)  # another kind is another account
        self.name_edit.setText(account.name)
        self.token_edit.clear()
        self.secret_edit.clear()
        self.location_edit.setText(account.location_id)
        self.client_id_edit.setText(account.oauth_client_id)
        default_url = DEFAULT_BASE_URLS[account.platform]
        self.base_url_edit.setText("" if account.base_url == default_url else account.base_url)
        self.authorize_url_edit.setText(
            "" if account.oauth_authorize_url == KIT_OAUTH_AUTHORIZE_URL else account.oauth_authorize_url
        )
        self.token_url_edit.setText(
            "" if account.oauth_token_url == KIT_OAUTH_TOKEN_URL else account.oauth_token_url
        )
        self.redirect_port_box.setValue(account.oauth_redirect_port)
        if (
            self.base_url_edit.text()
            or self.authorize_url_edit.text()
            or self.token_url_edit.text()
            or account.oauth_redirect_port
        ):
            self.advanced_box.setChecked(True)
        self._placeholders(saved=True, session_only=session_only)
        self._kind_changed()

    def _placeholders(self, *, saved: bool, session_only: bool = False) -> None:
        kept = ""
        if saved:
            kept = (
                self.tr("kept for this session only (leave empty to keep it)")
                if session_only
                else self.tr("saved in the keyring (leave empty to keep it)")
            )
        self.token_edit.setPlaceholderText(kept or self.tr("paste it here"))
        self.secret_edit.setPlaceholderText(kept or self.tr("paste it here"))

    def account(self) -> Account:
        """The account as typed (no secrets)."""
        kind = self.kind
        oauth = kind.auth is AuthKind.OAUTH
        return Account(
            name=self.name_edit.text().strip(),
            platform=kind.platform,
            auth=kind.auth,
            base_url=self.base_url_edit.text().strip().rstrip("/"),
            location_id=self.location_edit.text().strip() if kind.platform is PlatformKind.HIGHLEVEL else "",
            oauth_client_id=self.client_id_edit.text().strip() if oauth else "",
            oauth_authorize_url=self.authorize_url_edit.text().strip() or KIT_OAUTH_AUTHORIZE_URL,
            oauth_token_url=self.token_url_edit.text().strip() or KIT_OAUTH_TOKEN_URL,
            oauth_redirect_port=self.redirect_port_box.value() if oauth else 0,
        )

    def typed_credentials(self) -> Credentials | None:
        """The secrets typed (or the fresh sign-in); None when nothing new was given."""
        if self.kind.auth is AuthKind.OAUTH:
            return self.signed_in
        token = self.token_edit.text().strip()
        secret = self.secret_edit.text().strip() if self.kind.platform is PlatformKind.KIT_V3 else ""
        if not token and not secret:
            return None
        return Credentials(token=token, secret=secret)
