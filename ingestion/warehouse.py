"""Warehouse selection shared by the loaders, the run script and the tests.

One switch for both tools: ``WAREHOUSE`` (``duckdb`` by default, or ``postgres``). DuckDB's
file is ``DUCKDB_PATH`` (default ``warehouse/analytics.duckdb``); PostgreSQL is reached through
the standard libpq variables, which ``profiles.example.yml`` reads too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_DUCKDB_PATH = "warehouse/analytics.duckdb"
SUPPORTED = ("duckdb", "postgres")


class WarehouseConfigError(ValueError):
    """A warehouse setting is missing or invalid."""


@dataclass(frozen=True)
class Warehouse:
    """The warehouse the current process talks to."""

    kind: str
    duckdb_path: Path | None = None
    pg: dict[str, str] | None = None

    def describe(self) -> str:
        """A human-readable location without secrets."""
        if self.kind == "duckdb":
            return str(self.duckdb_path)
        assert self.pg is not None
        return f"postgresql://{self.pg['user']}@{self.pg['host']}:{self.pg['port']}/{self.pg['database']}"


def current() -> Warehouse:
    """Read the warehouse settings from the environment."""
    kind = os.environ.get("WAREHOUSE", "duckdb").strip().lower() or "duckdb"
    if kind not in SUPPORTED:
        raise WarehouseConfigError(f"WAREHOUSE={kind!r} is not supported; use one of {SUPPORTED}")
    if kind == "duckdb":
        path = Path(os.environ.get("DUCKDB_PATH") or DEFAULT_DUCKDB_PATH)
        return Warehouse(kind, duckdb_path=path)
    pg = {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", os.environ.get("USER", "postgres")),
        "password": os.environ.get("PGPASSWORD", ""),
        "database": os.environ.get("PGDATABASE", "analytics"),
    }
    return Warehouse(kind, pg=pg)


def destination(warehouse: Warehouse | None = None) -> Any:
    """Build the dlt destination for the selected warehouse."""
    import dlt  # here, not at the top: the run lock is checked before dlt's slow import

    wh = warehouse or current()
    if wh.kind == "duckdb":
        assert wh.duckdb_path is not None
        wh.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(credentials=str(wh.duckdb_path.resolve()))
    assert wh.pg is not None
    return dlt.destinations.postgres(
        credentials={
            "drivername": "postgresql",
            "host": wh.pg["host"],
            "port": int(wh.pg["port"]),
            "username": wh.pg["user"],
            "password": wh.pg["password"],
            "database": wh.pg["database"],
        }
    )


def connect(warehouse: Warehouse | None = None) -> Any:
    """Open a DB-API connection to the warehouse (DuckDB or psycopg2)."""
    wh = warehouse or current()
    if wh.kind == "duckdb":
        import duckdb

        assert wh.duckdb_path is not None
        wh.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(wh.duckdb_path))
    import psycopg2

    assert wh.pg is not None
    return psycopg2.connect(
        host=wh.pg["host"],
        port=wh.pg["port"],
        user=wh.pg["user"],
        password=wh.pg["password"],
        dbname=wh.pg["database"],
    )
