"""Pages of the demo API: cursor pagination over `api.sqlite` and the records it sends.

CRM resources page by `(updated_at, id)` with `updated_since` and `limit`; FX rates page by
`(date, currency)` between `start_date` and `end_date`. A cursor is opaque base64 JSON.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from demo import drift
from demo.faults import ApiFaults
from demo.state import API_DB

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
FX_PAGE = 1000

Page = tuple[dict[str, Any], dict[str, str] | None]  # the body and the query of the next page


class ApiError(Exception):
    """An error answer: HTTP status and message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def _encode_cursor(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(payload, dict):
            raise ValueError("not an object")
        return payload
    except ValueError as exc:
        raise ApiError(400, f"invalid cursor {cursor!r}") from exc


def _since(value: str) -> str:
    """`updated_since` as the stored text form, rounded up to a whole second (inclusive bound)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError as exc:
        raise ApiError(400, f"updated_since is not ISO 8601: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _customer(row: sqlite3.Row) -> dict[str, Any]:
    address = None
    if row["address_line1"] is not None:
        address = {
            "line1": row["address_line1"],
            "city": row["address_city"],
            "postal_code": row["address_postal_code"],
            "country_code": row["address_country_code"],
        }
    return {
        "id": row["id"],
        "email": row["email"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "phone": row["phone"],
        "country_code": row["country_code"],
        "city": row["city"],
        "signup_channel": row["signup_channel"],
        "marketing_opt_in": bool(row["marketing_opt_in"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "address": address,
        "tags": json.loads(row["tags"]),
        # sqlite3.Row's `in` looks at values, not names
        "deleted_at": row["deleted_at"] if "deleted_at" in row.keys() else None,  # noqa: SIM118
    }


def _deleted_customer(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "deleted_at": row["deleted_at"]}


def _campaign(row: sqlite3.Row) -> dict[str, Any]:
    return dict(row)


CRM_RESOURCES = {
    "customers": _customer,
    "campaigns": _campaign,
    "deleted_customers": _deleted_customer,  # hard deletes: id and deleted_at, newest last
}


def open_store(demo_dir: Path) -> sqlite3.Connection:
    """`api.sqlite`, read-only, rows addressable by column name."""
    conn = sqlite3.connect(f"file:{demo_dir / API_DB}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def crm_page(
    demo_dir: Path, resource: str, query: dict[str, str], duplicate: bool, faults: ApiFaults
) -> Page:
    """One page of a CRM resource; `duplicate` re-sends the tail of the previous page first."""
    try:
        limit = int(query.get("limit", DEFAULT_LIMIT))
    except ValueError as exc:
        raise ApiError(400, f"limit must be an integer, got {query['limit']!r}") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if "updated_since" in query:
        where.append("updated_at >= ?")
        params.append(_since(query["updated_since"]))
    after = None
    if query.get("cursor"):
        after = _decode_cursor(query["cursor"])
        where.append("(updated_at, id) > (?, ?)")
        params += [after.get("u"), after.get("i")]
    repeated: list[sqlite3.Row] = []
    with contextlib.closing(open_store(demo_dir)) as conn:
        if not conn.execute(
            "select 1 from sqlite_master where type = 'table' and name = ?", (resource,)
        ).fetchone():  # a store from before deletions were simulated: nothing deleted
            return {"data": [], "next_cursor": None}, None
        if duplicate and after is not None:  # re-send the tail of the previous page
            back = min(3, max(limit - 1, 0))
            base = [w for w in where if not w.startswith("(updated_at")]
            repeated = conn.execute(
                f"select * from {resource} where {' and '.join(base)}"
                " and (updated_at, id) <= (?, ?) order by updated_at desc, id desc limit ?",
                [*params[:-2], after.get("u"), after.get("i"), back],
            ).fetchall()[::-1]
        rows = conn.execute(
            f"select * from {resource} where {' and '.join(where)} order by updated_at, id limit ?",
            [*params, limit - len(repeated) + 1],
        ).fetchall()
    more = len(rows) > limit - len(repeated)
    rows = rows[: limit - len(repeated)]
    page = repeated + rows
    next_query = None
    if (more or faults.empty_last_page) and rows:
        last = rows[-1]
        next_query = {k: v for k, v in query.items() if k != "cursor"}
        next_query["cursor"] = _encode_cursor({"u": last["updated_at"], "i": last["id"]})
    shape = CRM_RESOURCES[resource]
    body = {
        "data": [drift.api_record(resource, shape(r), faults.drift) for r in page],
        "next_cursor": next_query["cursor"] if next_query else None,
    }
    return body, next_query


def fx_page(demo_dir: Path, query: dict[str, str], faults: ApiFaults) -> Page:
    """One page of FX rates between `start_date` and `end_date` (inclusive)."""
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    for name, op in (("start_date", ">="), ("end_date", "<=")):
        if name in query:
            try:
                params.append(date.fromisoformat(query[name]).isoformat())
            except ValueError as exc:
                raise ApiError(400, f"{name} must be YYYY-MM-DD, got {query[name]!r}") from exc
            where.append(f"date {op} ?")
    if query.get("cursor"):
        after = _decode_cursor(query["cursor"])
        where.append("(date, currency) > (?, ?)")
        params += [after.get("d"), after.get("c")]
    with contextlib.closing(open_store(demo_dir)) as conn:
        rows = conn.execute(
            f"select date, currency, rate from fx_rates where {' and '.join(where)}"
            " order by date, currency limit ?",
            [*params, FX_PAGE + 1],
        ).fetchall()
    more = len(rows) > FX_PAGE
    rows = rows[:FX_PAGE]
    next_query = None
    if (more or faults.empty_last_page) and rows:
        next_query = {k: v for k, v in query.items() if k != "cursor"}
        next_query["cursor"] = _encode_cursor({"d": rows[-1]["date"], "c": rows[-1]["currency"]})
    body = {
        "base": "USD",
        "data": [drift.api_record("rates", dict(r), faults.drift) for r in rows],
        "next_cursor": next_query["cursor"] if next_query else None,
    }
    return body, next_query
