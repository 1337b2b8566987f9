"""Keep a PostgreSQL copy of the shop in step with `shop.sqlite`, row by row.

`shop.copy_to_postgres` replaces the tables, which a change-data-capture reader cannot follow
(new tables, no row changes). `sync_to_postgres` applies what changed in the SQLite shop since
the last sync as ordinary deletes, updates and inserts, each statement its own transaction, so
the PostgreSQL shop's WAL holds the changes an application would have made.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

from demo import settings
from demo.shop import TABLES, connect_postgres
from demo.state import SHOP_DB

KEYS = {"products": "product_id", "orders": "order_id", "order_items": "order_item_id"}


def sync_to_postgres(demo_dir: str | Path, url: str, schema: str = "public") -> dict[str, int]:
    """Apply the SQLite shop's changes to its PostgreSQL copy (made by `copy_to_postgres`).

    Returns:
        Rows changed per ``<table>.<operation>`` (insert, update, delete).
    """
    from psycopg2 import sql

    source = sqlite3.connect(Path(demo_dir) / SHOP_DB)
    target = connect_postgres(url)
    target.autocommit = True
    changed: dict[str, int] = {}
    try:
        with target.cursor() as cur:
            cur.execute(sql.SQL("set search_path to {}").format(sql.Identifier(schema)))
            for table, key in KEYS.items():
                columns = [r[1] for r in source.execute(f"pragma table_info({table})")]
                cur.execute("drop table if exists pg_temp.incoming")
                ddl = (
                    TABLES[table]
                    .format(id="bigint")
                    .replace(f"table {table}", "temp table incoming", 1)
                )
                cur.execute(ddl)
                _copy_table_into(source, cur, table, columns)
                changed.update(_apply(cur, table, key, columns))
    finally:
        target.close()
        source.close()
    return changed


def _copy_table_into(source: sqlite3.Connection, cur, table: str, columns: list[str]) -> None:
    """Stream one SQLite table into the session's `incoming` table with COPY."""
    column_list = ", ".join(f'"{c}"' for c in columns)
    rows = source.execute(f"select {column_list} from {table}")
    while batch := rows.fetchmany(settings.DB_BATCH_ROWS):
        buffer = io.StringIO()
        csv.writer(buffer).writerows(batch)
        buffer.seek(0)
        cur.copy_expert(f"copy incoming ({column_list}) from stdin with (format csv)", buffer)


def _apply(cur, table: str, key: str, columns: list[str]) -> dict[str, int]:
    """Deletes, then updates, then inserts: each one statement and one transaction."""
    from psycopg2 import sql

    t, i, k = sql.Identifier(table), sql.Identifier("incoming"), sql.Identifier(key)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    sets = sql.SQL(", ").join(sql.SQL("{0} = i.{0}").format(sql.Identifier(c)) for c in columns)
    t_row = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in columns)
    i_row = sql.SQL(", ").join(sql.SQL("i.{}").format(sql.Identifier(c)) for c in columns)
    statements = {
        "delete": sql.SQL("delete from {t} where {k} not in (select {k} from {i})"),
        "update": sql.SQL(
            "update {t} as t set {sets} from {i} as i"
            " where t.{k} = i.{k} and ({t_row}) is distinct from ({i_row})"
        ),
        "insert": sql.SQL(
            "insert into {t} ({cols}) select {cols} from {i} where {k} not in (select {k} from {t})"
        ),
    }
    counts = {}
    for op, statement in statements.items():
        cur.execute(statement.format(t=t, i=i, k=k, cols=cols, sets=sets, t_row=t_row, i_row=i_row))
        counts[f"{table}.{op}"] = cur.rowcount
    return counts
