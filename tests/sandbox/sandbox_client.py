"""Clients for the sandbox tests: one synchronous face over the in-process and the loopback transport."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from audience_manager.sandbox import Sandbox
from audience_manager.sandbox.demo import SandboxTransport


class Forwarder:
    """An ASGI app that serves whichever sandbox the current test made."""

    def __init__(self) -> None:
        self.target: Sandbox | None = None

    @property
    def app(self) -> Any:
        return self

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.target is not None, "no sandbox for this request"
        await self.target.app(scope, receive, send)


class Api:
    """A synchronous face over either transport, so one test body covers both."""

    def __init__(self, kind: str, sb: Sandbox, base_url: str | None) -> None:
        self.kind = kind
        self.sb = sb
        if base_url is None:
            self._loop = asyncio.new_event_loop()
            self._aclient = httpx.AsyncClient(
                transport=SandboxTransport(app=sb.app), base_url="http://demo.sandbox"
            )
            self._client: httpx.Client | None = None
        else:
            self._client = httpx.Client(base_url=base_url, timeout=10)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self._client is not None:
            return self._client.request(method, url, **kwargs)
        return self._loop.run_until_complete(self._aclient.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        else:
            self._loop.run_until_complete(self._aclient.aclose())
            self._loop.close()
