"""The shop loader's key reconciliation: which landed keys are gone, which came back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlalchemy as sa

from ingestion.sql_database.deletes import as_keys, deleted_records_resource, reconcile, unchanged


def _keys(*values: int) -> pa.Array:
    return pa.array([str(v) for v in values], pa.string())


def test_landed_keys_missing_from_the_source_are_reported_once() -> None:
    gone, back = reconcile(_keys(1, 2, 3, 4), _keys(1, 3, 5), flagged={"4": True})

    assert gone == ["2"]  # 4 was reported by an earlier run; 5 is new, not deleted
    assert back == []


def test_a_deleted_key_that_reappears_in_the_source_is_reported_back() -> None:
    gone, back = reconcile(_keys(1, 2), _keys(1, 2, 7), flagged={"2": True, "7": True, "9": False})

    assert gone == []
    assert back == ["2", "7"]


def test_integer_keys_are_compared_as_integers_and_reported_as_text() -> None:
    landed, present = as_keys([1, 2, 3, 2**40]), as_keys([1, 3])

    assert landed.type == pa.int64()
    assert reconcile(landed, present, flagged={"3": True}) == (["1099511627776", "2"], ["3"])


def test_keys_of_different_types_on_each_side_are_compared_as_text() -> None:
    landed, present = as_keys(["1", "2", "a"]), as_keys([1, 2])

    assert reconcile(landed, present, flagged={}) == (["a"], [])
    assert reconcile(as_keys([]), present, flagged={"2": True}) == ([], ["2"])


def test_a_composite_primary_key_is_refused_with_the_table_named() -> None:
    tables = {"lines": {"primary_key": ["order_id", "line"], "detect_hard_deletes": True}}

    with pytest.raises(ValueError, match=r"'lines'.*single-column primary_key"):
        deleted_records_resource("shop", "raw_shop", "sqlite://", tables)


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
