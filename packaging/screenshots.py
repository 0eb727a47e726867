"""Render the window with a demo audience and with a finished job, as PNGs for the README and stores.

Runs the real app on the demo workspace and drives it like a user (drop a file, tick tags, Run,
confirm), then saves `QWidget.grab()` images. Works offscreen or on a display:

    python packaging/screenshots.py [OUT_DIR] [--dark]             # offscreen (default)
    Xvfb :99 -screen 0 1440x900x24 & DISPLAY=:99 QT_QPA_PLATFORM=xcb python packaging/screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("AUDIENCE_MANAGER_HOME", tempfile.mkdtemp(prefix="am-shots-"))

import qasync
from PySide6.QtGui import QColor, QPalette

from audience_manager.app import make_application, open_demo, settings
from audience_manager.core.actions import Action, TargetKind
from audience_manager.store.paths import journal_path
from audience_manager.ui.main_window import MainWindow
from audience_manager.ui.workspace import Workspace

OUT = Path(__file__).resolve().parents[1] / "resources" / "screenshots"
SIZE = (1360, 860)


async def wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        await asyncio.sleep(0.02)


def sample_csv(sandbox: object, folder: Path) -> Path:
    """A CRM export: names, an email column, a few typos and a repeat, like real ones."""
    people = [p for p in sandbox.state.kit.subscribers.values() if p.state == "active"][:40]  # type: ignore[attr-defined]
    lines = ["First name,Last name,Email,Subscriber ID,Signed up"]
    for person in people:
        last = person.fields.get("last_name") or ""
        lines.append(
            f"{person.first_name},{last},{person.email_address},{person.id},{person.created_at[:10]}"
        )
    lines.insert(7, "Dana,Reyes,dana.reyes@@example.com,,2024-03-02")
    lines.insert(12, "Sam,Okafor,sam okafor at example dot com,,2024-05-14")
    lines.append(lines[3])
    path = folder / "webinar-attendees.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def webinar_csv(sandbox: object, folder: Path) -> Path:
    """A webinar export: existing subscribers and new leads, each with a company and a plan, some blank."""
    people = [p for p in sandbox.state.kit.subscribers.values() if p.state == "active"][:30]  # type: ignore[attr-defined]
    lines = ["Email,First name,Company,Plan"]
    for n, person in enumerate(people):
        company = "" if n % 7 == 3 else f"{person.fields.get('last_name') or person.first_name} & Co"
        lines.append(f"{person.email_address},{person.first_name},{company},{'Pro' if n % 3 else 'Starter'}")
    lines += [f"lead{n}@webinar.example,Lead {n},New Co {n},Trial" for n in range(6)]
    path = folder / "webinar-export.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def shoot(window: MainWindow, out: Path, suffix: str = "") -> list[Path]:
    ws = window.workspace
    await wait_for(lambda: bool(ws.catalog) and not ws.catalog_busy)
    written = []
    csv = sample_csv(ws.sandbox, Path(os.environ["AUDIENCE_MANAGER_HOME"]))
    task = window.audience_panel.load_file(csv)
    if task is not None:
        await task
    await wait_for(lambda: window.audience_panel.audience is not None)
    tags = ws.catalog[TargetKind.TAG]
    window.action_bar.set_action(Action.TAG)
    window.catalog_panel.set_checked(TargetKind.TAG, {tags[1].id, tags[4].id})
    await asyncio.sleep(0.2)
    written.append(save(window, out / f"audience-loaded{suffix}.png"))

    dialog = window.run_action()
    assert dialog is not None, window.run_blocker()
    await asyncio.sleep(0.2)
    written.append(save(dialog, out / f"confirm-run{suffix}.png"))

    # A second audience with some ids the account does not have, to show failures and Retry.
    window.audience_panel.clear_action()
    known = [str(i) for i in ws.sandbox.known_subscriber_ids(60)]
    unknown = [str(i) for i in ws.sandbox.unknown_subscriber_ids(8)]
    mixed = known[:20] + unknown[:4] + known[20:45] + unknown[4:] + known[45:] + ["12ab", known[3]]
    dialog.reject()
    window.audience_panel.paste_action("\n".join(mixed))
    finished = asyncio.get_running_loop().create_future()
    window.job_finished.connect(lambda *a: finished.done() or finished.set_result(a))
    dialog = window.run_action()
    assert dialog is not None
    dialog.run_button.click()
    await asyncio.wait_for(finished, 60)
    panel = window.results_panel
    panel.outcome_combo.setCurrentIndex(panel.outcome_combo.findData("failed"))
    await asyncio.sleep(0.3)
    written.append(save(window, out / f"job-finished-with-failures{suffix}.png"))

    # Values from the file: a webinar export's columns mapped to custom fields, new people created.
    window.audience_panel.clear_action()
    webinar = webinar_csv(ws.sandbox, Path(os.environ["AUDIENCE_MANAGER_HOME"]))
    window.action_bar.set_action(Action.SET_FIELD)
    task = window.audience_panel.load_file(webinar)
    if task is not None:
        await task
    await wait_for(lambda: bool(window.audience_panel.mapping_combos))
    window.audience_panel.create_missing_box.setChecked(True)
    await asyncio.sleep(0.3)
    written.append(save(window, out / f"values-from-the-file{suffix}.png"))

    # History after both jobs: the one selected job, every outcome in people, at the default size.
    history = window.history_panel
    window.bottom_tabs.setCurrentWidget(history)
    await wait_for(lambda: history.model.rowCount() >= 1)
    history.select_job(history.model.job_at(0).id)
    await asyncio.sleep(0.3)
    written.append(save(window, out / f"history{suffix}.png"))
    return written


def save(widget: object, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(path)):  # type: ignore[attr-defined]
        raise OSError(f"could not write {path}")
    print(path)
    return path


def dark_palette() -> QPalette:
    """A dark theme like the desktops' (to check every colour comes from the palette)."""
    p = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, "#2b2b2e"),
        (QPalette.ColorRole.WindowText, "#e6e6e6"),
        (QPalette.ColorRole.Base, "#1f1f22"),
        (QPalette.ColorRole.AlternateBase, "#28282c"),
        (QPalette.ColorRole.Text, "#e6e6e6"),
        (QPalette.ColorRole.Button, "#35353a"),
        (QPalette.ColorRole.ButtonText, "#e6e6e6"),
        (QPalette.ColorRole.Highlight, "#3d7eff"),
        (QPalette.ColorRole.HighlightedText, "#ffffff"),
        (QPalette.ColorRole.ToolTipBase, "#35353a"),
        (QPalette.ColorRole.ToolTipText, "#e6e6e6"),
        (QPalette.ColorRole.Link, "#7aa7ff"),
        (QPalette.ColorRole.PlaceholderText, "#8a8a8f"),
        (QPalette.ColorRole.Light, "#505056"),
        (QPalette.ColorRole.Midlight, "#45454a"),
        (QPalette.ColorRole.Mid, "#3a3a3f"),
        (QPalette.ColorRole.Dark, "#18181a"),
        (QPalette.ColorRole.Shadow, "#000000"),
    ):
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7c7c80"))
    return p


def main(argv: list[str]) -> int:
    dark = "--dark" in argv
    argv = [a for a in argv if a != "--dark"]
    out = Path(argv[0]) if argv else OUT
    app = make_application(["screenshots"])
    if dark:
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    workspace = Workspace(journal_path=journal_path())
    window = MainWindow(workspace, settings())
    window.resize(*SIZE)
    window.show()
    open_demo(workspace)
    with loop:
        loop.run_until_complete(shoot(window, out, "-dark" if dark else ""))
        loop.run_until_complete(workspace.aclose())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
