"""Spark in tests: a warehouse environment, dbt as a child process, the marts read back.

A Spark warehouse is two folders: the lake (raw Parquet, the ledger) and Spark's warehouse dir
(managed tables, ``<schema>.db/<table>``, and the Derby metastore). Tests read both through
DuckDB views over the files, so no second JVM competes with dbt's for the metastore; views
built by dbt (not tables) have no files and are not readable this way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from demo.spark_cluster import SparkCluster
from tests.support.dbt import write_profiles
from tests.support.paths import REPO_ROOT

MARTS = (
    "dim_customers",
    "fct_orders",
    "fct_order_items",
    "fct_daily_revenue",
    "fct_sessions",
    "fct_daily_funnel",
    "fct_cohort_retention",
)


def spark_env(folder: Path, cluster: SparkCluster | None = None) -> dict[str, str]:
    """A new Spark warehouse under ``folder``: on ``cluster``, else ``local[2]``."""
    env = {
        "WAREHOUSE": "spark",
        "LAKE_URL": str(folder / "lake"),
        "SPARK_WAREHOUSE_DIR": str(folder / "spark"),
        "SPARK_MASTER": "local[2]",
        "SPARK_SHUFFLE_PARTITIONS": "2",
    }
    if cluster is not None:
        env.update(cluster.env())
    return env


def connect(env: Mapping[str, str]) -> Any:
    """DuckDB with a view per table of the lake and of Spark's warehouse dir."""
    from ingestion import lake, warehouse

    conn = lake.connect(warehouse.Warehouse("spark", lake_url=env["LAKE_URL"]))
    for table_dir in sorted(Path(env["SPARK_WAREHOUSE_DIR"]).glob("*.db/*")):
        files = [p for p in table_dir.rglob("*.parquet") if not p.name.startswith(".")]
        if not files:
            continue
        schema = table_dir.parent.name.removesuffix(".db")
        conn.execute(f'create schema if not exists "{schema}"')
        conn.execute(
            f'create or replace view "{schema}"."{table_dir.name}" as select * from '
            f"read_parquet('{table_dir}/**/*.parquet', hive_partitioning = true, "
            "union_by_name = true)"
        )
    return conn


class DbtProcess:
    """``dbt <args>`` on the Spark warehouse in ``env``, running as a child process."""

    def __init__(self, env: Mapping[str, str], work_dir: Path, *args: str) -> None:
        self.work_dir = work_dir
        self.log = work_dir / "dbt.out"
        write_profiles(work_dir)
        child_env = {**os.environ, **env}
        child_env.update(
            DBT_PROFILES_DIR=str(work_dir),
            DBT_TARGET_PATH=str(work_dir / "target"),
            DBT_LOG_PATH=str(work_dir / "logs"),
        )
        dbt = str(Path(sys.executable).with_name("dbt"))
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [dbt, *args],
            cwd=REPO_ROOT,
            env=child_env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.duration_s = 0.0

    def models_done(self) -> int:
        """Models finished so far (dbt's ``OK created`` lines)."""
        if not self.log.exists():
            return 0
        return self.log.read_text(errors="replace").count(" OK created ")

    def wait(self, timeout_s: float = 1800) -> int:
        """Wait for dbt to exit; its exit code."""
        code = self.process.wait(timeout=timeout_s)
        self.duration_s = time.monotonic() - self.started
        return code

    def output(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:]


def _normal(value: Any) -> Any:
    """One cell as both engines should agree on it: money to the cent, instants as naive UTC."""
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        return Decimal(str(value)).quantize(Decimal("0.0001"))
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.replace(microsecond=0)
    return value


def rows(conn: Any, table: str) -> list[tuple[Any, ...]]:
    """Every row of ``table`` with its columns in name order (dlt lineage columns left out)."""
    cur = conn.cursor()
    cur.execute(f"select * from {table} limit 0")
    names = sorted(d[0] for d in cur.description if not d[0].startswith("_"))
    cur.execute(f"select {', '.join(names)} from {table}")
    return sorted((tuple(_normal(v) for v in row) for row in cur.fetchall()), key=repr)


def compare_marts(duckdb_conn: Any, spark_conn: Any) -> tuple[int, list[str]]:
    """Rows compared and the differences (one line each) between the two builds' marts."""
    compared, differences = 0, []
    for mart in MARTS:
        want, got = rows(duckdb_conn, f"marts.{mart}"), rows(spark_conn, f"marts.{mart}")
        compared += len(want)
        if want != got:
            only_duckdb = [r for r in want if r not in got][:3]
            only_spark = [r for r in got if r not in want][:3]
            differences.append(
                f"{mart}: {len(want)} rows on DuckDB, {len(got)} on Spark; "
                f"only DuckDB {only_duckdb}; only Spark {only_spark}"
            )
    return compared, differences
