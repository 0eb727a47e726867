"""Help › About: the version a user quotes in a bug report, and what the app is for."""

from __future__ import annotations

import platform
import sys

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from audience_manager import __version__
from audience_manager.ui.icons import app_icon


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
        licence = QLabel(self.tr("Free software under the MIT licence."), self)
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
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)
