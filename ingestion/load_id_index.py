"""A block range (BRIN) index on ``_dlt_load_id`` of every raw table on PostgreSQL.

Load ids grow with time and each load's rows are written after the earlier loads', so a BRIN
index (a few kB a table, nearly free to keep) lets dbt's ``_dlt_load_id > <newest kept>`` read
only the new loads' pages instead of the whole history. DuckDB's zone maps and the lake's files
need none.
"""

from __future__ import annotations

import hashlib
import logging

from ingestion import warehouse
from ingestion.identifiers import MAX_BYTES

logger = logging.getLogger(__name__)

LOCK_TIMEOUT = "5s"  # a writer holding the table: try again next run rather than wait
_SUFFIX = "__load_id_brin"
_MISSING = """
select columns.table_name
from information_schema.columns as columns
join information_schema.tables as tables
    on tables.table_schema = columns.table_schema and tables.table_name = columns.table_name
where columns.table_schema = %s
    and columns.column_name = '_dlt_load_id'
    and tables.table_type = 'BASE TABLE'
    and columns.table_name not like '\\_dlt\\_%%'
    and not exists (
        select 1
        from pg_indexes as indexes
        where indexes.schemaname = columns.table_schema
            and indexes.tablename = columns.table_name
            and indexes.indexdef like '%% USING brin (_dlt_load_id)'
    )
order by 1
"""


def index_name(table: str) -> str:
    """``<table>__load_id_brin``; past 63 bytes the table's name is cut and a hash added."""
    name = f"{table}{_SUFFIX}"
    if len(name.encode()) <= MAX_BYTES:
        return name
    digest = hashlib.sha256(table.encode()).hexdigest()[:8]
    room = MAX_BYTES - len(_SUFFIX) - len(digest) - 1
    return f"{table.encode()[:room].decode(errors='ignore')}_{digest}{_SUFFIX}"


def ensure(wh: warehouse.Warehouse, dataset: str) -> list[str]:
    """Index the tables of ``dataset`` that lack it; returns them. Whatever goes wrong is
    logged and left for the next run: the index only speeds reads up, a load never fails on it."""
    if wh.kind != "postgres":
        return []
    try:
        missing = [table for (table,) in warehouse.query(wh, _MISSING, (dataset,))]
    except Exception as exc:  # a slower read, never a failed load
        logger.warning("%s: load-id indexes not checked (%s)", dataset, exc)
        return []
    return [table for table in missing if _create(wh, dataset, table)]


def _create(wh: warehouse.Warehouse, dataset: str, table: str) -> bool:
    from psycopg2 import sql

    statement = sql.SQL("create index {} on {}.{} using brin (_dlt_load_id)").format(
        sql.Identifier(index_name(table)), sql.Identifier(dataset), sql.Identifier(table)
    )
    try:
        with warehouse.cursor(wh) as cur:
            cur.execute(f"set local lock_timeout = '{LOCK_TIMEOUT}'")
            cur.execute(statement)
    except Exception as exc:  # a slower read, never a failed load
        logger.warning("%s.%s: no load-id index yet (%s)", dataset, table, exc)
        return False
    return True
