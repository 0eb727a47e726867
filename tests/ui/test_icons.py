"""Every icon the window asks for ships in the package and follows the palette's text colour."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from PySide6.QtGui import QColor

from audience_manager.ui.icons import app_icon, icon, svg_text

UI = Path(__file__).resolve().parents[2] / "gui" / "audience_manager" / "ui"


def test_every_icon_named_in_the_ui_exists(qapp) -> None:
    names = set()
    for source in UI.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        names |= set(re.findall(r"\bicon\(\s*\"([a-z_-]+)\"", text))
        names |= set(re.findall(r"\bthemed\(.*, \"([a-z_-]+)\"\)", text))
    names |= {"tag", "form", "field"}  # the catalog tabs name theirs in a table
    assert {"run", "preview", "import"} <= names
    for name in names:
        assert not icon(name).isNull(), name


def test_icons_are_packaged_as_data(qapp) -> None:
    folder = resources.files("audience_manager").joinpath("resources", "icons")
    assert folder.joinpath("tag.svg").is_file()
    assert "currentColor" in svg_text("tag")  # painted in the palette's colour, not a fixed one
    assert not app_icon().isNull()


def test_an_icon_takes_the_colour_it_is_given(qapp) -> None:
    image = icon("add", QColor("#ff0000")).pixmap(48, 48).toImage()
    colours = {
        image.pixelColor(x, y).name()
        for x in range(48)
        for y in range(48)
        if image.pixelColor(x, y).alpha() == 255
    }
    assert colours == {"#ff0000"}
