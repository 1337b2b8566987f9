"""A real Slack-compatible webhook receiver on 127.0.0.1 that keeps every body posted to it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    """The receiver's URL, the status it answers, and the bodies it got (raw and JSON)."""

    url: str = ""
    status: int = 200
    bodies: list[Any] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)


@contextmanager
def receiver(status: int = 200) -> Iterator[Receiver]:
    """Serve a receiver on a free loopback port for the duration of the block."""
    received = Receiver(status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.raw.append(body)
            with suppress(ValueError):  # kept raw only when it is not JSON
                received.bodies.append(json.loads(body))
            self.send_response(received.status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()
