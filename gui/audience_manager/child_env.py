"""The environment the programs we start (the browser for Kit sign-in, a file manager) should get:
the user's, not the bundle's.

A PyInstaller bundle changes its own environment before Python starts: the bootloader puts the
bundle's library folder first in LD_LIBRARY_PATH (Linux; LIBPATH on AIX) and keeps the user's value
in LD_LIBRARY_PATH_ORIG, and the PySide6 runtime hook points QT_PLUGIN_PATH and QML2_IMPORT_PATH into
the bundle (and, on Windows, puts the bundle first in PATH). Every program started from the app
inherits that: a browser then loads the bundle's libraries instead of the system's ("GLIBCXX not
found"), a Qt program our Qt plugins.

The app itself no longer needs those values once it runs: the dynamic loader read LD_LIBRARY_PATH
when the process started, and Qt read its plugin path when the QApplication was made. So
`restore_for_children()` puts the user's values back into `os.environ` (which Qt's and Python's
process launchers both read), once, at start: in the frozen app only, after the QApplication exists.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping

# Set by the bootloader, with the user's value saved under NAME + "_ORIG" (absent when it was unset).
SAVED_BY_BOOTLOADER = ("LD_LIBRARY_PATH", "LIBPATH")
# Set or extended by PyInstaller's runtime hooks without saving the old value: the entries that
# point into the bundle are dropped, the user's own entries kept.
POINTED_INTO_BUNDLE = ("QT_PLUGIN_PATH", "QML2_IMPORT_PATH", "PATH", "DYLD_LIBRARY_PATH")
# The bootloader's notes to itself (which process level, where its archive is): a frozen program
# started from the app would otherwise take itself for one of our own subprocesses.
BOOTLOADER_PRIVATE_PREFIXES = ("_PYI_", "_MEIPASS")


def bundle_dir() -> str | None:
    """The frozen app's folder of bundled files (sys._MEIPASS), or None when not frozen."""
    if not getattr(sys, "frozen", False):
        return None
    meipass = getattr(sys, "_MEIPASS", None)
    return str(meipass) if meipass else os.path.dirname(sys.executable)


def child_environment(environ: Mapping[str, str], bundle: str | None) -> dict[str, str]:
    """`environ` as the user had it before the bundle's bootloader and hooks changed it.

    `bundle` is the bundle's folder (see `bundle_dir`); with None, `environ` comes back unchanged.
    """
    env = dict(environ)
    if bundle is None:
        return env
    for name in SAVED_BY_BOOTLOADER:
        original = env.pop(f"{name}_ORIG", None)
        if original is not None:
            env[name] = original
        else:
            env.pop(name, None)
    root = os.path.normcase(os.path.abspath(bundle))
    for name in POINTED_INTO_BUNDLE:
        if name not in env:
            continue
        kept = [p for p in env[name].split(os.pathsep) if p and not _inside(p, root)]
        if kept:
            env[name] = os.pathsep.join(kept)
        else:
            del env[name]
    for name in [n for n in env if n.startswith(BOOTLOADER_PRIVATE_PREFIXES)]:
        del env[name]
    return env


def restore_for_children(environ: MutableMapping[str, str] | None = None, bundle: str | None = None) -> bool:
    """In the frozen app, make `environ` (default: os.environ) the user's again; True if it changed.

    Call it once the app's own libraries and plugins are loaded (after the QApplication exists).
    """
    target = os.environ if environ is None else environ
    bundle = bundle if bundle is not None else bundle_dir()
    if bundle is None:
        return False
    wanted = child_environment(target, bundle)
    changed = False
    for name in [n for n in target if n not in wanted]:
        del target[name]
        changed = True
    for name, value in wanted.items():
        if target.get(name) != value:
            target[name] = value
            changed = True
    return changed


def _inside(path: str, root: str) -> bool:
    path = os.path.normcase(os.path.abspath(path))
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
