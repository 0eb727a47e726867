"""Checks every request our Kit v4 client sends against Kit's OpenAPI description.

The spec copy is from April 2025 and misses `POST /v4/bulk/custom_fields/subscribers`; that
operation is taken from Kit's own page for it (the seed `002_*`, an OpenAPI fragment) and merged in.
Three spec quirks are relaxed, each because the spec contradicts Kit's production SDK or itself:
- every operation declares a required `Authorization` header *parameter*, which API-key requests
  (`X-Kit-Api-Key`) cannot have: credentials are checked by the security schemes instead;
- `PUT /v4/subscribers/{id}` requires three example custom fields ("Last name", "Birthday",
  "Source") inside `fields`: an artefact of the example, not a rule;
- `POST /v4/forms/{form_id}/subscribers/{id}` requires `referrer`; Kit's PHP SDK omits it.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_HOST = "https://api.kit.com"


def _bulk_fields_operation(shared: Path) -> dict[str, Any]:
    page = next(shared.glob("seeds/002_*")).read_text()
    block = re.search(r"````yaml[^\n]*\n(.*?)````", page, re.S)
    assert block, "the bulk custom field values page has no OpenAPI block"
    fragment = yaml.safe_load(block.group(1))
    return dict(fragment["paths"]["/v4/bulk/custom_fields/subscribers"])


@cache
def kit_openapi(shared: Path) -> OpenAPI:
    spec = json.loads((shared / "specs" / "kit-v4.openapi.json").read_text())
    spec = copy.deepcopy(spec)
    spec["paths"]["/v4/bulk/custom_fields/subscribers"] = _bulk_fields_operation(shared)
    for ops in spec["paths"].values():
        for op in ops.values():
            if isinstance(op, dict) and "parameters" in op:
                op["parameters"] = [
                    p
                    for p in op["parameters"]
                    if not (p.get("in") == "header" and p.get("name") == "Authorization")
                ]
    put_fields = spec["paths"]["/v4/subscribers/{id}"]["put"]["requestBody"]["content"]["application/json"][
        "schema"
    ]["properties"]["fields"]
    put_fields.pop("required", None)
    put_fields["additionalProperties"] = {"type": "string", "nullable": True}
    form_add = spec["paths"]["/v4/forms/{form_id}/subscribers/{id}"]["post"]["requestBody"]["content"]
    form_add["application/json"]["schema"].pop("required", None)
    return OpenAPI.from_dict(spec)


@dataclass
class _SpecRequest:
    """An httpx request as openapi-core reads one (scheme and host replaced by the spec's server)."""

    request: httpx.Request
    parameters: RequestParameters = field(init=False)

    def __post_init__(self) -> None:
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(self.request.url.query.decode(), keep_blank_values=True)),
            header=Headers(list(self.request.headers.items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return SPEC_HOST

    @property
    def path(self) -> str:
        return self.request.url.path

    @property
    def method(self) -> str:
        return self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self.request.content or None

    @property
    def content_type(self) -> str:
        return self.request.headers.get("content-type", "application/json").lower()


class SpecCheckingTransport(httpx.AsyncBaseTransport):
    """Forwards every request to `inner` after checking it against the spec; keeps what it saw."""

    def __init__(self, inner: httpx.AsyncBaseTransport, shared: Path | None) -> None:
        """With `shared` None (the API docs are not next to the project) it only records."""
        self.inner = inner
        self.openapi = kit_openapi(shared) if shared is not None else None
        self.seen: list[tuple[str, str]] = []
        self.urls: list[str] = []
        self.problems: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        self.urls.append(str(request.url))
        await request.aread()
        if self.openapi is None:
            return await self.inner.handle_async_request(request)
        try:
            with warnings.catch_warnings():
                # openapi-core cannot check OAuth2 scheme tokens and says so on every call
                warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
                self.openapi.validate_request(_SpecRequest(request))
        except Exception as exc:  # any validation error is a finding, reported by the test
            detail = "; ".join(str(e) for e in getattr(exc, "schema_errors", ()) or ()) or str(exc)
            cause = exc.__cause__
            if cause is not None and not detail.strip():
                detail = str(cause)
            self.problems.append(
                f"{request.method} {request.url.path}?{request.url.query.decode()}: {exc} {detail}"
            )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
