"""How much the warehouse holds on disk after a step: the figure behind "size per day of data".

DuckDB: the database file (and its WAL) plus the bytes of its used blocks (a file keeps freed
blocks until they are reused); PostgreSQL: ``pg_database_size`` and the share of it in dlt's
``*_staging`` schemas. Spark's lake is not measured here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.warehouse_rows import connect

_PG_STAGING_SQL = (
    "select coalesce(sum(pg_total_relation_size(c.oid)), 0) from pg_class c "
    "join pg_namespace n on n.oid = c.relnamespace "
    "where n.nspname like 'raw%\\_staging' escape '\\' and c.relkind in ('r', 'm')"
)


def measure(env: dict[str, str]) -> dict[str, Any]:
    """The warehouse's size on disk and the rows kept in dlt's staging schemas ({} for Spark)."""
    wh = env.get("WAREHOUSE", "duckdb")
    if wh == "spark":
        return {}
    out: dict[str, Any] = {}
    if wh == "duckdb":
        path = Path(env["DUCKDB_PATH"])
        wal = path.with_name(path.name + ".wal")
        out["file_bytes"] = sum(p.stat().st_size for p in (path, wal) if p.exists())
    conn = connect(env)
    if conn is None:
        return out
    try:
        cur = conn.cursor()
        if wh == "duckdb":
            cur.execute("select block_size, used_blocks from pragma_database_size()")
            block_size, used = cur.fetchone()
            out["used_bytes"] = int(block_size) * int(used)
        else:
            cur.execute("select pg_database_size(current_database())")
            out["database_bytes"] = int(cur.fetchone()[0])
            cur.execute(_PG_STAGING_SQL)
            out["staging_bytes"] = int(cur.fetchone()[0])
        out["staging_rows"] = _staging_rows(cur)
    finally:
        conn.close()
    return out


def _staging_rows(cur: Any) -> int:
    """Rows left in dlt's ``raw_<system>_staging`` tables (copies of the last merge's input)."""
    cur.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema like 'raw%\\_staging' escape '\\'"
    )
    total = 0
    for schema, table in cur.fetchall():
        cur.execute(f'select count(*) from "{schema}"."{table}"')
        total += int(cur.fetchone()[0])
    return total
