"""Driving the real window in tests: open it on a demo sandbox, wait for jobs, drop files."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from audience_manager.core.outcomes import RowOutcome


def drop_files(target: QWidget, paths: list[Path], pos: QPoint | None = None) -> tuple[bool, bool]:
    """Synthetic drag enter, move and drop of local files (QDrag.exec cannot run offscreen).
    Returns (enter accepted, drop accepted)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point = pos or target.rect().center()
    act, btn, mod = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    where: QPoint | QPointF
    try:  # PySide6 >= 6.12 has QPointF overloads
        enter = QDragEnterEvent(QPointF(point), act, mime, btn, mod)
        where = QPointF(point)
    except TypeError:
        enter = QDragEnterEvent(point, act, mime, btn, mod)
        where = point
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False, False
    QApplication.sendEvent(target, QDragMoveEvent(where, act, mime, btn, mod))
    drop = QDropEvent(QPointF(point), act, mime, btn, mod)
    QApplication.sendEvent(target, drop)
    return True, drop.isAccepted()


def outcome_pairs(outcomes: list[RowOutcome]) -> list[tuple[int, str]]:
    return [(o.row, o.target) for o in outcomes]


def run_until(qtbot: object, task: asyncio.Future[object], timeout: int = 5000) -> object:
    qtbot.waitUntil(task.done, timeout=timeout)  # type: ignore[attr-defined]
    return task.result()
