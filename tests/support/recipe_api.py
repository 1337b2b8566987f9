"""A small REST API for the recipes and backfill tests: one dataset, every common API shape.

``GET /<auth>/<paging>/<shape>/<cursor>/tickets`` serves the same tickets whatever the variant:

- auth: ``open``, ``bearer`` (``Authorization: Bearer TOKEN``), ``header_key`` (``X-API-Key``),
  ``query_key`` (``?api_key=``), ``basic`` (USER / PASSWORD);
- paging: ``none`` (one page), ``cursor`` (body ``next_cursor`` -> ``?cursor=``), ``offset``
  (``offset`` + ``limit``, body ``total``), ``page_number`` (``page`` from 1, body
  ``total_pages``), ``link`` (a ``Link: <...>; rel="next"`` header);
- shape: ``list`` (a top-level JSON list) or ``wrapped`` (``{"data": [...], ...}``);
- cursor: how ``updated_at`` is written and ``since``/``until`` read: ``iso``
  (``2026-03-01T07:00:00Z``), ``epoch_s``, ``epoch_ms``, ``text`` (``2026-03-01 07:00:00``, the
  format ``TEXT_FORMAT``).

Rows are ordered by (updated_at, id); ``since`` is inclusive, ``until`` exclusive; ``limit``
defaults to 10. Every request is recorded (path and query) for the tests to inspect.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN = "recipe-bearer-token"
API_KEY = "recipe-api-key"
USER, PASSWORD = "recipe-user", "recipe-password"
FIRST = datetime(2026, 3, 1, tzinfo=UTC)
STEP = timedelta(hours=7)
TICKETS = 40
AUTHS = ("open", "bearer", "header_key", "query_key", "basic")
PAGINGS = ("none", "cursor", "offset", "page_number", "link")
SHAPES = ("list", "wrapped")
CURSORS = ("iso", "epoch_s", "epoch_ms", "text")
TEXT_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Ticket:
    """One ticket of the dataset; ``updated`` is its cursor as an instant."""

    id: int
    customer_id: int
    subject: str
    updated: datetime

    def as_json(self, cursor: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "subject": self.subject,
            "updated_at": render(self.updated, cursor),
        }


def tickets(count: int = TICKETS) -> list[Ticket]:
    """The dataset: one ticket every 7 hours from 2026-03-01, five customers."""
    return [
        Ticket(i, i % 5 + 1, f"ticket {i}", FIRST + (i - 1) * STEP) for i in range(1, count + 1)
    ]


def render(instant: datetime, cursor: str) -> Any:
    """An instant as the API writes it for a cursor kind."""
    if cursor == "epoch_s":
        return int(instant.timestamp())
    if cursor == "epoch_ms":
        return int(instant.timestamp() * 1000)
    if cursor == "text":
        return instant.strftime(TEXT_FORMAT)
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: str, cursor: str) -> datetime:
    """A ``since``/``until`` parameter as an instant."""
    if cursor == "epoch_s":
        return datetime.fromtimestamp(int(value), UTC)
    if cursor == "epoch_ms":
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    if cursor == "text":
        return datetime.strptime(value, TEXT_FORMAT).replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _authorized(auth: str, headers: Any, query: dict[str, str]) -> bool:
    given = headers.get("Authorization", "")
    if auth == "bearer":
        return bool(given == f"Bearer {TOKEN}")
    if auth == "header_key":
        return bool(headers.get("X-API-Key") == API_KEY)
    if auth == "query_key":
        return query.get("api_key") == API_KEY
    if auth == "basic":
        return bool(given == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
    return True


@dataclass
class RecipeApi:
    """The request handling, independent of the HTTP plumbing."""

    data: list[Ticket] = field(default_factory=tickets)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def answer(
        self, path: str, query: dict[str, str], headers: Any
    ) -> tuple[Any, dict[str, str] | None]:
        """The body and, for a next page, the query that asks for it."""
        self.requests.append((path, query))
        parts = path.strip("/").split("/")
        if len(parts) != 5 or parts[4] != "tickets":
            raise ApiError(404, f"no such endpoint: {path}")
        auth, paging, shape, cursor, _ = parts
        known = (AUTHS, PAGINGS, SHAPES, CURSORS)
        if any(part not in kinds for part, kinds in zip(parts, known, strict=False)):
            raise ApiError(404, f"no such variant: {path}")
        if not _authorized(auth, headers, query):
            raise ApiError(401, "missing or wrong credentials")
        if paging == "cursor" and shape == "list":
            raise ApiError(400, "cursor paging needs the wrapped shape")
        rows = sorted(self.data, key=lambda t: (t.updated, t.id))
        try:
            if "since" in query:
                rows = [t for t in rows if t.updated >= parse(query["since"], cursor)]
            if "until" in query:
                rows = [t for t in rows if t.updated < parse(query["until"], cursor)]
            limit = int(query.get("limit", 10)) if paging != "none" else max(len(rows), 1)
            start = self._start(paging, query, limit)
        except ValueError as exc:
            raise ApiError(400, f"bad query: {exc}") from exc
        page = [t.as_json(cursor) for t in rows[start : start + limit]]
        more = start + limit < len(rows)
        next_query = None
        if more and paging in ("cursor", "link"):
            token = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
            next_query = {**{k: v for k, v in query.items() if k != "cursor"}, "cursor": token}
        if shape == "list":
            return page, next_query
        body: dict[str, Any] = {"data": page}
        if paging == "cursor":
            body["next_cursor"] = next_query["cursor"] if next_query else None
        if paging == "offset":
            body["total"] = len(rows)
        if paging == "page_number":
            body["total_pages"] = -(-len(rows) // limit)
        return body, next_query

    @staticmethod
    def _start(paging: str, query: dict[str, str], limit: int) -> int:
        if paging == "offset":
            return int(query.get("offset", 0))
        if paging == "page_number":
            return (int(query.get("page", 1)) - 1) * limit
        if paging in ("cursor", "link") and query.get("cursor"):
            return int(base64.urlsafe_b64decode(query["cursor"]).decode())
        return 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        try:
            body, next_query = self.server.api.answer(split.path, query, self.headers)
        except ApiError as error:
            self._send(error.status, {"error": str(error)})
            return
        headers = {}
        if next_query is not None and "/link/" in split.path:
            host = self.headers.get("Host", f"127.0.0.1:{self.server.server_port}")
            headers["Link"] = f'<http://{host}{split.path}?{urlencode(next_query)}>; rel="next"'
        self._send(200, body, headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: RecipeApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api


@contextlib.contextmanager
def serving(api: RecipeApi | None = None) -> Iterator[tuple[str, RecipeApi]]:
    """Serve the API on a free loopback port; yields its base URL and the API (its requests)."""
    api = api or RecipeApi()
    server = _Server(api)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
