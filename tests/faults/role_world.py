"""A warehouse with least-privilege roles and a sentinel for every secret, and a leak scanner.

Shared by ``test_roles.py`` and ``test_secrets.py``. Every credential the pipeline knows is a
unique random string (a *sentinel*): the PostgreSQL administrator's and each role's password,
the shop database's password (the shop lives on the same password-checking server), the CRM API
token and the alert webhook's URL path. ``scan`` then counts the sentinels wherever a run leaves
text behind.
"""

from __future__ import annotations

import gzip
import json
import secrets
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import yaml

from demo import pg_server
from tests.faults.api_keys import as_text, forms
from tests.faults.pg_auth import create_database, password_server, server_log
from tests.support.dbt import write_profiles
from tests.support.env import clean_env
from tests.support.paths import REPO_ROOT, SOURCES_FILE
from tests.support.warehouse import connect
from tests.support.webhook import Receiver, receiver

# configurable names, deliberately not the defaults
LOADER, TRANSFORMER, READER = "ca_loader", "ca_transformer", "ca_reader"
SHOP_USER = "shop_app"
ENV_PREFIXES_TO_DROP = (
    "PG",
    "DBT_",
    "ORCHESTRATION__",
    "WAREHOUSE",
    "DUCKDB_PATH",
    "SOURCES__",
    "LOADER_",
    "READER_",
    "INGESTION_SOURCES",
    "DEMO_",
)


def sentinel(label: str) -> str:
    """A unique random secret that cannot occur anywhere by chance."""
    return f"{label}-{secrets.token_hex(12)}"


