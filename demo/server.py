"""The demo CRM and FX API: a real HTTP server over `api.sqlite`.

Endpoints (see docs/interfaces.md): `GET /crm/v1/customers`, `GET /crm/v1/campaigns` (bearer
token, cursor pagination ordered by `(updated_at, id)`, `updated_since`, `limit`),
`GET /crm/v1/deleted_customers` (hard-deleted customers, `id` and `deleted_at`; the same paging,
`updated_since` on the deletion time), `GET /fx/v1/rates` (public), `GET /health`, and
`GET /faults` (the fault settings and how many of each fault were injected so far, for tests
and operators).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from demo import drift
from demo.faults import ApiFaults, FaultDice
from demo.state import API_DB, TOKEN_FILE

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
FX_PAGE = 1000
DEFAULT_RATE_LIMIT = 100  # requests per window
DEFAULT_RATE_WINDOW = 1.0  # seconds


class ApiError(Exception):
    """An error answer: HTTP status and message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def read_token(demo_dir: Path) -> str:
    """The bearer token: `$DEMO_API_TOKEN`, else the `api_token` file written by `generate`."""
    token = os.environ.get("DEMO_API_TOKEN")
    if token:
        return token
    path = Path(demo_dir) / TOKEN_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `python -m demo generate` first")
    return path.read_text(encoding="utf-8").strip()


