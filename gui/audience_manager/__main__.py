"""`audience-manager` and `python -m audience_manager`: a command runs headless, anything else opens the app.

The GUI is imported only when it is wanted, so scripts and servers without Qt can run every command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from audience_manager.cli import wants_cli

    if wants_cli(args):
        from audience_manager.child_env import restore_for_children
        from audience_manager.cli import main as cli_main

        restore_for_children()  # frozen: the browser `accounts add --auth oauth` opens gets the user's

        return cli_main(args)
    try:
        from audience_manager.app import main as gui_main
    except ImportError as exc:
        sys.stderr.write(
            f"audience-manager: error: the desktop app cannot start ({exc}). "
            "Commands still work: audience-manager --help\n"
        )
        return 2
    return int(gui_main(args))


if __name__ == "__main__":
    sys.exit(main())
