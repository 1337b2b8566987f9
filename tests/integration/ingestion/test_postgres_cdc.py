"""A ``postgres_cdc`` source against a real PostgreSQL with logical replication: the snapshot,
then every insert, update and delete exactly once, and the slot confirmed only what landed."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest
from rich.console import Console

from demo import changes, generator, pg_server
from demo.faults import FileFaults
from demo.shop_sync import KEYS
from ingestion import pipelines
from ingestion.postgres_cdc.grants import reader_sql
from orchestration.slot_status import cdc_slots, render_slots
from tests.support.cdc import CdcShop, cdc_shop, change_rows, compare
from tests.support.warehouse import query

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def shop(
    postgres: pg_server.PostgresServer,
    demo_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> CdcShop:
    with cdc_shop(postgres, demo_dir, tmp_path) as found:
        monkeypatch.setenv("INGESTION_SOURCES", str(found.sources_file))
        monkeypatch.setenv("WAREHOUSE", "duckdb")
        monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
        yield found


def slot(shop: CdcShop) -> tuple[int, int]:
    """The slot's WAL held back (bytes) and whether it is active."""
    conn = psycopg2.connect(**shop.server.connect_args(shop.database))
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), active"
                " from pg_replication_slots where slot_name = 'shop_cdc'"
            )
            held, active = cur.fetchone()
            return int(held), int(active)
    finally:
        conn.close()


def load(env: dict[str, str]) -> dict[str, int]:
    report = pipelines.load(["shop"])
    (source,) = report.sources
    assert source.error is None, source.error
    return source.row_counts


def test_snapshot_then_every_change_lands_once_and_the_slot_keeps_up(
    shop: CdcShop, demo_dir: Path, tmp_path: Path
) -> None:
    env = {"WAREHOUSE": "duckdb", "DUCKDB_PATH": str(tmp_path / "wh.duckdb")}
    first = load(env)
    snapshot = change_rows(env)
    assert set(snapshot) == {f"{t}.snapshot" for t in ("products", "orders", "order_items")}
    assert first["orders"] == snapshot["orders.snapshot"] > 0
    assert compare(env, shop).mismatches == []

    # a day of the shop, rows updated twice, updates committed late, hard deletes
    generator.advance(demo_dir, 1, FileFaults())
    shop.sync(demo_dir)
    for _ in range(2):
        changes.update(demo_dir, 0.05, seed=3)
        shop.sync(demo_dir)
    changes.commit_late(demo_dir, 3, age_seconds=3600)
    changes.hard_delete(demo_dir, 0.05)
    shop.sync(demo_dir)
    load(env)

    result = compare(env, shop)
    assert (result.missing, result.extra, result.duplicates) == (0, 0, 0), result.mismatches
    landed = change_rows(env)
    for key, n in shop.changes.items():  # every change the shop committed, once
        assert landed.get(key, 0) == n, (key, landed, shop.changes)
    assert shop.changes["orders.delete"] > 0 and shop.changes["order_items.delete"] > 0
    (twice,) = query(
        env,
        "select count(*) from (select order_id from raw_shop.orders where _cdc_op = 'update'"
        " group by order_id, _dlt_load_id having count(*) > 1) as t",
    )[0]
    assert twice > 0  # some rows changed more than once between the two runs
    held, active = slot(shop)
    assert not active and held < 1 << 20

    assert "orders" not in load(env)  # nothing new: nothing landed, the slot still confirmed
    assert change_rows(env) == landed
    assert slot(shop)[0] < 1 << 20


def test_status_flags_a_slot_whose_retained_wal_grows_until_the_next_load(
    postgres: pg_server.PostgresServer,
    demo_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limit = 1 << 20
    with cdc_shop(postgres, demo_dir, tmp_path, max_retained_wal_bytes=limit) as found:
        monkeypatch.setenv("INGESTION_SOURCES", str(found.sources_file))
        monkeypatch.setenv("WAREHOUSE", "duckdb")
        monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
        load({})
        (after_load,) = cdc_slots()
        assert after_load.problem is None and after_load.retained_bytes < limit
        conn = psycopg2.connect(**postgres.connect_args(found.database))
        conn.autocommit = True
        with conn.cursor() as cur:  # WAL the slot's tables have no part in: others' writes
            cur.execute(
                "create table busy as select g, md5(g::text) from generate_series(1, 50000) g"
            )
        conn.close()
        (held,) = cdc_slots()
        console = Console(record=True, width=200)
        render_slots(console)
        assert held.retained_bytes > limit and "retains" in (held.problem or "")
        shown = console.export_text()
        assert "shop_cdc" in shown and "is the loader running?" in shown
        load({})  # nothing of the shop changed, yet the slot moves on
        (caught_up,) = cdc_slots()
        assert caught_up.problem is None and caught_up.retained_bytes < limit


def test_a_reader_with_only_replication_and_select_loads_and_cannot_write(
    postgres: pg_server.PostgresServer,
    demo_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with cdc_shop(postgres, demo_dir, tmp_path) as found:
        role = f"cdc_{found.database}"
        admin = psycopg2.connect(**postgres.connect_args(found.database))
        admin.autocommit = True
        with admin.cursor() as cur:
            for statement in reader_sql(role, [("public", t) for t in KEYS], "shop_cdc"):
                cur.execute(statement)
        url = found.url.replace(f"//{postgres.user}@", f"//{role}@")
        found.sources_file.write_text(
            found.sources_file.read_text().replace(found.url, url), encoding="utf-8"
        )
        monkeypatch.setenv("INGESTION_SOURCES", str(found.sources_file))
        monkeypatch.setenv("WAREHOUSE", "duckdb")
        monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
        try:
            assert load({})["orders"] > 0
            changes.update(demo_dir, 0.05, seed=2)
            found.sync(demo_dir)
            assert load({})["orders"] == found.changes["orders.update"]
            reader = psycopg2.connect(**{**postgres.connect_args(found.database), "user": role})
            with pytest.raises(psycopg2.errors.InsufficientPrivilege), reader.cursor() as cur:
                cur.execute("delete from orders")
            reader.close()
        finally:
            with admin.cursor() as cur:
                cur.execute(
                    "select pg_drop_replication_slot(slot_name) from pg_replication_slots"
                    " where database = %s",
                    (found.database,),
                )
                cur.execute(f'drop owned by "{role}"; drop role "{role}"')
            admin.close()


def test_reload_recreates_the_slot_and_lands_a_fresh_snapshot(
    shop: CdcShop, demo_dir: Path, tmp_path: Path
) -> None:
    env = {"WAREHOUSE": "duckdb", "DUCKDB_PATH": str(tmp_path / "wh.duckdb")}
    load(env)
    changes.hard_delete(demo_dir, 0.05, seed=4)
    shop.sync(demo_dir)
    report = pipelines.load(["shop"], reload=True)
    assert report.sources[0].error is None, report.sources[0].error
    landed = change_rows(env)
    assert set(landed) == {f"{t}.snapshot" for t in ("products", "orders", "order_items")}
    assert compare(env, shop).mismatches == []
    changes.update(demo_dir, 0.05, seed=4)
    shop.sync(demo_dir)
    load(env)  # the new slot streams on from its own snapshot
    assert compare(env, shop).mismatches == []
    assert change_rows(env)["orders.update"] == shop.changes["orders.update"]
