"""The demo CRM and FX API: a real HTTP server over `api.sqlite`.

Endpoints (see docs/interfaces.md): `GET /crm/v1/customers`, `GET /crm/v1/campaigns` (bearer
token, cursor pagination ordered by `(updated_at, id)`, `updated_since`, `limit`),
`GET /crm/v1/deleted_customers` (hard-deleted customers, `id` and `deleted_at`; the same paging,
`updated_since` on the deletion time), `GET /fx/v1/rates` (public), `GET /health`, and
`GET /faults` (the fault settings and how many of each fault were injected so far, for tests
and operators). Pages are built in `api_pages.py` (other paging styles: `api_paging.py`), faults
injected in `api_faults.py`. The CRM token is accepted as a bearer token, an `X-API-Key` header,
an `api_key` query parameter or a `/k/<token>` path prefix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from demo import api_pages, api_paging
from demo.api_faults import DEFAULT_RATE_LIMIT, DEFAULT_RATE_WINDOW, FaultInjector
from demo.api_pages import CRM_RESOURCES, ApiError
from demo.faults import ApiFaults
from demo.state import TOKEN_FILE

log = logging.getLogger(__name__)


def read_token(demo_dir: Path) -> str:
    """The bearer token: `$DEMO_API_TOKEN`, else the `api_token` file written by `generate`."""
    token = os.environ.get("DEMO_API_TOKEN")
    if token:
        return token
    path = Path(demo_dir) / TOKEN_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `python -m demo generate` first")
    return path.read_text(encoding="utf-8").strip()


class DemoApi:
    """Request handling independent of the HTTP plumbing (one instance per server)."""

    def __init__(
        self,
        demo_dir: Path,
        faults: ApiFaults | None = None,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        rate_window: float = DEFAULT_RATE_WINDOW,
        paging: str = "cursor",
    ) -> None:
        if paging not in api_paging.STYLES:
            raise ValueError(f"paging must be one of {api_paging.STYLES}, got {paging!r}")
        self.demo_dir = Path(demo_dir)
        self.token = read_token(self.demo_dir)
        self.injector = FaultInjector(faults, rate_limit, rate_window)
        self.paging = paging

    def page(
        self, url_path: str, query: dict[str, str], credential: str
    ) -> tuple[dict[str, Any], dict[str, str] | None, dict[str, bool]]:
        """The page answering `GET url_path?query`: body, next page's query, the fault dice.

        Raises:
            ApiError: the answer is an error (unknown path, missing token, a fault, bad query).
        """
        path = url_path.rstrip("/")
        resource = path.removeprefix("/crm/v1/")
        is_crm = resource in CRM_RESOURCES
        if not is_crm and path != "/fx/v1/rates":
            raise ApiError(404, f"no such endpoint: {url_path}")
        faults = self.injector.faults
        if is_crm and credential != self.token:
            message = "missing or wrong bearer token"
            if faults.echo_credentials and credential:
                message = f"unknown credential {credential}"
            raise ApiError(401, message, {"WWW-Authenticate": "Bearer"})
        dice = self.injector.before_page(is_crm)
        if is_crm and (self.paging != "cursor" or faults.loop_after is not None):
            (body, next_query), looped = api_paging.positional_page(
                self.demo_dir, resource, query, faults, self.paging
            )
            if looped:
                self.injector.count("loop")
        elif is_crm:
            body, next_query = api_pages.crm_page(
                self.demo_dir, resource, query, dice["duplicate"], faults
            )
        else:
            body, next_query = api_pages.fx_page(self.demo_dir, query, faults)
        self.injector.after_page(dice, is_crm, query, body)
        return self.injector.strip_data(is_crm, body, credential), next_query, dice


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, drip: bool = False
    ) -> None:
        injector = self.server.api.injector
        injector.answer(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if drip:  # a CRM page: drip-fed when the fault is on
            injector.write(self.wfile, body)
        else:
            self.wfile.write(body)

    def _credential(self, path: str, query: dict[str, str]) -> tuple[str, str]:
        """The CRM credential presented (bearer, X-API-Key, api_key or /k/<token>) and the
        path without a /k/<token> prefix."""
        if path.startswith("/k/"):
            token, _, rest = path[len("/k/") :].partition("/")
            return unquote(token), "/" + rest
        authorization = self.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            return authorization[len("Bearer ") :], path
        return self.headers.get("X-API-Key") or query.get("api_key", ""), path

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
                self._send(200, json.dumps(api.injector.report()).encode())
                return
            credential, path = self._credential(split.path, query)
            body, next_query, dice = api.page(path, query, credential)
        except ApiError as error:
            self._error(error)
            return
        except Exception as exc:  # a bug or a broken store: answer 500, keep serving
            log.exception("demo API failed on %s", split.path)
            self._error(ApiError(500, f"internal error: {type(exc).__name__}"))
            return
        headers = {}
        next_url = None
        if next_query is not None:
            host = self.headers.get("Host", f"127.0.0.1:{self.server.server_port}")
            next_url = f"http://{host}{split.path}?{urlencode(next_query)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
            if api.paging == "header_cursor":
                headers["X-Next-Cursor"] = next_query["cursor"]
        if api.paging == "json_link" and "data" in body:
            body["next"] = next_url
        payload = json.dumps(body, ensure_ascii=False).encode()
        self._send(
            200,
            api.injector.truncate(dice, payload),
            headers,
            drip=path.rstrip("/") != "/fx/v1/rates",
        )


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
    paging: str = "cursor",
) -> ThreadingHTTPServer:
    """An HTTP server for the demo API (call `serve_forever`); `paging` picks the CRM's paging
    style (`api_paging.STYLES`)."""
    api = DemoApi(Path(demo_dir), faults, rate_limit, rate_window, paging)
    return _Server((host, port), api)


@contextlib.contextmanager
def running_server(
    demo_dir: str | Path,
    port: int = 0,
    faults: ApiFaults | None = None,
    rate_limit: int = DEFAULT_RATE_LIMIT,
    rate_window: float = DEFAULT_RATE_WINDOW,
    paging: str = "cursor",
) -> Iterator[str]:
    """Run the demo API in a background thread; yields its base URL `http://127.0.0.1:<port>`."""
    server = make_server(Path(demo_dir), "127.0.0.1", port, faults, rate_limit, rate_window, paging)
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