def closed_port() -> int:
    """A local port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class World:
    """A password-checking server, sentinel secrets, and (optionally) the demo shop around it."""

    server: pg_server.PostgresServer
    tmp: Path
    secrets: dict[str, str]
    demo_dir: Path | None = None
    api_url: str | None = None
    sources_file: Path | None = None
    webhook: Receiver | None = None

    # ------------------------------------------------------------ connections and environments

    def admin_env(self, database: str) -> dict[str, str]:
        env = _clean_env()
        env.update(
            {
                "PGHOST": self.server.host,
                "PGPORT": str(self.server.port),
                "PGUSER": self.server.user,
                "PGPASSWORD": self.secrets["admin_password"],
                "PGDATABASE": database,
                "LOADER_PGUSER": LOADER,
                "DBT_PGUSER": TRANSFORMER,
                "READER_PGUSER": READER,
                "LOADER_PGPASSWORD": self.secrets["loader_password"],
                "DBT_PGPASSWORD": self.secrets["transformer_password"],
                "READER_PGPASSWORD": self.secrets["reader_password"],
            }
        )
        return env

    def connect(self, database: str, user: str | None = None, password: str | None = None) -> Any:
        """A psycopg2 connection; the administrator unless ``user``/``password`` are given."""
        env = self.server.env(database)
        env["PGUSER"] = user or self.server.user
        env["PGPASSWORD"] = (password if user else self.secrets["admin_password"]) or ""
        return connect(env)

    def new_database(self, name: str) -> str:
        create_database(self.server, self.secrets["admin_password"], name)
        return name

    def warehouse_roles(self, database: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """``python -m orchestration warehouse-roles`` as the administrator (``extra`` env)."""
        env = {**self.admin_env(database), **extra}
        if self.sources_file is not None:
            env["INGESTION_SOURCES"] = str(self.sources_file)
        return subprocess.run(
            [sys.executable, "-m", "orchestration", "warehouse-roles"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def run_env(self, database: str, scenario: Path) -> dict[str, str]:
        """The pipeline's environment: each tool as its role, no administrator credentials.

        The generic ``PGUSER``/``PGPASSWORD`` are the reader's, so anything that would write
        with them instead of its own role fails.
        """
        assert self.webhook is not None
        profiles = write_profiles(self.tmp / "profiles")
        env = _clean_env()
        env.update(
            {
                "WAREHOUSE": "postgres",
                "PGHOST": self.server.host,
                "PGPORT": str(self.server.port),
                "PGDATABASE": database,
                "PGUSER": READER,
                "PGPASSWORD": self.secrets["reader_password"],
                "LOADER_PGUSER": LOADER,
                "LOADER_PGPASSWORD": self.secrets["loader_password"],
                "DBT_PGUSER": TRANSFORMER,
                "DBT_PGPASSWORD": self.secrets["transformer_password"],
                "DBT_PROFILES_DIR": str(profiles),
                "DBT_TARGET_PATH": str(scenario / "dbt_target"),
                "DBT_LOG_PATH": str(scenario / "dbt_logs"),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "DLT_DATA_DIR": str(scenario / "dlt_data"),
                "RUNTIME__LOG_LEVEL": "WARNING",
                "ORCHESTRATION__RETRIES": "0",
                "ORCHESTRATION__BACKOFF_S": "0",
                "ORCHESTRATION__ALERT_WEBHOOK_URL": self.webhook.url + self.secrets["webhook_path"],
            }
        )
        if self.demo_dir is not None:
            assert self.sources_file is not None and self.api_url is not None
            env.update(
                {
                    "DEMO_DIR": str(self.demo_dir),
                    "DEMO_API_URL": self.api_url,
                    "INGESTION_SOURCES": str(self.sources_file),
                    "SOURCES__CRM__TOKEN": self.secrets["crm_token"],
                    "SOURCES__SHOP__CREDENTIALS": self.shop_url(self.secrets["shop_password"]),
                }
            )
        return env

    def shop_url(self, password: str) -> str:
        return (
            f"postgresql+psycopg2://{SHOP_USER}:{password}@{self.server.host}:"
            f"{self.server.port}/shop"
        )

    def orchestration(
        self, env: dict[str, str], *args: str, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "orchestration", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    # ------------------------------------------------------------ the leak scanner

    def scan(self, database: str, texts: dict[str, str], folders: list[Path]) -> Counter[str]:
        """Occurrences of every sentinel, keyed ``"<place>: <secret name>"``.

        Places: the given texts (stdout, stderr, exception texts), every file under ``folders``
        (gzip and Parquet files opened), the alert bodies received, every row of every table
        and view in the warehouse (dlt's compressed pipeline state decoded, the ``ops`` ledger
        and ``ops.run_sources`` with dlt's traces included) and the PostgreSQL server log. A
        secret counts in each form it takes: raw, URL-quoted, JSON-escaped (``api_keys.forms``).
        """
        places = dict(texts)
        for folder in folders:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                places[str(path.relative_to(self.tmp))] = _file_text(path)
        if self.webhook is not None:
            places["alert bodies"] = "\n".join(b.decode(errors="replace") for b in self.webhook.raw)
        places["warehouse tables"] = self.warehouse_text(database)
        places["postgres server log"] = server_log(self.server).read_text(errors="replace")
        found: Counter[str] = Counter()
        for place, text in places.items():
            for name, value in self.secrets.items():
                count = sum(text.count(form) for form in forms(value))  # raw, quoted, escaped
                if count:
                    found[f"{place}: {name}"] += count
        return found

    def warehouse_text(self, database: str) -> str:
        """Every value of every relation outside the catalogs, as text (JSON as JSON)."""
        from dlt.common.versioned_state import decompress_state

        conn = self.connect(database)
        chunks = []
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "select table_schema, table_name from information_schema.tables "
                    "where table_schema not in ('pg_catalog', 'information_schema')"
                )
                for schema, table in cur.fetchall():
                    cur.execute(f'select * from "{schema}"."{table}"')
                    chunks.extend(as_text(value) for row in cur.fetchall() for value in row)
                    if table == "_dlt_pipeline_state":
                        cur.execute(f'select state from "{schema}"."{table}"')
                        chunks.extend(
                            json.dumps(decompress_state(r[0]), default=str) for r in cur.fetchall()
                        )
        finally:
            conn.close()
        return "\n".join(chunks)


def _clean_env() -> dict[str, str]:
    return clean_env(*ENV_PREFIXES_TO_DROP)


def _file_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        with suppress(OSError):
            data = gzip.decompress(data)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return json.dumps(pq.read_table(path).to_pylist(), default=str)
    return data.decode("utf-8", errors="replace")


def _sources_file(folder: Path) -> Path:
    """The repository's sources with every system treated as real (no demo fallbacks).

    The CRM token and the shop database URL come from secrets (``SOURCES__CRM__TOKEN``,
    ``SOURCES__SHOP__CREDENTIALS``); the APIs are wherever ``DEMO_API_URL`` points.
    """
    sources = yaml.safe_load(SOURCES_FILE.read_text())
    for body in sources.values():
        body["demo"] = False
    sources["crm"]["client"]["auth"]["token"] = "secret:sources.crm.token"
    sources["shop"]["credentials"] = "secret:sources.shop.credentials"
    path = folder / "sources.yml"
    path.write_text(yaml.safe_dump(sources, sort_keys=False))
    return path


@contextmanager
def world(tmp: Path, with_sources: bool, scale: float = 0.01) -> Iterator[World]:
    """Start the world; ``with_sources`` adds the demo shop (API, shop database, event files)."""
    names = (
        "admin_password",
        "loader_password",
        "transformer_password",
        "reader_password",
        "shop_password",
        "crm_token",
        "webhook_path",
    )
    values = {name: sentinel(name.replace("_", "-")) for name in names}
    values["webhook_path"] = "/services/" + values["webhook_path"]
    with ExitStack() as stack:
        server = stack.enter_context(password_server(values["admin_password"]))
        w = World(server=server, tmp=tmp, secrets=values)
        w.webhook = stack.enter_context(receiver())
        if with_sources:
            _add_sources(w, stack, scale)
        yield w


def _add_sources(w: World, stack: ExitStack, scale: float) -> None:
    from demo.server import running_server
    from demo.shop import copy_to_postgres
    from tests.support.demo import generate

    demo_dir = generate(w.tmp / "demo_data", scale=scale)
    # the demo API's token file is where the token comes from (by design), not a leak
    (demo_dir / "api_token").write_text(w.secrets["crm_token"])
    conn = w.connect("postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        verifier = psycopg2.extensions.encrypt_password(w.secrets["shop_password"], SHOP_USER, conn)
        cur.execute(f"create role {SHOP_USER} login password %s", (verifier,))
        cur.execute(f"create database shop owner {SHOP_USER}")
    conn.close()
    copy_to_postgres(demo_dir, w.shop_url(w.secrets["shop_password"]))
    w.demo_dir = demo_dir
    w.sources_file = _sources_file(w.tmp)
    w.api_url = stack.enter_context(running_server(demo_dir))
