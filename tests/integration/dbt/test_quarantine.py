"""Quarantine on the hand-made raw fixture: every refused row is listed with its reason, and a
table with more than 5 % refused rows fails the build (DuckDB; the SQL is engine-neutral and
the PostgreSQL scenario in test_dbt_project.py runs the same models)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion import warehouse
from tests.support import raw_fixture
from tests.support.dbt import DbtProject
from tests.support.env import environment
from tests.support.warehouse import query

pytestmark = pytest.mark.slow


def _fixture_warehouse(tmp_path: Path) -> dict[str, str]:
    env = {"WAREHOUSE": "duckdb", "DUCKDB_PATH": str(tmp_path / "fixture.duckdb")}
    with environment(env):
        conn = warehouse.connect()
        raw_fixture.build(conn)
        conn.close()
    return env


def test_refused_rows_are_listed_with_their_reason_and_guarded_by_share_tests(
    tmp_path: Path,
) -> None:
    env = _fixture_warehouse(tmp_path)
    dbt = DbtProject(tmp_path / "dbt")
    with environment(env):
        run = dbt.invoke("run", "--select", "+quarantine_rows")
        tests = dbt.invoke("test", "--select", "base_shop__orders")
    assert run.failures() == []
    rows = set(
        query(env, "select source_table, record_key, reason from quarantine.quarantine_rows")
    )
    assert rows == {
        ("raw_shop.orders", "105", "unknown currency"),
        ("raw_shop.orders", "106", "order line with non-positive quantity"),
        ("raw_shop.order_items", "1007", "non-positive quantity"),
        ("raw_shop.order_items", "1005", "order quarantined"),
        ("raw_shop.order_items", "1006", "order quarantined"),
        (
            "raw_events.events",
            "landing/events/date=2026-10-01/g.jsonl.gz:7",
            "malformed JSON",
        ),
    }
    # 1 of 7 raw orders (14 %) is refused: above both thresholds.
    statuses = {r["unique_id"].split(".")[2]: r["status"] for r in tests.results}
    assert statuses["base_shop__orders_quarantine_share"] == "fail"
    assert not tests.success
    # Between the thresholds the same test warns and the build goes on.
    with environment(env):
        between = dbt.invoke(
            "test",
            "--select",
            "base_shop__orders_quarantine_share",
            "--vars",
            "{quarantine_warn_share: 0.1, quarantine_error_share: 0.2}",
        )
        below = dbt.invoke(
            "test",
            "--select",
            "base_shop__orders_quarantine_share",
            "--vars",
            "{quarantine_warn_share: 0.2, quarantine_error_share: 0.3}",
        )
    # (the project's on-run-start hook reports too: only the test's own result counts)
    assert [r["status"] for r in between.results if r["unique_id"].startswith("test.")] == ["warn"]
    assert between.success
    assert [r["status"] for r in below.results if r["unique_id"].startswith("test.")] == ["pass"]
