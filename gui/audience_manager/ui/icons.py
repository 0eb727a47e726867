"""The app's icons, drawn from the SVG files shipped in the package.

The monochrome icons are written with `currentColor` and painted here in the palette's text colour,
so they stay legible in both light and dark themes. They are rendered at several sizes (and at the
screen's pixel ratio) instead of scaling a bitmap, so they stay crisp.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TypeVar

from PySide6.QtCore import QByteArray, QObject, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 20, 24, 32, 48)
T = TypeVar("T")


@cache
def svg_text(name: str) -> str:
    """The raw SVG of icon `name` (without `.svg`); raises FileNotFoundError for an unknown name."""
    return (
        resources.files("audience_manager").joinpath("resources", "icons", f"{name}.svg").read_text("utf-8")
    )


def _render(svg: bytes, size: int, ratio: float) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg))
    side = round(size * ratio)
    pixmap = QPixmap(side, side)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, side, side))
    painter.end()
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


def icon(name: str, color: QColor | None = None) -> QIcon:
    """Icon `name` in `color` (default: the palette's text colour; disabled state in the dimmed one)."""
    app = QGuiApplication.instance()
    palette = QGuiApplication.palette() if app else QPalette()
    ratio = (
        QGuiApplication.primaryScreen().devicePixelRatio() if app and QGuiApplication.primaryScreen() else 1.0
    )
    normal = color or palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    text = svg_text(name)
    result = QIcon()
    for mode, tint in ((QIcon.Mode.Normal, normal), (QIcon.Mode.Disabled, disabled)):
        svg = text.replace("currentColor", tint.name()).encode("utf-8")
        for size in SIZES:
            result.addPixmap(_render(svg, size, ratio), mode)
    return result


ICON_PROPERTY = "themedIcon"


def themed(widget: T, name: str) -> T:
    """Give `widget` (a button or an action) icon `name`, repainted by `retint` when the theme changes."""
    widget.setIcon(icon(name))  # type: ignore[attr-defined]
    widget.setProperty(ICON_PROPERTY, name)  # type: ignore[attr-defined]
    return widget


def retint(root: QObject) -> int:
    """Repaint every `themed` icon under `root` in the palette's current text colour; returns how many."""
    count = 0
    for child in root.findChildren(QObject):
        name = child.property(ICON_PROPERTY)
        if isinstance(name, str) and name and hasattr(child, "setIcon"):
            child.setIcon(icon(name))
            count += 1
    return count


def app_icon() -> QIcon:
    """The window and tray icon (full colour, the same in every theme)."""
    svg = svg_text("app").encode("utf-8")
    result = QIcon()
    for size in (*SIZES, 64, 128, 256):
        result.addPixmap(_render(svg, size, 1.0))
    return result


def icon_size() -> QSize:
    return QSize(18, 18)