class RateLimiter:
    """Fixed-window limit on requests across all clients."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._start, self._count = time.monotonic(), 0
        self._lock = threading.Lock()

    def check(self) -> float | None:
        """Count one request; returns seconds to wait when over the limit, else None."""
        with self._lock:
            now = time.monotonic()
            if now - self._start >= self.window:
                self._start, self._count = now, 0
            self._count += 1
            if self._count > self.limit:
                return self.window - (now - self._start)
        return None


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


class DemoApi:
    """Request handling independent of the HTTP plumbing (one instance per server)."""

    def __init__(
        self,
        demo_dir: Path,
        faults: ApiFaults | None = None,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        rate_window: float = DEFAULT_RATE_WINDOW,
    ) -> None:
        self.demo_dir = Path(demo_dir)
        self.token = read_token(self.demo_dir)
        self.faults = faults or ApiFaults()
        self.dice = FaultDice(self.faults)
        self.limiter = RateLimiter(rate_limit, rate_window)
        self.injected: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()  # HTTP status -> responses sent
        self._authorised = 0
        self._lock = threading.Lock()

    def count(self, kind: str) -> None:
        """Count one injected fault of `kind` (reported by `GET /faults`)."""
        with self._lock:
            self.injected[kind] += 1

    def token_revoked(self) -> bool:
        """Whether the `unauthorized_after` fault rejects this (otherwise authorised) request."""
        limit = self.faults.unauthorized_after
        if limit is None:
            return False
        with self._lock:
            self._authorised += 1
            return self._authorised > limit

    def answer(self, status: int) -> None:
        """Count one response by HTTP status (reported by `GET /faults`)."""
        with self._lock:
            self.answered[str(status)] += 1

    def fault_report(self) -> dict[str, Any]:
        """The fault settings, the faults injected and the responses sent so far, by status."""
        with self._lock:
            return {
                "settings": self.faults.as_dict(),
                "injected": dict(self.injected),
                "answered": dict(self.answered),
            }

    def _db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.demo_dir / API_DB}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        return conn

    def crm_page(
        self, resource: str, query: dict[str, str], duplicate: bool
    ) -> tuple[dict[str, Any], dict[str, str] | None]:
        """One page of a CRM resource; returns the body and the query of the next page."""
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
        with contextlib.closing(self._db()) as conn:
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
                f"select * from {resource} where {' and '.join(where)}"
                " order by updated_at, id limit ?",
                [*params, limit - len(repeated) + 1],
            ).fetchall()
        more = len(rows) > limit - len(repeated)
        rows = rows[: limit - len(repeated)]
        page = repeated + rows
        next_query = None
        if (more or self.faults.empty_last_page) and rows:
            last = rows[-1]
            next_query = {k: v for k, v in query.items() if k != "cursor"}
            next_query["cursor"] = _encode_cursor({"u": last["updated_at"], "i": last["id"]})
        shape = CRM_RESOURCES[resource]
        body = {
            "data": [drift.api_record(resource, shape(r), self.faults.drift) for r in page],
            "next_cursor": next_query["cursor"] if next_query else None,
        }
        return body, next_query

    def fx_page(self, query: dict[str, str]) -> tuple[dict[str, Any], dict[str, str] | None]:
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
        with contextlib.closing(self._db()) as conn:
            rows = conn.execute(
                f"select date, currency, rate from fx_rates where {' and '.join(where)}"
                " order by date, currency limit ?",
                [*params, FX_PAGE + 1],
            ).fetchall()
        more = len(rows) > FX_PAGE
        rows = rows[:FX_PAGE]
        next_query = None
        if (more or self.faults.empty_last_page) and rows:
            next_query = {k: v for k, v in query.items() if k != "cursor"}
            next_query["cursor"] = _encode_cursor(
                {"d": rows[-1]["date"], "c": rows[-1]["currency"]}
            )
        body = {
            "base": "USD",
            "data": [drift.api_record("rates", dict(r), self.faults.drift) for r in rows],
            "next_cursor": next_query["cursor"] if next_query else None,
        }
        return body, next_query


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.server.api.answer(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, error: ApiError) -> None:
        body = json.dumps({"error": str(error), "status": error.status}).encode()
        self._send(error.status, body, error.headers)

    def do_GET(self) -> None:
        api = self.server.api
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        path = split.path.rstrip("/")
        try:
            if path == "/health":
                self._send(200, b'{"status": "ok"}')
                return
            if path == "/faults":
                self._send(200, json.dumps(api.fault_report()).encode())
                return
            resource = path.removeprefix("/crm/v1/")
            is_crm = resource in CRM_RESOURCES
            if not is_crm and path != "/fx/v1/rates":
                raise ApiError(404, f"no such endpoint: {split.path}")
            if is_crm and self.headers.get("Authorization", "") != f"Bearer {api.token}":
                raise ApiError(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
            if is_crm and api.token_revoked():
                api.count("unauthorized")
                raise ApiError(401, "bearer token revoked", {"WWW-Authenticate": "Bearer"})
            wait = api.limiter.check()
            if wait is not None:
                api.count("rate_limit")
                raise ApiError(429, "rate limit exceeded", {"Retry-After": str(math.ceil(wait))})
            dice = api.dice.roll()
            if dice["throttle"]:
                api.count("throttle")
                raise ApiError(
                    429, "rate limit exceeded", {"Retry-After": str(api.faults.retry_after)}
                )
            if dice["error"]:
                api.count("error")
                raise ApiError(api.dice.pick((500, 502, 503)), "injected server error")
            if dice["slow"]:
                api.count("slow")
                time.sleep(api.faults.slow_seconds)
            if is_crm:
                body, next_query = api.crm_page(resource, query, dice["duplicate"])
                if dice["duplicate"] and query.get("cursor"):
                    api.count("duplicate")
            else:
                body, next_query = api.fx_page(query)
            if api.faults.empty_last_page and query.get("cursor") and not body["data"]:
                api.count("empty_last_page")
        except ApiError as error:
            self._error(error)
            return
        except Exception as exc:  # a bug or a broken store: answer 500, keep serving
            log.exception("demo API failed on %s", split.path)
            self._error(ApiError(500, f"internal error: {type(exc).__name__}"))
            return
        headers = {}
        if next_query is not None:
            host = self.headers.get("Host", f"127.0.0.1:{self.server.server_port}")
            headers["Link"] = f'<http://{host}{split.path}?{urlencode(next_query)}>; rel="next"'
        payload = json.dumps(body, ensure_ascii=False).encode()
        if dice["truncate"]:
            api.count("truncate")
            payload = payload[: max(1, len(payload) // 2)]
        self._send(200, payload, headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: DemoApi) -> None:
        super().__init__(address, _Handler)
        self.api = api


def make_server(
    demo_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: ApiFaults | None = None,
    rate_limit: int = DEFAULT_RATE_LIMIT,
    rate_window: float = DEFAULT_RATE_WINDOW,
) -> ThreadingHTTPServer:
    """An HTTP server for the demo API (call `serve_forever`)."""
    return _Server((host, port), DemoApi(Path(demo_dir), faults, rate_limit, rate_window))


@contextlib.contextmanager
def running_server(
    demo_dir: str | Path,
    port: int = 0,
    faults: ApiFaults | None = None,
    rate_limit: int = DEFAULT_RATE_LIMIT,
    rate_window: float = DEFAULT_RATE_WINDOW,
) -> Iterator[str]:
    """Run the demo API in a background thread; yields its base URL `http://127.0.0.1:<port>`."""
    server = make_server(Path(demo_dir), "127.0.0.1", port, faults, rate_limit, rate_window)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="demo-api", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
