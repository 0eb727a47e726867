"""Help › About: the version a user quotes in a bug report, what the app is for, its licence and the
third-party notices every package ships (Qt's LGPL among them)."""

from __future__ import annotations

import platform
import sys

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from audience_manager import __version__
from audience_manager.store.paths import notices_path
from audience_manager.ui.icons import app_icon

NO_NOTICES = (
    "The third-party notices are written when the packages are built "
    "(packaging/third_party_notices.py). Qt and Qt for Python (PySide6) are used under the "
    "GNU Lesser General Public License v3."
)


def notices_text() -> str:
    path = notices_path()
    if path is None:
        return NO_NOTICES
    return path.read_text(encoding="utf-8", errors="replace")


class NoticesDialog(QDialog):
    """The licences of everything the package ships, read-only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Third-party notices"))
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlainText(notices_text())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(720, 560)


def version_text() -> str:
    py = ".".join(map(str, sys.version_info[:3]))
    system = platform.system()
    versions = f"Python {py} · PySide6 {PySide6.__version__} · Qt {qVersion()} · {system}"
    return f"Audience Manager {__version__}\n{versions}"


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("About Audience Manager"))
        logo = QLabel(self)
        logo.setPixmap(app_icon().pixmap(64, 64))
        logo.setAlignment(Qt.AlignmentFlag.AlignTop)
        title = QLabel(self.tr("Audience Manager {0}").format(__version__), self)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        title.setFont(font)
        blurb = QLabel(
            self.tr(
                "Tag, untag, add to forms and set custom fields for thousands of Kit and HighLevel "
                "subscribers at once, with every row's outcome shown, exported and retried."
            ),
            self,
        )
        blurb.setWordWrap(True)
        self.versions = QLabel(version_text(), self)
        self.versions.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.versions.setEnabled(False)
        licence = QLabel(self.tr("Free software under the MIT licence. Qt is used under the LGPL-3.0."), self)
        licence.setWordWrap(True)
        self.notices_dialog: NoticesDialog | None = None
        text = QVBoxLayout()
        text.addWidget(title)
        text.addWidget(blurb)
        text.addWidget(self.versions)
        text.addWidget(licence)
        text.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(logo)
        top.addSpacing(12)
        top.addLayout(text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.notices_button = QPushButton(self.tr("Third-party notices…"), self)
        buttons.addButton(self.notices_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.notices_button.clicked.connect(self.show_notices_action)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)

    def show_notices_action(self) -> None:
        self.notices_dialog = NoticesDialog(self)
        self.notices_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.notices_dialog.open()
