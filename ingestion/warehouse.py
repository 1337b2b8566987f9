"""Warehouse selection shared by the loaders, the run script and the tests.

One switch for both tools: ``WAREHOUSE`` (``duckdb`` by default, ``postgres`` or ``spark``).
DuckDB's file is ``DUCKDB_PATH`` (default ``warehouse/analytics.duckdb``); PostgreSQL is reached
through the standard libpq variables, which ``profiles.example.yml`` reads too. On Spark the
loaders write Parquet under ``LAKE_URL`` (default ``warehouse/lake``; ``ingestion.lake``) and dbt
builds in the Spark catalog (``ingestion.spark_sql``): the loader's view of the warehouse is the
lake, dbt's (the transformer role, also ``status``/``report``) is the catalog.

Least privilege on PostgreSQL: each tool may log in as its own role. The loaders (and the run
ledger) use ``LOADER_PGUSER``/``LOADER_PGPASSWORD``, dbt (and ``status``/``report``) use
``DBT_PGUSER``/``DBT_PGPASSWORD``; each falls back to ``PGUSER``/``PGPASSWORD`` when unset.
``python -m orchestration warehouse-roles`` creates the roles. TLS settings (``PGSSLMODE`` and
the rest) are read by ``ingestion.pg_tls`` and passed to every PostgreSQL connection.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion import pg_tls

logger = logging.getLogger(__name__)

DEFAULT_DUCKDB_PATH = "warehouse/analytics.duckdb"
DUCKDB_OPEN_WAIT_S = 10.0  # how long a writer waits for a reader (status, report) to let go
DEFAULT_LAKE_URL = "warehouse/lake"
REMOTE_URLS = ("s3://", "gs://", "gcs://", "az://", "abfss://")
SUPPORTED = ("duckdb", "postgres", "spark")
LOADER = "loader"
TRANSFORMER = "transformer"
# The variables that override PGUSER/PGPASSWORD for a role's process.
ROLE_ENV_PREFIX = {LOADER: "LOADER_", TRANSFORMER: "DBT_"}


class WarehouseConfigError(ValueError):
    """A warehouse setting is missing or invalid."""


@dataclass(frozen=True)
class Warehouse:
    """The warehouse the current process talks to."""

    kind: str
    duckdb_path: Path | None = None
    pg: dict[str, str] | None = None
    read_only: bool = False  # DuckDB: a reader (status, report) never blocks a writer for long
    lake_url: str | None = None  # Spark: the lake's folder or bucket URL
    catalog: bool = False  # Spark: read dbt's models through Spark, not the lake's files

    @property
    def local_path(self) -> Path | None:
        """The warehouse's file or folder on this machine (DuckDB's file, a local lake)."""
        if self.kind == "spark" and self.lake_url and not self.lake_url.startswith(REMOTE_URLS):
            return Path(self.lake_url)
        return self.duckdb_path

    def describe(self) -> str:
        """A human-readable location without secrets."""
        if self.kind == "duckdb":
            return str(self.duckdb_path)
        if self.kind == "spark":
            return f"spark, lake {self.lake_url}"
        assert self.pg is not None
        where = f"{self.pg['user']}@{self.pg['host']}:{self.pg['port']}/{self.pg['database']}"
        return f"postgresql://{where}{pg_tls.describe(self.pg)}"


def current(role: str | None = None) -> Warehouse:
    """Read the warehouse settings from the environment.

    Args:
        role: ``"loader"`` or ``"transformer"`` to log in with that role's credentials
            (``LOADER_PGUSER``/``LOADER_PGPASSWORD`` or ``DBT_PGUSER``/``DBT_PGPASSWORD``,
            each falling back to ``PGUSER``/``PGPASSWORD`` on its own);
            None for the plain libpq variables.
    """
    kind = os.environ.get("WAREHOUSE", "duckdb").strip().lower() or "duckdb"
    if kind not in SUPPORTED:
        raise WarehouseConfigError(f"WAREHOUSE={kind!r} is not supported; use one of {SUPPORTED}")
    if kind == "duckdb":
        path = Path(os.environ.get("DUCKDB_PATH") or DEFAULT_DUCKDB_PATH)
        return Warehouse(kind, duckdb_path=path)
    if kind == "spark":
        lake = os.environ.get("LAKE_URL") or DEFAULT_LAKE_URL
        return Warehouse(kind, lake_url=lake, catalog=role == TRANSFORMER)
    return postgres(role)


def postgres(role: str | None = None) -> Warehouse:
    """The PostgreSQL warehouse from the libpq variables, whatever ``WAREHOUSE`` says."""
    prefix = ROLE_ENV_PREFIX.get(role or "", "")
    if role is not None and not prefix:
        raise WarehouseConfigError(f"unknown warehouse role {role!r}; use one of {ROLE_ENV_PREFIX}")
    pg = {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": _role_env(prefix, "PGUSER", os.environ.get("USER", "postgres")),
        "password": _role_env(prefix, "PGPASSWORD", ""),
        "database": os.environ.get("PGDATABASE", "analytics"),
        **pg_tls.settings(prefix),
    }
    return Warehouse("postgres", pg=pg)


def _role_env(prefix: str, name: str, default: str) -> str:
    """``<prefix><name>`` if set, else ``<name>``, else ``default`` (each variable on its own)."""
    if prefix and os.environ.get(prefix + name) is not None:
        return os.environ[prefix + name]
    return os.environ.get(name, default)


def destination(warehouse: Warehouse | None = None) -> Any:
    """Build the dlt destination for the selected warehouse."""
    import dlt  # here, not at the top: the run lock is checked before dlt's slow import

    wh = warehouse or current()
    if wh.kind == "spark":
        from ingestion import lake

        return lake.destination(wh)
    if wh.kind == "duckdb":
        assert wh.duckdb_path is not None
        wh.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(credentials=str(wh.duckdb_path.resolve()))
    assert wh.pg is not None
    stream_parquet_row_groups_into_postgres()
    return dlt.destinations.postgres(
        credentials={
            "drivername": "postgresql",
            "host": wh.pg["host"],
            "port": int(wh.pg["port"]),
            "username": wh.pg["user"],
            "password": wh.pg["password"],
            "database": wh.pg["database"],
            "query": tls_params(wh),
        }
    )


def stream_parquet_row_groups_into_postgres() -> None:
    """Make dlt's ADBC load of a Parquet file into PostgreSQL hold one row group, not the file.

    Switches on dlt's own per-row-group ingest (same transaction); figures in docs/loaders.md.
    """
    from dlt.destinations.impl.postgres.postgres import PostgresParquetCopyJob

    if not hasattr(PostgresParquetCopyJob, "_ingest_per_rowgroup"):  # a dlt outside the pin
        logger.warning("dlt has no per-row-group ADBC ingest: Parquet loads hold whole files")
        return
    PostgresParquetCopyJob._ingest_per_rowgroup = True


def connect(warehouse: Warehouse | None = None) -> Any:
    """Open a DB-API connection to the warehouse (DuckDB, psycopg2, or Spark's two views)."""
    wh = warehouse or current()
    if wh.kind == "duckdb":
        return _connect_duckdb(wh)
    if wh.kind == "spark" and wh.catalog:
        from ingestion import spark_sql

        return spark_sql.connect()
    if wh.kind == "spark":
        from ingestion import lake

        return lake.connect(wh)
    import psycopg2

    assert wh.pg is not None
    return psycopg2.connect(
        host=wh.pg["host"],
        port=wh.pg["port"],
        user=wh.pg["user"],
        password=wh.pg["password"],
        dbname=wh.pg["database"],
        **tls_params(wh),
    )


def tls_params(wh: Warehouse) -> dict[str, str]:
    """The libpq TLS parameters of a PostgreSQL warehouse (``ingestion.pg_tls``)."""
    assert wh.pg is not None
    return {k: v for k, v in wh.pg.items() if k in pg_tls.TLS_VARIABLES}


def _connect_duckdb(wh: Warehouse) -> Any:
    """Open the DuckDB file; a writer waits a moment while a reader holds it."""
    import duckdb

    assert wh.duckdb_path is not None
    if wh.read_only:
        return duckdb.connect(str(wh.duckdb_path), read_only=True)
    wh.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + DUCKDB_OPEN_WAIT_S
    while True:
        try:
            return duckdb.connect(str(wh.duckdb_path))
        except duckdb.IOException as exc:
            if "Could not set lock" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def appends_only(wh: Warehouse) -> bool:
    """Whether raw is append-only (the lake): a key may have several landed versions there."""
    return wh.kind == "spark"


def placeholders(wh: Warehouse, sql: str) -> str:
    """``%s`` placeholders on every warehouse (DuckDB's and Spark's own style is ``?``)."""
    return sql.replace("%s", "?") if wh.kind in ("duckdb", "spark") else sql


@contextmanager
def cursor(warehouse: Warehouse) -> Iterator[Any]:
    """A cursor on a short-lived connection: one transaction, committed when the block succeeds."""
    conn = connect(warehouse)
    try:
        if warehouse.kind == "duckdb" and not warehouse.read_only:
            conn.begin()  # DuckDB's Python API autocommits every statement otherwise
            yield conn
        else:
            yield conn.cursor()
        conn.commit()
    finally:
        conn.close()


def query(warehouse: Warehouse, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of one query (``%s`` placeholders on both warehouses)."""
    with cursor(warehouse) as cur:
        cur.execute(placeholders(warehouse, sql), tuple(params))
        return [tuple(row) for row in cur.fetchall()]


def query_dicts(warehouse: Warehouse, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Rows of one query as dicts keyed by column name."""
    with cursor(warehouse) as cur:
        cur.execute(placeholders(warehouse, sql), tuple(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def execute(warehouse: Warehouse, sql: str, rows: Sequence[Sequence[Any]] = ((),)) -> None:
    """Run one statement once per parameter row, in one transaction."""
    with cursor(warehouse) as cur:
        for params in rows:
            cur.execute(placeholders(warehouse, sql), tuple(params))


def table_exists(wh: Warehouse, schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists."""
    rows = query(
        wh,
        "select count(*) from information_schema.tables where table_schema = %s "
        "and table_name = %s",
        (schema, table),
    )
    return bool(rows and rows[0][0])


@contextmanager
def held_open(warehouse: Warehouse) -> Iterator[None]:
    """Keep one DuckDB connection open for a load, so every further connection is cheap.

    DuckDB shares one database instance between the open connections of a process (figures in
    docs/loaders.md). PostgreSQL: nothing to hold.
    """
    if warehouse.kind != "duckdb":
        yield
        return
    conn = connect(warehouse)
    try:
        yield
    finally:
        conn.close()


def create_schema_if_missing(cursor: Any, kind: str, schema: str) -> None:
    """Create ``schema`` unless it exists, through an open DB-API cursor of warehouse ``kind``.

    PostgreSQL checks the database's CREATE privilege even for ``create schema if not exists``
    on an existing schema, so a least-privilege role (which may not create schemas) looks first.
    """
    if kind == "postgres":
        cursor.execute("select count(*) from pg_namespace where nspname = %s", (schema,))
        if cursor.fetchone()[0]:
            return
    cursor.execute(f'create schema if not exists "{schema}"')
