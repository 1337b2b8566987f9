"""Paging styles of the demo CRM API besides its own cursor, and walks that do not advance.

`cursor` (the default, `api_pages.crm_page`) sends `next_cursor` and a `Link` header. The other
styles page by position: `json_link` (a `next` URL in the body), `header_cursor` (an
`X-Next-Cursor` header), `offset` (`offset` + `limit`) and `page_number` (`page` from 1 +
`limit`); a positional cursor is the page's index, opaque to clients. While the paging-loop
fault is on (`ApiFaults.loop_after`) every style pages by position, so the fault can send a
walk back to a page it has read.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from demo import drift
from demo.api_pages import (
    CRM_RESOURCES,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ApiError,
    Page,
    _decode_cursor,
    _encode_cursor,
    _since,
    open_store,
)
from demo.faults import ApiFaults

STYLES = ("cursor", "json_link", "header_cursor", "offset", "page_number")
POSITIONAL = ("offset", "page_number")  # the client computes the next page itself


def _number(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(query.get(name, default))
    except ValueError as exc:
        raise ApiError(400, f"{name} must be an integer, got {query[name]!r}") from exc
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}, got {value}")
    return value


def _index(style: str, query: dict[str, str], limit: int) -> int:
    """The 0-based page the request asks for."""
    if style == "offset":
        return _number(query, "offset", 0, 0, 10**9) // limit
    if style == "page_number":
        return _number(query, "page", 1, 1, 10**9) - 1
    if not query.get("cursor"):
        return 0
    index = _decode_cursor(query["cursor"]).get("n")
    if not isinstance(index, int) or index < 0:
        raise ApiError(400, f"invalid cursor {query['cursor']!r}")
    return index


def positional_page(
    demo_dir: Path, resource: str, query: dict[str, str], faults: ApiFaults, style: str
) -> tuple[Page, bool]:
    """One page of a CRM resource by position; also whether the paging-loop fault shaped it."""
    limit = _number(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    index = _index(style, query, limit)
    loop = faults.loop_after
    served = index
    if loop is not None and style in POSITIONAL and index > loop:
        served = loop + 1 - faults.loop_length  # the API ignores the position from now on
    where, params = "1 = 1", []
    if "updated_since" in query:
        where, params = "updated_at >= ?", [_since(query["updated_since"])]
    with contextlib.closing(open_store(demo_dir)) as conn:
        if not conn.execute(
            "select 1 from sqlite_master where type = 'table' and name = ?", (resource,)
        ).fetchone():
            return ({"data": [], "next_cursor": None}, None), False
        rows = conn.execute(
            f"select * from {resource} where {where} order by updated_at, id limit ? offset ?",
            [*params, limit + 1, served * limit],
        ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_query = None
    if style not in POSITIONAL and (more or faults.empty_last_page) and rows:
        target = index + 1
        if loop is not None and index >= loop:
            target = index + 1 - faults.loop_length  # the cursor or link points back
        next_query = {k: v for k, v in query.items() if k != "cursor"}
        next_query["cursor"] = _encode_cursor({"n": target})
    shape = CRM_RESOURCES[resource]
    body: dict[str, Any] = {
        "data": [drift.api_record(resource, shape(r), faults.drift) for r in rows],
        "next_cursor": next_query["cursor"] if next_query else None,
    }
    looped = loop is not None and (index > loop if style in POSITIONAL else index >= loop)
    return (body, next_query), looped
