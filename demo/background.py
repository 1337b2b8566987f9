"""The demo API as a background process: started once by `make run`, found by its pid file.

``python -m demo serve --background`` starts ``python -m demo serve`` detached, waits until it
answers and records ``{pid, url}`` in ``$DEMO_DIR/api.pid`` (its output goes to ``api.log``); a
second call finds it running and returns. ``python -m demo stop`` ends it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PID_FILE = "api.pid"
LOG_FILE = "api.log"
START_TIMEOUT_S = 20.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def running(demo_dir: Path) -> dict[str, object] | None:
    """The recorded server (``{pid, url}``) when its process is alive, else None."""
    try:
        record = json.loads((demo_dir / PID_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return record if isinstance(record, dict) and _alive(int(record["pid"])) else None


def start(demo_dir: Path, host: str, port: int, serve_args: list[str]) -> str:
    """Start the API detached unless it already runs; returns its base URL.

    Raises:
        RuntimeError: the port is taken by another process, or the server did not answer.
    """
    found = running(demo_dir)
    if found is not None:
        return str(found["url"])
    if _answers(host, port):
        raise RuntimeError(f"{host}:{port} is in use by another process; pass --port")
    log = (demo_dir / LOG_FILE).open("ab")
    command = [sys.executable, "-m", "demo", "--demo-dir", str(demo_dir), "serve"]
    process = subprocess.Popen(
        [*command, "--host", host, "--port", str(port), *serve_args],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,  # survives the shell (and make) that started it
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers(host, port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the demo API did not start; see {demo_dir / LOG_FILE}")
        time.sleep(0.1)
    url = f"http://{host}:{port}"
    (demo_dir / PID_FILE).write_text(json.dumps({"pid": process.pid, "url": url}))
    return url


def stop(demo_dir: Path) -> bool:
    """Stop the recorded server; True when one was running."""
    found = running(demo_dir)
    (demo_dir / PID_FILE).unlink(missing_ok=True)
    if found is None:
        return False
    os.kill(int(found["pid"]), signal.SIGTERM)
    return True
