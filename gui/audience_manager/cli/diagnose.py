"""`audience-manager diagnose`: what this installation is made of, for bug reports and package checks.

It prints versions, the data directory and the keyring backends that load, and never a secret. The
Linux package's smoke test reads it to prove the keyring backends made it into the bundle.
"""

from __future__ import annotations

import argparse
import platform
import sys
from importlib.metadata import PackageNotFoundError, version

from audience_manager import __version__
from audience_manager.cli.common import EXIT_OK, Streams, Subcommands
from audience_manager.store import paths
from audience_manager.store.secrets import is_secure


def add_command(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "diagnose", help="print versions, the data directory and the keyring backends"
    )
    parser.set_defaults(handler=diagnose)


def _qt_version() -> str:
    """Read from the installed metadata: the commands never import Qt."""
    for dist in ("PySide6-Essentials", "PySide6"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return "not installed"


def diagnose(_args: argparse.Namespace, streams: Streams) -> int:
    import keyring
    from keyring.backend import get_all_keyring

    chosen = keyring.get_keyring()
    loaded = sorted(f"{type(b).__module__}.{type(b).__name__}" for b in get_all_keyring())
    lines = [
        f"audience-manager {__version__}",
        f"python: {platform.python_version()} ({sys.executable})",
        f"platform: {platform.platform()}",
        f"PySide6: {_qt_version()}",
        f"data directory: {paths.data_dir()}",
        f"keyring backends: {', '.join(loaded) or 'none'}",
        f"keyring in use: {type(chosen).__module__}.{type(chosen).__name__}"
        f" ({'secure' if is_secure(chosen) else 'NOT usable: tokens can be kept for the session only'})",
    ]
    streams.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK
