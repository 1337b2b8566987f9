"""A test's warehouse: make a fresh one, connect to it, query it.

An environment names the warehouse the way the tools read it: ``WAREHOUSE`` with
``DUCKDB_PATH`` or the libpq variables. A libpq-only environment (``PostgresServer.env``) is
PostgreSQL. Connections go through ``ingestion.warehouse``; DuckDB files are opened read-only,
so a test's query never creates a warehouse or holds its write lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from demo import pg_server
from ingestion import pg_tls, warehouse


def of_env(env: Mapping[str, str], database: str | None = None) -> warehouse.Warehouse:
    """The warehouse ``env`` names (``database`` instead of ``PGDATABASE`` if given)."""
    kind = env.get("WAREHOUSE") or ("postgres" if "PGHOST" in env else "duckdb")
    if kind == "spark":
        return warehouse.Warehouse("spark", lake_url=env["LAKE_URL"])
    if kind == "duckdb":
        return warehouse.Warehouse("duckdb", duckdb_path=Path(env["DUCKDB_PATH"]))
    pg = {
        "host": env["PGHOST"],
        "port": env["PGPORT"],
        "user": env["PGUSER"],
        "password": env.get("PGPASSWORD", ""),
        "database": database or env["PGDATABASE"],
        **pg_tls.settings(env=env),
    }
    return warehouse.Warehouse("postgres", pg=pg)


def connect(env: Mapping[str, str], database: str | None = None) -> Any:
    """A DB-API connection to the warehouse ``env`` names (DuckDB read-only; Spark's files)."""
    wh = of_env(env, database)
    if wh.kind == "spark":
        from tests.support import spark

        return spark.connect(env)
    if wh.kind == "duckdb":
        import duckdb

        return duckdb.connect(str(wh.duckdb_path), read_only=True)
    return warehouse.connect(wh)


def query(env: Mapping[str, str], sql: str) -> list[tuple[Any, ...]]:
    """All rows of one query on the warehouse ``env`` names."""
    conn = connect(env)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return [tuple(row) for row in cur.fetchall()]
    finally:
        conn.close()


def dict_rows(env: Mapping[str, str], sql: str) -> list[dict[str, Any]]:
    """All rows of one query on the warehouse ``env`` names, as column -> value."""
    conn = connect(env)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        conn.close()


def query_current(sql: str) -> list[tuple[Any, ...]]:
    """All rows of one query on this process's warehouse (``WAREHOUSE`` etc. in os.environ)."""
    conn = warehouse.connect()
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def count(table: str, where: str = "true") -> int:
    """Rows of ``<dataset>.<table>`` matching ``where`` in this process's warehouse."""
    return int(query_current(f"select count(*) from {table} where {where}")[0][0])


def new_database(server: pg_server.PostgresServer, prefix: str = "t") -> dict[str, str]:
    """A fresh, empty database on ``server``; returns its libpq environment."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(server, name)
    return server.env(name)


def fresh_env(
    kind: str, folder: Path, server: pg_server.PostgresServer | None = None
) -> dict[str, str]:
    """A new, empty warehouse of ``kind``: a DuckDB file under ``folder`` or a database."""
    if kind == "spark":
        from tests.support.spark import spark_env

        return spark_env(folder)
    env = {"WAREHOUSE": kind}
    if kind == "duckdb":
        env["DUCKDB_PATH"] = str(folder / "warehouse" / "analytics.duckdb")
    else:
        assert server is not None, "a PostgreSQL warehouse needs the test server"
        env.update(new_database(server))
    return env
