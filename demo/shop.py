"""The shop application database: its tables, a connection to it, and a copy into PostgreSQL.

Rows come from `lifecycle.py` (the catalogue, order status changes) and `orders.py` (new orders).
"""

from __future__ import annotations

import csv
import io
import logging
import sqlite3
from pathlib import Path
from typing import Any

from demo import settings
from demo.state import SHOP_DB

log = logging.getLogger(__name__)

# `{id}` is `integer` on SQLite (a rowid alias: fast inserts) and `bigint` on PostgreSQL.
TABLES = {
    "products": """
        create table products (
            product_id {id} primary key,
            sku varchar(32) not null,
            name varchar(200) not null,
            category varchar(50) not null,
            list_price numeric(12, 2) not null,
            currency char(3) not null,
            is_active boolean not null,
            created_at timestamp not null,
            updated_at timestamp not null
        )""",
    "orders": """
        create table orders (
            order_id {id} primary key,
            customer_id bigint,
            status varchar(16) not null,
            currency char(3) not null,
            subtotal numeric(12, 2) not null,
            discount_amount numeric(12, 2) not null,
            shipping_amount numeric(12, 2) not null,
            total_amount numeric(12, 2) not null,
            created_at timestamp not null,
            updated_at timestamp not null,
            deleted_at timestamp
        )""",
    "order_items": """
        create table order_items (
            order_item_id {id} primary key,
            order_id bigint not null,
            product_id bigint not null,
            quantity integer not null,
            unit_price numeric(12, 2) not null,
            created_at timestamp not null,
            updated_at timestamp not null
        )""",
}
INDEXES = (
    "create index if not exists products_updated_at on products (updated_at)",
    "create index if not exists orders_updated_at on orders (updated_at)",
    "create index if not exists order_items_updated_at on order_items (updated_at)",
)


def connect(demo_dir: Path) -> sqlite3.Connection:
    """Open `shop.sqlite` (created on first use); the caller picks the journal mode."""
    conn = sqlite3.connect(demo_dir / SHOP_DB, isolation_level=None, check_same_thread=False)
    conn.execute("pragma synchronous = normal")
    conn.execute("pragma cache_size = -262144")  # 256 MB: bulk inserts into indexed tables
    return conn


def create_schema(conn: sqlite3.Connection, indexes: bool = True) -> None:
    """Create the shop tables and (unless `indexes` is False) their `updated_at` indexes.

    `generate` creates the indexes after the history is written: a bulk load is faster
    without them.
    """
    for ddl in TABLES.values():
        conn.execute(ddl.format(id="integer"))
    if indexes:
        create_indexes(conn)


def create_indexes(conn: sqlite3.Connection) -> None:
    """Create the index on every `updated_at` (idempotent)."""
    for ddl in INDEXES:
        conn.execute(ddl)


def connect_postgres(url: str) -> Any:
    """A psycopg2 connection to the database a SQLAlchemy-style URL names."""
    import psycopg2
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return psycopg2.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
    )


def copy_to_postgres(demo_dir: str | Path, url: str, schema: str = "public") -> dict[str, int]:
    """Create the shop schema in PostgreSQL and copy every row of `shop.sqlite` into it.

    Existing shop tables in `schema` are replaced, so the copy is a snapshot of the source.
    Columns added by schema drift are copied too.

    Args:
        demo_dir: the demo directory holding `shop.sqlite`.
        url: SQLAlchemy-style URL, e.g. `postgresql+psycopg2://user:pw@127.0.0.1:5432/shop`.
        schema: target schema (created when missing).

    Returns:
        Rows copied per table.
    """
    from psycopg2 import sql

    source = sqlite3.connect(Path(demo_dir) / SHOP_DB)
    target = connect_postgres(url)
    copied = {}
    try:
        with target, target.cursor() as cur:
            cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            cur.execute(sql.SQL("set search_path to {}").format(sql.Identifier(schema)))
            for table, ddl in TABLES.items():
                cur.execute(
                    sql.SQL("drop table if exists {} cascade").format(sql.Identifier(table))
                )
                cur.execute(ddl.format(id="bigint"))
                known = {line.split()[0] for line in ddl.splitlines()[2:]}
                columns = [r[1] for r in source.execute(f"pragma table_info({table})")]
                for name, kind in source.execute(
                    f"select name, type from pragma_table_info('{table}')"
                ):
                    if name not in known:  # added by schema drift
                        cur.execute(
                            sql.SQL("alter table {} add column {} " + (kind or "text")).format(
                                sql.Identifier(table), sql.Identifier(name)
                            )
                        )
                copied[table] = _copy_table(source, cur, table, columns)
            for ddl in INDEXES:
                cur.execute(ddl)
    finally:
        target.close()
        source.close()
    log.info("copied shop database to PostgreSQL schema %s: %s", schema, copied)
    return copied


def _copy_table(source: sqlite3.Connection, cur, table: str, columns: list[str]) -> int:
    """Stream one SQLite table into PostgreSQL with COPY, in batches."""
    column_list = ", ".join(f'"{c}"' for c in columns)
    rows = source.execute(f"select {column_list} from {table}")
    total = 0
    while batch := rows.fetchmany(settings.DB_BATCH_ROWS):
        buffer = io.StringIO()
        csv.writer(buffer).writerows(batch)
        buffer.seek(0)
        cur.copy_expert(f"copy {table} ({column_list}) from stdin with (format csv)", buffer)
        total += len(batch)
    return total
