"""`python -m demo serve` as a real process: flags reach the server, the token env overrides."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_serve_command_applies_fault_flags_and_the_token_from_the_environment(demo_template):
    port = _free_port()
    env = {**os.environ, "DEMO_API_TOKEN": "token-from-env"}
    command = [sys.executable, "-m", "demo", "--demo-dir", str(demo_template), "serve",
               "--port", str(port), "--throttle-rate", "1", "--unauthorized-after", "1",
               "--empty-last-page"]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if _status(f"{base}/health") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "demo API did not start"
            time.sleep(0.1)
        file_token = (demo_template / "api_token").read_text().strip()
        assert _status(f"{base}/crm/v1/customers", file_token) == 401
        assert _status(f"{base}/crm/v1/customers", "token-from-env") == 429
        assert _status(f"{base}/crm/v1/customers", "token-from-env") == 401  # revoked after 1
        with urllib.request.urlopen(f"{base}/faults", timeout=5) as response:
            report = json.load(response)
        assert report["settings"]["empty_last_page"] is True
        assert report["injected"] == {"throttle": 1, "unauthorized": 1}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
