"""CHANGELOG.md as data: AppStream `<release>` entries and a Debian changelog.

    python packaging/changelog.py appstream          # the <releases> element, for the metainfo
    python packaging/changelog.py debian PACKAGE     # debian/changelog format (gzip it for the .deb)
    python packaging/changelog.py version            # the top entry's version

Entries are `## VERSION - YYYY-MM-DD` headings followed by `- item` lines (an item may wrap onto
indented lines). Stdlib only, so every build recipe can run it with any Python 3.11+.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

CHANGELOG = Path(__file__).resolve().parent.parent / "CHANGELOG.md"
HEADING = re.compile(r"^## \[?(?P<version>[0-9][^\]\s]*)\]? - (?P<date>\d{4}-\d{2}-\d{2})\s*$")
MAINTAINER = "Audience Manager developers <audience-manager@users.noreply.github.com>"


@dataclass(frozen=True)
class Release:
    version: str
    date: dt.date
    items: tuple[str, ...]


def releases(text: str | None = None) -> list[Release]:
    text = CHANGELOG.read_text(encoding="utf-8") if text is None else text
    found: list[Release] = []
    current: tuple[str, dt.date] | None = None
    items: list[str] = []

    def close() -> None:
        if current is not None:
            found.append(Release(current[0], current[1], tuple(items)))

    for line in text.splitlines():
        match = HEADING.match(line)
        if match:
            close()
            current = (match["version"], dt.date.fromisoformat(match["date"]))
            items = []
        elif current is not None and line.startswith("- "):
            items.append(line[2:].strip())
        elif current is not None and items and line.startswith("  ") and line.strip():
            items[-1] += " " + line.strip()
        elif line.startswith("## "):
            raise ValueError(f"CHANGELOG.md: a heading is not '## VERSION - YYYY-MM-DD': {line!r}")
    close()
    if not found:
        raise ValueError("CHANGELOG.md has no release")
    return found


def appstream(entries: list[Release]) -> str:
    lines = ["<releases>"]
    for rel in entries:
        lines.append(f'    <release version="{escape(rel.version)}" date="{rel.date.isoformat()}">')
        lines.append("      <description>")
        lines.append("        <ul>")
        lines += [f"          <li>{escape(_plain(item))}</li>" for item in rel.items]
        lines.append("        </ul>")
        lines.append("      </description>")
        lines.append("    </release>")
    lines.append("  </releases>")
    return "\n".join(lines)


def debian(entries: list[Release], package: str) -> str:
    out = []
    for rel in entries:
        when = dt.datetime.combine(rel.date, dt.time(12, 0), tzinfo=dt.UTC)
        out.append(f"{package} ({rel.version}) stable; urgency=medium\n")
        for item in rel.items:
            out.append(_wrap(_plain(item)))
        out.append(f"\n -- {MAINTAINER}  {when.strftime('%a, %d %b %Y %H:%M:%S %z')}\n")
    return "\n".join(out)


def _plain(item: str) -> str:
    return item.replace("`", "")


def _wrap(text: str, width: int = 76) -> str:
    lines, line = [], "  *"
    for word in text.split():
        if len(line) + 1 + len(word) > width:
            lines.append(line)
            line = "    " + word
        else:
            line += " " + word
    lines.append(line)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    entries = releases()
    if argv[:1] == ["appstream"]:
        print(appstream(entries))
    elif argv[:1] == ["debian"] and len(argv) == 2:
        print(debian(entries, argv[1]), end="")
    elif argv[:1] == ["version"]:
        print(entries[0].version)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
