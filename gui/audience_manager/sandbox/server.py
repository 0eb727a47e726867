"""The sandbox over real HTTP: uvicorn on 127.0.0.1 only, in a daemon thread (tests) or in the
foreground (`audience-manager sandbox --port N`).

uvicorn's own logging is turned down to `critical` by default: a fault that drops a connection is
an exception inside the app on purpose, and it should not spam test output.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

import uvicorn

from audience_manager.sandbox.sandbox import Sandbox

HOST = "127.0.0.1"  # never 0.0.0.0: the sandbox's credentials are public


class HasApp(Protocol):
    @property
    def app(self) -> Any: ...


def _server(sb: HasApp, port: int, log_level: str) -> uvicorn.Server:
    config = uvicorn.Config(
        sb.app,
        host=HOST,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(config)


def _bound_port(server: uvicorn.Server) -> int:
    for s in server.servers:
        for sock in s.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("the sandbox server has no listening socket")


@contextmanager
def serve(sb: HasApp, port: int = 0, *, log_level: str = "critical", timeout: float = 10.0) -> Iterator[str]:
    """Runs `sb` on 127.0.0.1:`port` (0 = any free port) and yields its base URL."""
    server = _server(sb, port, log_level)
    thread = threading.Thread(target=server.run, name="sandbox-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the sandbox server did not start on {HOST}:{port}")
        time.sleep(0.01)
    try:
        yield f"http://{HOST}:{_bound_port(server)}"
    finally:
        server.should_exit = True
        thread.join(timeout)


def describe(sb: Sandbox, base_url: str) -> str:
    c = sb.credentials
    return "\n".join(
        [
            f"Sandbox running at {base_url}  (fake data, fake credentials; Ctrl+C stops it)",
            f"  Kit v4 API key:        {c.kit_api_key}",
            f"  Kit v4 OAuth token:    {c.kit_oauth_token}",
            f"  Kit OAuth client id:   {c.oauth_client_id}",
            f"  Kit v3 api_key:        {c.kit_v3_key}",
            f"  Kit v3 api_secret:     {c.kit_v3_secret}",
            f"  HighLevel token:       {c.highlevel_token}",
            f"  HighLevel location id: {c.highlevel_location}",
        ]
    )


def run_forever(
    sb: Sandbox | None = None,
    port: int = 8765,
    *,
    out: TextIO | None = None,
    log_level: str = "warning",
    stop: threading.Event | None = None,
) -> None:
    """Serves in the foreground until Ctrl+C (or `stop` is set), after printing the base URL and
    the demo credentials."""
    import sys

    sb = sb or Sandbox()
    stop = stop or threading.Event()
    with serve(sb, port, log_level=log_level) as base_url:
        print(describe(sb, base_url), file=out or sys.stdout, flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
