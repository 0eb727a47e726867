"""Write THIRD-PARTY-NOTICES.txt from the installed distributions' own metadata.

Run it with the Python whose site-packages go into the bundle (the build venv):

    out/venv/bin/python packaging/third_party_notices.py out/THIRD-PARTY-NOTICES.txt

It walks audience-manager's runtime requirements (markers evaluated for this interpreter), and for
each distribution writes its name, version, licence (License-Expression, License, or the licence
classifiers) and the text of every licence file the distribution ships. Qt for Python
(PySide6-Essentials, shiboken6) ships no licence file, so the LGPL-3.0 text and the GPL-3.0 text it
builds on come from packaging/licenses/. The Python interpreter's own licence closes the file.
Nothing in it is written by hand: a new or upgraded dependency shows up on the next build.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

HERE = Path(__file__).resolve().parent
ROOT_DIST = "audience-manager"
# Licence texts a distribution names but does not ship.
QT_DISTS = {"pyside6-essentials", "shiboken6", "pyside6", "pyside6-addons"}
QT_TEXTS = (HERE / "licenses" / "LGPL-3.0.txt", HERE / "licenses" / "GPL-3.0.txt")
RULE = "=" * 78
# Libraries that a wheel carries inside it without a licence file of their own, found by file name:
# (file name prefix, component, licence, where its licence text is published).
EMBEDDED = (
    ("libicu", "ICU (International Components for Unicode)", "Unicode-3.0",
     "https://github.com/unicode-org/icu/blob/main/LICENSE"),
)  # fmt: skip


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(root: str = ROOT_DIST) -> list[Distribution]:
    """`root` and every distribution it needs at run time here, each once, sorted by name."""
    env = default_environment()
    seen: dict[str, Distribution] = {}
    todo = [root]
    while todo:
        name = normalize(todo.pop())
        if name in seen:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # an optional dependency that is not installed is not shipped either
        seen[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({**env, "extra": ""}):
                todo.append(req.name)
    return sorted(seen.values(), key=lambda d: normalize(d.metadata["Name"]))


def licence_of(dist: Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) < 120:
        return text
    classifiers = [
        c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")
    ]
    if classifiers:
        return "; ".join(classifiers)
    return "see the licence text below" if text else "UNKNOWN"


def licence_texts(dist: Distribution) -> Iterator[tuple[str, str]]:
    """(label, text) for each licence file the distribution ships, else the texts it names."""
    files = dist.metadata.get_all("License-File") or []
    found = False
    for rel in files:
        for candidate in (f"licenses/{rel}", rel):
            path = dist.locate_file(f"{_info_dir(dist)}/{candidate}")
            if Path(str(path)).is_file():
                found = True
                yield rel, Path(str(path)).read_text(encoding="utf-8", errors="replace")
                break
    if not found:
        for path in sorted({f for f in dist.files or [] if _looks_like_licence(str(f))}, key=str):
            found = True
            yield str(path), Path(str(dist.locate_file(path))).read_text(encoding="utf-8", errors="replace")
    components = embedded_components(dist)
    if components:
        yield "libraries inside it, which it ships no licence file for", "\n".join(components)
    if normalize(dist.metadata["Name"]) in QT_DISTS:
        for path in QT_TEXTS:
            yield path.name.replace(".txt", ""), path.read_text(encoding="utf-8")
    elif not found:
        text = (dist.metadata.get("License") or "").strip()
        if "\n" in text:
            yield "License (from the metadata)", text


def embedded_components(dist: Distribution) -> list[str]:
    """The libraries from EMBEDDED that this distribution's files include, with their versions."""
    found: dict[str, str] = {}
    for file in dist.files or []:
        name = str(file).rsplit("/", 1)[-1]
        for prefix, component, licence, url in EMBEDDED:
            match = re.match(re.escape(prefix) + r"[a-z0-9]*?(?:\.so\.(\d+)|(\d+)\.dll|\.(\d+)\.dylib)", name)
            if match:
                major = next(g for g in match.groups() if g)
                found[component] = f"{component} {major}: {licence}, {url}"
    return sorted(found.values())


def _info_dir(dist: Distribution) -> str:
    path = getattr(dist, "_path", None)
    return Path(str(path)).name if path is not None else ""


def _looks_like_licence(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].upper()
    return ".dist-info/" in path and name.startswith(("LICENSE", "LICENCE", "COPYING", "NOTICE"))


def python_licence() -> tuple[str, str] | None:
    for base in (
        Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}",
        Path(sys.base_prefix),
    ):
        path = base / "LICENSE.txt"
        if path.is_file():
            return f"Python {sys.version.split()[0]}", path.read_text(encoding="utf-8", errors="replace")
    return None


def notices(root: str = ROOT_DIST) -> str:
    dists = [d for d in runtime_closure(root) if normalize(d.metadata["Name"]) != normalize(root)]
    out = [
        "Audience Manager: third-party notices",
        "",
        "Audience Manager is MIT-licensed (see LICENSE). Its packages include the software below,",
        "each under its own licence. Qt and Qt for Python (PySide6) are used under the GNU Lesser",
        "General Public License v3 (LGPL-3.0-only): they are shipped as unmodified shared libraries",
        "that you may replace with your own build of the same version. Their source code is at",
        "https://code.qt.io and https://download.qt.io/official_releases/QtForPython/.",
        "",
        "Generated from the installed distributions' metadata by packaging/third_party_notices.py.",
        "",
    ]
    width = max(len(d.metadata["Name"]) for d in dists)
    vwidth = max(len(d.version) for d in dists)
    for dist in dists:
        out.append(f"  {dist.metadata['Name']:<{width}}  {dist.version:<{vwidth}}  {licence_of(dist)}")
    py = python_licence()
    if py:
        out.append(f"  {'Python':<{width}}  {sys.version.split()[0]:<{vwidth}}  PSF-2.0")
    for dist in dists:
        out += ["", RULE, f"{dist.metadata['Name']} {dist.version}: {licence_of(dist)}", RULE]
        home = dist.metadata.get("Home-page") or _project_url(dist)
        if home:
            out.append(f"Home: {home}")
        for label, text in licence_texts(dist):
            out += ["", f"--- {label} ---", "", text.rstrip()]
    if py:
        out += ["", RULE, f"{py[0]}: PSF-2.0 (the interpreter inside the bundle)", RULE, "", py[1].rstrip()]
    return "\n".join(out) + "\n"


def _project_url(dist: Distribution) -> str:
    for entry in dist.metadata.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in {"homepage", "home", "source", "repository", "source code"}:
            return url.strip()
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write them (e.g. out/THIRD-PARTY-NOTICES.txt)")
    args = parser.parse_args(argv)
    text = notices()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.out}: {len(text.splitlines())} lines, {text.count(RULE) // 2} distributions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
