"""The run's scratch space and services: the work dir, each step's environment, the demo API
and the throwaway PostgreSQL server."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from benchmarks.settings import REPO_ROOT, Settings

log = logging.getLogger("benchmarks")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Workspace:
    """``work_dir`` with the demo, the logs and one state dir per warehouse."""

    def __init__(self, settings: Settings) -> None:
        self.work = settings.work_dir.resolve()
        self.demo_dir = self.work / "demo"
        self.logs = self.work / "logs"
        self.python = sys.executable
        self.api_url = ""
        self.pg: Any = None
        self.spark: Any = None

    def reset(self) -> None:
        """Wipe the work dir and give dbt its profile (a copy of ``profiles.example.yml``)."""
        if self.work.exists():
            shutil.rmtree(self.work)
        self.logs.mkdir(parents=True)
        shutil.copy(REPO_ROOT / "profiles.example.yml", self.work / "profiles.yml")

    # -- environment ------------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        """The environment every step gets: demo dir, API, isolated dbt profile."""
        env = dict(os.environ)
        env.update(
            PYTHONUNBUFFERED="1",
            DEMO_DIR=str(self.demo_dir),
            DEMO_API_URL=self.api_url,
            DBT_PROFILES_DIR=str(self.work),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DO_NOT_TRACK="1",
            RUNTIME__LOG_LEVEL=env.get("RUNTIME__LOG_LEVEL", "WARNING"),
        )
        for key in (
            "WAREHOUSE",
            "DUCKDB_PATH",
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGPASSWORD",
            "PGDATABASE",
        ):
            env.pop(key, None)
        return env

    def wh_env(self, wh: str, instance: str = "") -> dict[str, str]:
        """The environment of a step against warehouse ``wh`` (own dlt and dbt state).

        ``instance`` names a second, separate warehouse of the same kind (e.g. ``2x``).
        """
        env = self.base_env()
        home = self.work / f"{wh}{instance}"
        env.update(
            WAREHOUSE=wh,
            DLT_DATA_DIR=str(home / "dlt"),
            DBT_TARGET_PATH=str(home / "dbt_target"),
            DBT_LOG_PATH=str(home / "dbt_logs"),
        )
        if wh == "duckdb":
            env["DUCKDB_PATH"] = str(home / "analytics.duckdb")
        elif wh == "spark":
            from benchmarks import spark

            env.update(spark.env(home, self.spark))
        else:
            env.update(self.pg.env(f"bench{instance}"))
        return env

    # -- services ---------------------------------------------------------------------------
    @contextmanager
    def demo_api(self) -> Iterator[str]:
        """``python -m demo serve`` on a free loopback port for the duration of the block."""
        port = _free_port()
        out = (self.logs / "demo-serve.log").open("a")
        proc = subprocess.Popen(
            [self.python, "-m", "demo", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT,
            env=self.base_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.time() + 60
            while True:
                with suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                    break
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"demo API did not start; see {self.logs}/demo-serve.log")
                time.sleep(0.2)
            self.api_url = f"http://127.0.0.1:{port}"
            yield self.api_url
        finally:
            proc.terminate()
            with suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()
            out.close()
            self.api_url = ""

    def start_postgres(self) -> None:
        """A throwaway PostgreSQL on loopback (demo/pg_server.py) with a ``bench`` database."""
        from demo import pg_server

        self.pg = pg_server.start()
        self.create_database("bench")
        log.info("PostgreSQL on 127.0.0.1:%s (data dir %s)", self.pg.port, self.pg.datadir)

    def create_database(self, name: str) -> None:
        """Create database ``name`` on the throwaway server."""
        from demo import pg_server

        pg_server.create_database(self.pg, name)

    def copy_database(self, source: str, name: str) -> None:
        """Database ``name`` (replaced if present) as a copy of ``source`` (no one connected)."""
        self._admin(
            f'drop database if exists "{name}" with (force)',
            f'create database "{name}" template "{source}"',
        )

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` on the throwaway server."""
        self._admin(f'drop database if exists "{name}" with (force)')

    def _admin(self, *statements: str) -> None:
        import psycopg2

        conn = psycopg2.connect(**self.pg.connect_args("postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
        conn.close()

    def start_spark(self) -> None:
        """A local Spark cluster (a master, two workers) for the Spark steps."""
        from benchmarks import spark

        self.spark = spark.start_cluster(self.work)
        log.info("Spark cluster %s up in %.1f s", self.spark.master_url, self.spark.started_in_s)

    def stop_spark(self) -> None:
        """Stop the Spark cluster, if one was started."""
        if self.spark is not None:
            self.spark.stop()

    def stop_postgres(self) -> None:
        """Stop the throwaway server, if one was started."""
        if self.pg is not None:
            self.pg.stop()

    def psql(self, sql: str) -> None:
        """Run SQL on the bench database (setup only, not measured)."""
        import psycopg2

        env = self.pg.env("bench")
        conn = psycopg2.connect(
            host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"], dbname=env["PGDATABASE"]
        )
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.close()

    def psql_bin(self) -> str:
        """The server's own ``psql`` when it has one, else the one on ``PATH``."""
        own = self.pg._bindir / "psql"
        return str(own) if own.exists() else (shutil.which("psql") or "psql")

    # -- the demo ---------------------------------------------------------------------------
    def manifest_events(self) -> int | None:
        """Event rows in the demo's ``manifest.json`` (None when there are none)."""
        path = self.demo_dir / "manifest.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        files = data.get("files", data) if isinstance(data, dict) else data
        entries = files.values() if isinstance(files, dict) else files
        total = 0
        for entry in entries:
            if isinstance(entry, dict):
                total += int(entry.get("rows", entry.get("rows_written", 0)) or 0)
        return total or None
