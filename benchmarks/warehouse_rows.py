"""Count the rows a loader step wrote, from dlt's own load ids in the warehouse.

Every raw table row carries ``_dlt_load_id``. Rows of the loads that appeared during a step are
the rows that step wrote (merged rows get the new load id too). Child tables without the column
are not counted; ``rejected_records`` rows are reported apart; the file drops' ``file_registry``
(one bookkeeping row per file read) is not a loaded row.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

LoadCounts = dict[str, Counter[str]]  # "schema.table" -> load id -> rows

_TABLES_SQL = (
    "select table_schema, table_name from information_schema.columns "
    "where column_name = '_dlt_load_id' and table_schema like 'raw%' "
    "and table_schema <> 'raw_ops' and table_name <> 'file_registry' "
    "and table_name not like '\\_dlt%' escape '\\' order by 1, 2"
)


def connect(env: dict[str, str]) -> Any:
    """A connection to the warehouse ``env`` selects (None when the DuckDB file is missing)."""
    if env.get("WAREHOUSE") == "spark":  # the lake's files, through DuckDB views
        from ingestion import lake, warehouse

        return lake.connect(warehouse.Warehouse("spark", lake_url=env["LAKE_URL"]))
    if env.get("WAREHOUSE", "duckdb") == "duckdb":
        import duckdb

        path = Path(env["DUCKDB_PATH"])
        if not path.exists():
            return None
        return duckdb.connect(str(path), read_only=True)
    import psycopg2

    return psycopg2.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env.get("PGPASSWORD") or None,
        dbname=env["PGDATABASE"],
    )


def dict_rows(env: dict[str, str], sql: str) -> list[dict[str, Any]]:
    """All rows of one query on the warehouse ``env`` selects, as column -> value."""
    conn = connect(env)
    if conn is None:
        raise FileNotFoundError(f"no DuckDB file at {env['DUCKDB_PATH']}")
    try:
        cur = conn.cursor()
        cur.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        conn.close()


def snapshot(env: dict[str, str]) -> LoadCounts:
    """Rows per load id of every raw table in the warehouse that ``env`` selects."""
    conn = connect(env)
    if conn is None:
        return {}
    counts: LoadCounts = {}
    try:
        cur = conn.cursor()
        cur.execute(_TABLES_SQL)
        tables = cur.fetchall()
        for schema, table in tables:
            if schema.endswith("_staging"):  # dlt's merge staging copies, not the raw layer
                continue
            cur.execute(f'select _dlt_load_id, count(*) from "{schema}"."{table}" group by 1')
            counts[f"{schema}.{table}"] = Counter({str(k): int(v) for k, v in cur.fetchall()})
    finally:
        conn.close()
    return counts


def written(before: LoadCounts, after: LoadCounts) -> tuple[int, int, dict[str, int]]:
    """Rows written between two snapshots: (loaded rows, rejected rows, per table)."""
    per_table: dict[str, int] = {}
    for table, loads in after.items():
        old = before.get(table, Counter())
        new_rows = sum(n for load_id, n in loads.items() if load_id not in old)
        if new_rows:
            per_table[table] = new_rows
    rejected = sum(n for t, n in per_table.items() if t.endswith(".rejected_records"))
    loaded = sum(per_table.values()) - rejected
    return loaded, rejected, per_table
