"""Stopping a headless job cleanly on Ctrl+C, `kill` (SIGTERM) or a closed terminal (SIGHUP).

Each is handled like Cancel: requests in flight finish (or end cancelled, to be settled by a
resume), the rest end cancelled, the report is written and the job is marked in the journal. A
second signal stops at once (the handlers are removed after the first).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

STOP_SIGNALS = tuple(
    s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None
)
_NAMES = {
    "SIGINT": "Ctrl+C",
    "SIGTERM": "a stop request (SIGTERM)",
    "SIGHUP": "the terminal closing (SIGHUP)",
}


@contextlib.contextmanager
def cancel_on_stop_signals(cancel: Callable[[], None], say: Callable[[str], None]) -> Iterator[None]:
    """While inside, the first of `STOP_SIGNALS` calls `say(what happened)` then `cancel()`."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def remove() -> None:
        while installed:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(installed.pop())

    def stop(sig: signal.Signals) -> None:
        remove()  # a second signal stops at once
        say(_NAMES.get(sig.name, sig.name))
        cancel()

    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, stop, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
            break
    try:
        yield
    finally:
        remove()
