"""The shop loader's fingerprint check on a real SQLite source and a DuckDB warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

from ingestion.sql_database.deletes import unchanged


def _worlds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, landed: list[Any]) -> sa.Engine:
    """A SQLite source with keys 1..10 and a DuckDB warehouse holding ``landed``."""
    monkeypatch.setenv("WAREHOUSE", "duckdb")
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as conn:
        conn.execute("create schema raw_shop")
        kind = "bigint" if all(isinstance(k, int) for k in landed) else "text"
        conn.execute(f"create table raw_shop.orders (order_id {kind})")
        conn.executemany("insert into raw_shop.orders values (?)", [(k,) for k in landed])
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shop.sqlite'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("create table orders (order_id integer primary key)")
        conn.exec_driver_sql(
            "insert into orders values " + ",".join(f"({k})" for k in range(1, 11))
        )
    return engine


SPEC = {"primary_key": "order_id"}


def test_the_fingerprint_spares_the_key_diff_only_while_nothing_is_gone_or_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _worlds(tmp_path, monkeypatch, landed=list(range(1, 9)))
    # 9 and 10 are in the source but not landed yet: above the highest landed key, not compared
    assert unchanged(engine, "raw_shop", "orders", SPEC, flagged={})

    with engine.begin() as conn:
        conn.exec_driver_sql("delete from orders where order_id = 3")
    assert not unchanged(engine, "raw_shop", "orders", SPEC, flagged={})
    assert unchanged(engine, "raw_shop", "orders", SPEC, flagged={"3": True})  # recorded

    with engine.begin() as conn:
        conn.exec_driver_sql("insert into orders values (3)")
    assert not unchanged(engine, "raw_shop", "orders", SPEC, flagged={"3": True})  # back


def test_text_keys_and_a_missing_table_go_to_the_key_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _worlds(tmp_path, monkeypatch, landed=["1", "2"])
    assert not unchanged(engine, "raw_shop", "orders", SPEC, flagged={})
    assert not unchanged(engine, "raw_shop", "order_items", SPEC, flagged={})
