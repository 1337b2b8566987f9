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

logger = logging.getLogger(__name__)

_MISSING = """
select columns.table_name
from information_schema.columns as columns
where columns.table_schema = %s
    and columns.column_name = '_dlt_load_id'
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
    """The index's name: ``<table>__load_id_brin``, shortened with a hash past 63 bytes."""
    name = f"{table}__load_id_brin"
    if len(name.encode()) <= 63:
        return name
    return f"{table[:40]}_{hashlib.sha256(table.encode()).hexdigest()[:8]}__load_id_brin"


def ensure(wh: warehouse.Warehouse, dataset: str) -> list[str]:
    """Index the tables of ``dataset`` that lack it; returns them. A table that cannot be
    indexed is logged and skipped: the index only speeds reads up."""
    if wh.kind != "postgres":
        return []
    from psycopg2 import sql

    indexed = []
    for (table,) in warehouse.query(wh, _MISSING, (dataset,)):
        statement = sql.SQL("create index if not exists {} on {}.{} using brin (_dlt_load_id)")
        try:
            with warehouse.cursor(wh) as cur:
                cur.execute(
                    statement.format(
                        sql.Identifier(index_name(table)),
                        sql.Identifier(dataset),
                        sql.Identifier(table),
                    )
                )
        except Exception as exc:  # a slower read, never a failed load
            logger.warning("%s.%s: no load-id index (%s)", dataset, table, exc)
            continue
        indexed.append(table)
    return indexed
