"""Response helpers shared by the simulated platforms."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from audience_manager.sandbox.faults import DroppedConnection

PROXY_502_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
    "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class BadBody(Exception):
    """The request body is not the JSON object the endpoint needs."""


def kit_errors(status: int, *messages: str) -> JSONResponse:
    return JSONResponse({"errors": list(messages)}, status_code=status)


def kit_not_found() -> JSONResponse:
    return kit_errors(404, "Not Found")


def retry_later() -> PlainTextResponse:
    """Kit's 429: plain text, no Retry-After."""
    return PlainTextResponse("Retry later", status_code=429)


def html_502() -> Response:
    return Response(PROXY_502_PAGE, status_code=502, media_type="text/html")


def malformed(response: Response) -> Response:
    body = bytes(response.body) or b'{"ok":true}'
    cut = body[: max(1, len(body) // 2)]
    return Response(cut, status_code=200, media_type="application/json")


class DroppingResponse(Response):
    """Sends the status line and half the body, then breaks the connection.

    Over HTTP there is no way for an ASGI app to close a connection before the status line without
    the server answering 500 itself, so a drop "before answering" is headers then nothing: the
    client still gets no usable answer, and the handler never ran.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        body = bytes(self.body)
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        raise DroppedConnection("sandbox fault: connection dropped")


def dropping(response: Response | None = None) -> Response:
    """`response` cut short, or (None) an answer that stops right after its headers."""
    if response is None:
        out = DroppingResponse(b"", status_code=200)
        out.raw_headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        return out
    out = DroppingResponse(bytes(response.body), status_code=response.status_code)
    out.raw_headers = list(response.raw_headers)
    return out


async def json_body(request: Request) -> Any:
    """The parsed JSON body; an empty body is `{}`. Raises BadBody on anything that is not JSON."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(str(exc)) from exc


async def params(request: Request) -> dict[str, Any]:
    """Query string merged with a JSON or form body (Kit v3 and OAuth accept either)."""
    merged: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in content_type:
        raw = await request.body()
        try:
            merged.update(parse_qsl(raw.decode(), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise BadBody(str(exc)) from exc
        return merged
    body = await json_body(request)
    if isinstance(body, dict):
        merged.update(body)
    elif body:
        raise BadBody("expected a JSON object")
    return merged
