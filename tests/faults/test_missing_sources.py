"""A missing source is an error: never an empty database created at the source.

SQLite creates a database file when it opens a missing one; a source on an unmounted share
would then look empty (and, before the deletes needed evidence, wipe the marts). A SQLite
source is opened read-only: a missing file fails the load naming the path and nothing is
created. A PostgreSQL source whose declared table is missing (a half-restored schema) fails
naming the table, and loads once the table is back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from demo import pg_server
from tests.faults.empty_support import shop_world, template
from tests.support.warehouse import fresh_env, new_database

AREA = "sources that look empty"
WAREHOUSES = [
    pytest.param("duckdb", marks=pytest.mark.xdist_group("missing_duckdb")),
    pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.xdist_group("missing_pg")]),
]


@pytest.fixture(scope="session")
def missing_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template(tmp_path_factory)


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_a_missing_database_file_or_table_fails_naming_it_and_creates_nothing(
    kind: str,
    missing_template: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    figure: Callable[..., Any],
) -> None:
    server: pg_server.PostgresServer = request.getfixturevalue("postgres")
    world = shop_world(kind, missing_template, tmp_path, server if kind == "postgres" else None)
    unmounted = tmp_path / "share" / "shop.sqlite"  # the mount point is there, its file not
    unmounted.parent.mkdir()
    missing = world.load(SOURCES__SHOP__CREDENTIALS=f"sqlite:///{unmounted}")
    created = unmounted.exists()
    named = f"the SQLite database file {unmounted} does not exist" in " ".join(missing.errors)
    figure(AREA, "missing SQLite file: error naming the path, file created", f"{named}, {created}",
           "True, False", named and not created, kind)  # fmt: skip
    assert not missing.ok and named and not created, missing.errors

    # the shop in PostgreSQL, one of its tables missing (a half-restored schema)
    pg = new_database(server, prefix="shop")
    url = (f"postgresql+psycopg2://{pg['PGUSER']}:{pg.get('PGPASSWORD', '')}@{pg['PGHOST']}:"
           f"{pg['PGPORT']}/{pg['PGDATABASE']}")  # fmt: skip
    from demo.shop import copy_to_postgres

    copy_to_postgres(world.demo_dir, url)
    fresh = tmp_path / "pg_source"
    world.env.update(fresh_env(kind, fresh, server if kind == "postgres" else None))
    world.env["DLT_DATA_DIR"] = str(fresh / "dlt")
    _psql(pg, "alter table order_items rename to order_items_restoring")
    no_table = world.load(SOURCES__SHOP__CREDENTIALS=url)
    table_named = "table 'order_items' does not exist in the source database" in " ".join(
        no_table.errors
    )
    _psql(pg, "alter table order_items_restoring rename to order_items")
    back = world.load(SOURCES__SHOP__CREDENTIALS=url)
    figure(AREA, "PostgreSQL source without a declared table: error naming it, then loads",
           f"{table_named}, {back.ok}", "True, True", table_named and back.ok, kind)  # fmt: skip
    assert not no_table.ok and table_named, no_table.errors
    assert back.ok, back.errors


def _psql(env: Mapping[str, str], sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env.get("PGPASSWORD", ""),
        dbname=env["PGDATABASE"],
    )
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()
