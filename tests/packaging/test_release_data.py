"""One version (pyproject → installed metadata → CHANGELOG's top entry → AppStream, Debian), one
application id (desktop file, window, icon, AppStream, WM class), notices generated for Qt's LGPL."""

from __future__ import annotations

import configparser
import importlib.util
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

from audience_manager import __version__

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"
APP_ID = "io.github.audiencemanager.AudienceManager"
MAIN_CATEGORIES = {
    "AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics", "Network",
    "Office", "Science", "Settings", "System", "Utility",
}  # fmt: skip


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "packaging" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_version_comes_from_one_place_and_the_changelog_names_it() -> None:
    changelog = load("changelog")
    version = pyproject()["project"]["version"]
    assert __version__ == version  # the installed metadata, read at run time
    top = changelog.releases()[0]
    assert top.version == version, "CHANGELOG.md's top entry must be the version in pyproject.toml"
    assert top.items, "the top release says what changed"


def test_appstream_releases_have_descriptions() -> None:
    changelog = load("changelog")
    xml = changelog.appstream(changelog.releases())
    releases = ET.fromstring(xml)
    first = releases[0]
    assert first.get("version") == __version__ and first.get("date")
    assert first.findall("./description/ul/li")
    template = (LINUX / f"{APP_ID}.metainfo.xml").read_text()
    component = ET.fromstring(template.replace("@RELEASES@", xml))
    assert component.findtext("id") == APP_ID
    assert component.find("releases/release/description") is not None


def test_the_debian_changelog_is_in_debians_format() -> None:
    changelog = load("changelog")
    text = changelog.debian(changelog.releases(), "audience-manager")
    assert text.startswith(f"audience-manager ({__version__}) stable; urgency=medium\n")
    assert "\n -- Audience Manager developers <" in text


def test_one_application_id_everywhere() -> None:
    from audience_manager import app

    desktop = configparser.ConfigParser(interpolation=None)
    desktop.optionxform = str  # type: ignore[assignment,method-assign]
    path = LINUX / f"{APP_ID}.desktop"
    desktop.read(path)
    entry = desktop["Desktop Entry"]
    assert app.APP_ID == APP_ID == path.stem
    assert entry["Icon"] == APP_ID
    assert entry["StartupWMClass"] == APP_ID
    metainfo = ET.parse(LINUX / f"{APP_ID}.metainfo.xml").getroot()
    assert metainfo.findtext("id") == APP_ID
    assert metainfo.findtext("launchable") == f"{APP_ID}.desktop"
    build = (ROOT / "packaging" / "build-linux.sh").read_text()
    assert f"APP_ID={APP_ID}" in build and "$APP_ID.png" in build and "$APP_ID.svg" in build
    spec = (ROOT / "packaging" / "audience-manager.spec").read_text()
    assert f'APP_ID = "{APP_ID}"' in spec


def test_the_desktop_file_offers_only_what_the_app_reads_in_one_main_category() -> None:
    from audience_manager.ui.audience_panel import FILE_SUFFIXES

    desktop = configparser.ConfigParser(interpolation=None)
    desktop.read(LINUX / f"{APP_ID}.desktop")
    entry = desktop["Desktop Entry"]
    assert entry["Exec"].endswith(" %F")
    mime = {m for m in entry["MimeType"].split(";") if m}
    readable = {
        ".csv": "text/csv",
        ".tsv": "text/tab-separated-values",
        ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    assert set(readable) <= set(FILE_SUFFIXES)
    assert mime == set(readable.values())
    categories = [c for c in entry["Categories"].split(";") if c]
    assert len([c for c in categories if c in MAIN_CATEGORIES]) == 1


def test_third_party_notices_come_from_the_installed_distributions() -> None:
    notices = load("third_party_notices")
    names = {notices.normalize(d.metadata["Name"]) for d in notices.runtime_closure()}
    wanted = {notices.normalize(r.split(";")[0].split(">")[0].split("<")[0].split("=")[0].strip())
              for r in pyproject()["project"]["dependencies"]}  # fmt: skip
    assert wanted <= names
    text = notices.notices()
    assert "PySide6_Essentials" in text or "PySide6-Essentials" in text
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text and "Version 3, 29 June 2007" in text
    assert "httpx" in text and "BSD-3-Clause" in text
    assert "ICU (International Components for Unicode)" in text  # inside the Qt wheel, no licence file


def test_pyproject_has_the_spdx_licence_and_a_setuptools_that_reads_it() -> None:
    data = pyproject()
    assert data["project"]["license"] == "MIT"
    assert data["project"]["license-files"] == ["LICENSE"]
    assert any(r.replace(" ", "").startswith("setuptools>=77") for r in data["build-system"]["requires"])
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
