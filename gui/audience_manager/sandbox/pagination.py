"""Kit v4 cursor pages: opaque base64 cursors, `after`/`before`, `per_page` ≤ 1000.

A cursor is base64 of a JSON list holding the item's id (the docs' `WzE0N10=` is `[147]`). Clients
must treat it as opaque; the sandbox makes that easy to get wrong-proof by accepting only its own.
"""

from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_PER_PAGE = 500
MAX_PER_PAGE = 1000


class BadPageRequest(Exception):
    pass


def encode_cursor(item_id: int) -> str:
    return base64.b64encode(json.dumps([item_id]).encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        value = json.loads(base64.b64decode(cursor.encode(), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadPageRequest("Invalid cursor") from exc
    if not (isinstance(value, list) and value and isinstance(value[-1], int)):
        raise BadPageRequest("Invalid cursor")
    return int(value[-1])


@dataclass
class Page:
    items: list[Any]
    pagination: dict[str, Any]


def paginate(
    items: Sequence[T],
    item_id: Callable[[T], int],
    query: Mapping[str, str],
    *,
    descending: bool = True,
) -> Page:
    """One page of `items`, which must already be sorted by id in the given direction."""
    raw_per_page = query.get("per_page") or ""
    try:
        per_page = int(raw_per_page) if raw_per_page else DEFAULT_PER_PAGE
    except ValueError as exc:
        raise BadPageRequest("per_page must be an integer") from exc
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    sign = -1 if descending else 1

    def order(x: T) -> int:
        return sign * item_id(x)

    after, before = query.get("after"), query.get("before")
    if after:
        start = bisect_right(items, sign * decode_cursor(after), key=order)
        end = min(len(items), start + per_page)
    elif before:
        end = bisect_left(items, sign * decode_cursor(before), key=order)
        start = max(0, end - per_page)
    else:
        start, end = 0, min(len(items), per_page)
    chosen = list(items[start:end])
    pagination: dict[str, Any] = {
        "has_previous_page": start > 0,
        "has_next_page": end < len(items),
        "start_cursor": encode_cursor(item_id(chosen[0])) if chosen else None,
        "end_cursor": encode_cursor(item_id(chosen[-1])) if chosen else None,
        "per_page": per_page,
    }
    if str(query.get("include_total_count", "")).lower() == "true":
        pagination["total_count"] = len(items)
    return Page(chosen, pagination)
