"""Physical removal after an erasure: no dead tuple, freed block or WAL segment keeps the person.

PostgreSQL: ``VACUUM (FULL, ANALYZE)`` of every touched table (rewritten without dead tuples;
fresh statistics, whose sampled values may have held the person), ``VACUUM FULL`` of
``pg_statistic`` (the old statistics' dead rows), then WAL switches and checkpoints so the
segments written before are removed (the server must run with ``wal_recycle = off``: a recycled
segment keeps its old bytes until overwritten). DuckDB: ``CHECKPOINT``, then the database is
copied into a new file (``COPY FROM DATABASE``) that replaces the old one, since freed blocks
keep their bytes. The caller holds the run lock and no connection to the DuckDB file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from ingestion import warehouse as wh

log = logging.getLogger(__name__)

WAL_SWITCHES = 3


def purge(warehouse: wh.Warehouse, tables: Iterable[str]) -> None:
    """Remove the bytes the erasure left below SQL on ``warehouse``."""
    if warehouse.kind == "postgres":
        _postgres(warehouse, sorted(set(tables)))
    elif warehouse.kind == "duckdb":
        assert warehouse.duckdb_path is not None
        compact_duckdb(warehouse.duckdb_path)


def _postgres(warehouse: wh.Warehouse, tables: list[str]) -> None:
    conn = wh.connect(warehouse)
    try:
        conn.autocommit = True  # VACUUM cannot run inside a transaction
        cur = conn.cursor()
        cur.execute("show wal_recycle")
        if cur.fetchone()[0] != "off":
            log.warning("wal_recycle is on: recycled WAL segments keep old bytes until reused")
        for table in tables:
            cur.execute(f"vacuum (full, analyze) {table}")
        cur.execute("vacuum full pg_catalog.pg_statistic")
        for _ in range(WAL_SWITCHES):
            cur.execute("select pg_switch_wal()")
            cur.execute("checkpoint")
    finally:
        conn.close()


def compact_duckdb(path: Path) -> None:
    """Checkpoint the DuckDB file, then replace it with a copy holding only live data."""
    import duckdb

    fresh = path.with_name(path.name + ".erasure-copy")
    fresh.unlink(missing_ok=True)
    conn = duckdb.connect(str(path))
    try:
        conn.execute("checkpoint")
        row = conn.execute("select current_database()").fetchone()
        assert row is not None
        name = row[0]
        conn.execute(f"attach '{fresh}' as erasure_copy")
        conn.execute(f'copy from database "{name}" to erasure_copy')
        conn.execute("detach erasure_copy")
    finally:
        conn.close()
    os.replace(fresh, path)
    Path(str(path) + ".wal").unlink(missing_ok=True)
