"""The Spark path's pure pieces, and that the other paths never import Spark."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from ingestion import lake, spark_sql, warehouse
from orchestration import settings
from orchestration.lake_ledger import SCHEMAS, VERSION_COLUMN, LakeLedger
from orchestration.ledger import DDL
from orchestration.summary import RunRecord
from tests.support.paths import REPO_ROOT


def test_duckdb_and_postgres_paths_never_import_pyspark() -> None:
    code = (
        "import sys, ingestion, ingestion.pipelines, orchestration.runner, orchestration.status, "
        "orchestration.report, orchestration.ledger\n"
        "from ingestion import warehouse\n"
        "warehouse.current(); warehouse.destination()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DUCKDB_PATH": "/nonexistent/x.duckdb"},
        check=True,
    )
    assert out.stdout.strip() == "[]"


def test_spark_is_the_third_value_of_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE", "spark")
    monkeypatch.setenv("LAKE_URL", "s3://bucket/lake")
    loader, transformer = warehouse.current(warehouse.LOADER), warehouse.current("transformer")
    assert (loader.kind, loader.lake_url, loader.catalog) == ("spark", "s3://bucket/lake", False)
    assert transformer.catalog  # dbt's side, and status/report, read the Spark catalog
    assert warehouse.appends_only(loader) and loader.local_path is None
    monkeypatch.delenv("LAKE_URL")
    local = warehouse.current()
    assert local.lake_url == warehouse.DEFAULT_LAKE_URL
    monkeypatch.delenv("ORCHESTRATION__LOCK_PATH", raising=False)
    assert settings.lock_path(local.local_path) == Path("warehouse/.run.lock")


def test_spark_sql_binds_parameters_as_literals() -> None:
    sql = spark_sql.bind(
        "select ? a, ? b, ? c, ? d, ? e, ? f",
        ["it's", 3, Decimal("1.50"), date(2026, 1, 2), datetime(2026, 1, 2, 3, 4, 5), None],
    )
    assert sql == (
        "select 'it\\'s' a, 3 b, 1.50 c, date'2026-01-02' d, "
        "timestamp'2026-01-02 03:04:05' e, null f"
    )
    with pytest.raises(ValueError, match="placeholders"):
        spark_sql.bind("select ?", [])


def test_the_lake_ledger_has_the_sql_ledgers_columns_and_a_version() -> None:
    assert len(SCHEMAS) == len(DDL)
    runs = SCHEMAS["runs"]
    assert runs.names[0] == "run_id" and runs.names[-1] == VERSION_COLUMN
    assert runs.field("duration_s").type == pa.float64()
    assert runs.field("started_at").type == pa.timestamp("us", tz="UTC")
    assert SCHEMAS["run_steps"].field("attempt").type == pa.int32()


def test_a_run_saved_twice_keeps_both_versions_and_the_newest_wins(tmp_path: Path) -> None:
    wh = warehouse.Warehouse("spark", lake_url=str(tmp_path / "lake"))
    ledger = LakeLedger(wh)
    assert not ledger.exists()
    ledger.ensure()  # as on SQL: the tables exist (an empty file each), with no rows
    assert ledger.exists() and ledger.latest_run("r1") is None
    run = RunRecord(run_id="r1", command="run", warehouse="spark", host="h", pid=1, args={})
    ledger.save_run(run)
    run.status, run.ended_at = "success", datetime.now(UTC).replace(tzinfo=None)
    ledger.save_run(run)
    ledger.mark_abandoned("r1", "gone")  # not running any more: nothing appended
    versions = warehouse.query(wh, "select status from ops.runs order by _written_at")
    assert [v[0] for v in versions] == ["running", "success"]
    assert (ledger.latest_run("r1") or {})["status"] == "success"


def test_taking_the_lock_abandons_every_run_whose_newest_version_is_running(tmp_path: Path) -> None:
    wh = warehouse.Warehouse("spark", lake_url=str(tmp_path / "lake"))
    ledger = LakeLedger(wh)
    ledger.ensure()
    runs = {n: RunRecord(run_id=n, command="run", warehouse="spark", host="h", pid=1, args={})
            for n in ("died", "done", "died-too")}  # fmt: skip
    for run in runs.values():
        ledger.save_run(run)
    runs["done"].status = "success"
    ledger.save_run(runs["done"])

    ledger.abandon_unfinished("its process ended")

    status = {n: (ledger.latest_run(n) or {}).get("status") for n in runs}
    assert status == {"died": "abandoned", "done": "success", "died-too": "abandoned"}
    assert (ledger.latest_run("died") or {})["error"] == "its process ended"


def test_rejects_are_rewritten_out_of_the_lake(tmp_path: Path) -> None:
    wh = warehouse.Warehouse("spark", lake_url=str(tmp_path / "lake"))
    rows = pa.table(
        {"location": ["a", "a", "b"], "position": [1, 2, 1], "_dlt_load_id": ["1", "1", "2"]}
    )
    lake.append(wh, "raw_x", "rejected_records", rows)
    dropped = lake.drop_rejects(wh, "raw_x", "rejected_records", lambda loc, _, lid: loc == "a")
    assert dropped == 2
    assert warehouse.query(wh, "select location from raw_x.rejected_records") == [("b",)]
