"""Demo mode: when a source is the bundled demo shop, make sure its API answers.

While a source is declared ``demo: true``, a run whose API is not reachable starts the demo API
in-process (``demo.server.running_server``) for its duration, and reads the bearer token from
``$DEMO_DIR/api_token`` unless a secret is configured. Sources pointing at real systems
(``demo: false``) are left alone.
"""

from __future__ import annotations

import logging
import os
import socket
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingestion.config import SourceConfig, resolve_secret

logger = logging.getLogger(__name__)
DEFAULT_DEMO_DIR = "demo_data"


def demo_dir() -> Path:
    """The demo shop's state folder (``$DEMO_DIR``)."""
    return Path(os.environ.get("DEMO_DIR") or DEFAULT_DEMO_DIR)


def reachable(url: str, timeout: float = 1.0) -> bool:
    """Whether a TCP connection to the URL's host and port succeeds."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def prepare(configs: list[SourceConfig], stack: ExitStack, started: dict[str, str]) -> None:
    """Point demo REST sources at a running demo API and fill in the demo token.

    Args:
        configs: the sources of this run; demo REST entries are updated in place.
        stack: owns the in-process demo server, if one is started.
        started: shared between calls of one run: the URL of the server already started.

    Raises:
        FileNotFoundError: demo data is missing (names the folder and the command to run).
    """
    for config in configs:
        if not config.demo:
            continue
        folder = demo_dir()
        if not (folder / "state.json").exists():
            raise FileNotFoundError(
                f"source {config.name!r} is the demo shop but {folder}/state.json does not "
                "exist: run `python -m demo generate` first (or set DEMO_DIR)"
            )
        if config.type != "rest_api":
            continue
        client: dict[str, Any] = config.settings["client"]
        auth = client.get("auth")
        if isinstance(auth, dict) and auth.get("type") == "bearer":
            token = resolve_secret(auth.get("token"))
            if token is None:
                auth["token"] = (folder / "api_token").read_text().strip()
        base_url = str(client["base_url"])
        if reachable(base_url):
            continue
        if "url" not in started:
            from demo.server import running_server

            started["url"] = str(stack.enter_context(running_server(folder, port=0)))
            logger.info("demo API was not reachable; started it in-process at %s", started["url"])
        client["base_url"] = started["url"].rstrip("/") + base_url[len(_origin(base_url)) :]
