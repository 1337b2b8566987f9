"""Fixtures for the run script tests: a tiny real dbt project, a webhook receiver, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

TINY_PROJECT = """\
name: tiny
version: "1.0"
profile: customer_analytics
model-paths: ["models"]
"""
TINY_MODEL = "select 1 as id union all select 2 as id\n"
TINY_YML = """\
models:
  - name: numbers
    columns:
      - name: id
        data_tests: [unique, not_null]
"""


@dataclass
class Cli:
    """Runs ``python -m orchestration`` in a subprocess with a controlled environment."""

    env: dict[str, str]
    cwd: Path = REPO_ROOT

    def __call__(
        self, *args: str, timeout: float = 240, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **extra_env}
        return subprocess.run(
            [sys.executable, "-m", "orchestration", *args],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture
def tiny_dbt(tmp_path: Path) -> Path:
    """A real, minimal dbt project (one model, two tests) using the repo's profile."""
    project = tmp_path / "tiny_dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(TINY_PROJECT)
    (project / "models" / "numbers.sql").write_text(TINY_MODEL)
    (project / "models" / "numbers.yml").write_text(TINY_YML)
    shutil.copyfile(REPO_ROOT / "profiles.example.yml", project / "profiles.yml")
    return project


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PG", "DBT_", "ORCHESTRATION__", "WAREHOUSE", "DUCKDB_PATH"))
    }
    env.update(
        {
            "DBT_TARGET_PATH": str(tmp_path / "dbt_target"),
            "DBT_LOG_PATH": str(tmp_path / "dbt_logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DLT_DATA_DIR": str(tmp_path / "dlt_data"),
            "RUNTIME__LOG_LEVEL": "WARNING",
            "ORCHESTRATION__RETRIES": "0",
            "ORCHESTRATION__BACKOFF_S": "0",
        }
    )
    return env


@pytest.fixture
def cli_duckdb(tmp_path: Path, tiny_dbt: Path) -> Cli:
    """The CLI on a fresh DuckDB warehouse with the tiny dbt project."""
    env = base_env(tmp_path)
    env.update(
        {
            "WAREHOUSE": "duckdb",
            "DUCKDB_PATH": str(tmp_path / "warehouse" / "analytics.duckdb"),
            "DBT_PROJECT_DIR": str(tiny_dbt),
            "DBT_PROFILES_DIR": str(tiny_dbt),
        }
    )
    return Cli(env)


@pytest.fixture
def cli_for_warehouse(tmp_path: Path, tiny_dbt: Path, warehouse_env: dict[str, str]) -> Cli:
    """The CLI on a fresh warehouse of each kind (DuckDB, PostgreSQL) with the tiny project."""
    env = base_env(tmp_path)
    env.update(warehouse_env)
    env.update({"DBT_PROJECT_DIR": str(tiny_dbt), "DBT_PROFILES_DIR": str(tiny_dbt)})
    return Cli(env)


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records the JSON bodies posted to it."""

    url: str
    bodies: list[dict] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    """A local Slack-compatible webhook receiver."""
    received = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.raw.append(body)
            received.bodies.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield received
    server.shutdown()
    server.server_close()


def ledger_rows(env: dict[str, str], sql: str) -> list[dict]:
    """Query the warehouse named by ``env`` (DuckDB file or PostgreSQL) and return dict rows."""
    if env["WAREHOUSE"] == "duckdb":
        import duckdb

        conn = duckdb.connect(env["DUCKDB_PATH"], read_only=True)
        try:
            cur = conn.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        finally:
            conn.close()
    import psycopg2

    conn = psycopg2.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env.get("PGPASSWORD", ""),
        dbname=env["PGDATABASE"],
    )
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        conn.close()
