"""The shop database copied into a real PostgreSQL, so loaders can read a PostgreSQL source."""

from __future__ import annotations

import sqlite3

import pytest

from demo import generator
from demo.faults import FileFaults
from demo.shop import copy_to_postgres
from tests.support.warehouse import connect


def _url(env: dict[str, str]) -> str:
    return (
        f"postgresql+psycopg2://{env['PGUSER']}:{env['PGPASSWORD']}@{env['PGHOST']}:"
        f"{env['PGPORT']}/{env['PGDATABASE']}"
    )


@pytest.mark.postgres
def test_copy_to_postgres_copies_every_row_and_drifted_columns(demo_copy, pg_database):
    generator.advance(demo_copy, 1, FileFaults(drift="added"))
    copied = copy_to_postgres(demo_copy, _url(pg_database), schema="shop")
    source = sqlite3.connect(demo_copy / "shop.sqlite")
    expected = {
        t: source.execute(f"select count(*) from {t}").fetchone()[0]
        for t in ("products", "orders", "order_items")
    }
    assert copied == expected
    conn = connect(pg_database)
    with conn, conn.cursor() as cur:
        cur.execute("select count(*), sum(total_amount), count(sales_channel) from shop.orders")
        count, total, channels = cur.fetchone()
        cur.execute(
            "select data_type from information_schema.columns"
            " where table_schema = 'shop' and table_name = 'orders' and column_name = 'subtotal'"
        )
        assert cur.fetchone()[0] == "numeric"
        cur.execute("select count(*) from shop.orders where deleted_at is not null")
        deleted = cur.fetchone()[0]
    conn.close()
    source_total, source_deleted = source.execute(
        "select round(sum(total_amount), 2), count(deleted_at) from orders"
    ).fetchone()
    assert count == expected["orders"]
    assert float(total) == pytest.approx(source_total, abs=0.01)
    assert channels > 0 and deleted == source_deleted


@pytest.mark.postgres
def test_copying_again_replaces_the_snapshot(demo_copy, pg_database):
    copy_to_postgres(demo_copy, _url(pg_database))
    generator.advance(demo_copy, 1)
    copied = copy_to_postgres(demo_copy, _url(pg_database))
    source = sqlite3.connect(demo_copy / "shop.sqlite")
    assert copied["orders"] == source.execute("select count(*) from orders").fetchone()[0]
