"""Keeping secrets out of logs and error messages.

Two layers, because either alone misses something: known secret values are replaced wherever they
appear (they can turn up in a URL, a body, an exception's text), and the places secrets live by
name (auth headers, `api_key`/`api_secret` parameters) are masked even when we were not told the
value (a refreshed OAuth token the caller has not seen yet).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "[redacted]"

SECRET_HEADERS = frozenset({"authorization", "x-kit-api-key", "cookie", "set-cookie", "proxy-authorization"})
SECRET_FIELDS = frozenset(
    {"api_key", "api_secret", "access_token", "refresh_token", "client_secret", "token", "password"}
)

# `api_key=...` in form bodies, query strings and free text; `"api_key": "..."` in JSON text.
_FIELD_NAMES = "|".join(sorted(SECRET_FIELDS, key=len, reverse=True))
_FIELD_IN_TEXT = re.compile(
    r"""(?P<pre>["']?(?:""" + _FIELD_NAMES + r""")["']?\s*[=:]\s*["']?)(?P<val>[^"'&\s,}]+)""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<pre>\bBearer\s+)(?P<val>[A-Za-z0-9._~+/=-]+)", re.IGNORECASE)


# Every secret this process has been given (tokens, keys, refreshed pairs), so a log handler that
# was never told them (the log file) can still mask them. Values only; nothing is written anywhere.
MIN_SECRET_LENGTH = 8  # shorter strings would mask ordinary words and numbers
_registry: set[str] = set()
_registry_lock = threading.Lock()


def register_secret(*secrets: str) -> None:
    """Remember secrets to mask in every log line from now on (clients call this as they get them)."""
    with _registry_lock:
        _registry.update(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH)


def known_secrets() -> frozenset[str]:
    with _registry_lock:
        return frozenset(_registry)


# httpx quotes a header value it refuses; whatever it quotes is masked, known secret or not.
_ILLEGAL_HEADER = re.compile(
    r"(?P<pre>Illegal header value\s+)(?P<val>b?(['\"]).*?\3)", re.IGNORECASE | re.DOTALL
)


def _pieces(secret: str) -> list[str]:
    """The secret and, when it has line breaks or other whitespace inside, each long-enough piece:
    an error may quote one line of it."""
    parts = [p for p in re.split(r"[\s\x00-\x1f\x7f]+", secret) if len(p) >= MIN_SECRET_LENGTH]
    return [secret, *parts] if len(parts) > 1 or (parts and parts[0] != secret) else [secret]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret (and every piece of one) and every secret-named value masked."""
    pieces = {piece for s in secrets if s for piece in _pieces(s)}
    for secret in sorted(pieces, key=len, reverse=True):
        text = text.replace(secret, MASK)
    for form in sorted(
        {repr(p.encode("utf-8", "replace"))[2:-1] for p in pieces} - pieces, key=len, reverse=True
    ):
        if len(form) >= MIN_SECRET_LENGTH:
            text = text.replace(form, MASK)  # the escaped form (`\\n` for a line break) in a bytes repr
    text = _ILLEGAL_HEADER.sub(lambda m: m.group("pre") + MASK, text)
    text = _FIELD_IN_TEXT.sub(lambda m: m.group("pre") + MASK, text)
    return _BEARER.sub(lambda m: m.group("pre") + MASK, text)


def redact_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], secrets: Iterable[str] = ()
) -> dict[str, str]:
    """Headers fit to log: secret-bearing ones masked, the rest passed through `redact`."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    secrets = tuple(secrets)
    return {name: MASK if name.lower() in SECRET_HEADERS else redact(value, secrets) for name, value in items}


def redact_url(url: str, secrets: Iterable[str] = ()) -> str:
    """A URL fit to log: secret-named query values masked, known secrets removed anywhere."""
    parts = urlsplit(url)
    if parts.query:
        query = [
            (k, MASK if k.lower() in SECRET_FIELDS else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
        parts = parts._replace(query=urlencode(query, safe="[]"))
    if parts.password or parts.username:
        host = parts.hostname or ""
        parts = parts._replace(netloc=f"{MASK}@{host}" + (f":{parts.port}" if parts.port else ""))
    return redact(urlunsplit(parts), secrets)


def redact_body(body: bytes | str, secrets: Iterable[str] = (), *, limit: int = 2000) -> str:
    """A request or response body fit to log (JSON secret fields masked), cut to `limit` characters."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        parsed = json.loads(text)
    except ValueError:
        pass
    else:
        text = json.dumps(_mask_fields(parsed), ensure_ascii=False)
    text = redact(text, secrets)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"


def _mask_fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if str(k).lower() in SECRET_FIELDS else _mask_fields(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_fields(v) for v in value]
    return value
