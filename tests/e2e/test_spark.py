"""The project on Apache Spark: a two-worker standalone cluster on 127.0.0.1, the same marts.

`make test` runs the slice: start the cluster, land one small demo in DuckDB and, through the
run script (its lock and lake ledger), in the lake, build the models on the cluster while one
worker is killed, and compare every mart row for row with DuckDB's build. `make test-spark`
(SPARK_FULL=1) builds with every dbt test and runs the run script through an incremental day,
a backfill and a full refresh, reconciling each with the demo's truth, then reads `status` and
`report` on Spark.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.spark_cluster import SparkCluster, running_cluster
from demo.state import load_state
from tests.faults.e2e_reconcile import reconcile
from tests.support import spark
from tests.support.cli import Cli, cli_env
from tests.support.dbt import DbtProject, write_profiles
from tests.support.demo import demo_cli, make_demo, serve
from tests.support.env import environment
from tests.support.warehouse import connect, fresh_env

pytestmark = [pytest.mark.spark, pytest.mark.e2e, pytest.mark.xdist_group("spark")]

SCALE = 0.02
# The slice builds models and seeds only; `make test-spark` runs every dbt test as well.
MODELS_ONLY = ("--exclude", "resource_type:test", "resource_type:unit_test")
KILL_AFTER_MODELS = 12  # a worker dies once this many models are built (of 48)


def full() -> bool:
    """True under `make test-spark` (SPARK_FULL=1)."""
    return os.environ.get("SPARK_FULL", "") not in ("", "0", "false")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkCluster]:
    """A master and two workers (one core each) as separate processes on 127.0.0.1."""
    with running_cluster(tmp_path_factory.mktemp("spark_cluster"), workers=2, cores=1) as c:
        print(f"\nspark cluster: 1 master + 2 workers up in {c.started_in_s:.1f} s")
        yield c


def _load(env: dict[str, str]) -> None:
    import ingestion

    with environment(env):
        report = ingestion.load()
    assert report.ok, report.errors


def test_spark_marts_on_a_two_worker_cluster_equal_duckdbs_though_a_worker_dies(
    cluster: SparkCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_dir = make_demo(tmp_path / "demo", days=2, scale=SCALE)
    monkeypatch.setenv("DEMO_DIR", str(demo_dir))
    duck_env = fresh_env("duckdb", tmp_path / "duckdb")
    spark_env = spark.spark_env(tmp_path / "spark", cluster)
    for _ in serve(demo_dir, monkeypatch):
        _load(duck_env)
        # the Spark side through the run script: its lock and lake ledger are in the slice
        cli = Cli({**cli_env(tmp_path / "cli"), **spark_env})
        ingested = cli("ingest", timeout=900)
        assert ingested.returncode == 0, ingested.stdout[-3000:] + ingested.stderr[-3000:]
    selection = () if full() else MODELS_ONLY

    built = spark.DbtProcess(spark_env, tmp_path / "dbt_spark", "build", *selection)
    lost = cluster.workers[1]
    while built.process.poll() is None:
        if built.models_done() >= KILL_AFTER_MODELS and cluster.tasks_logged(lost) > 0:
            lost.kill()  # the worker and its executor: a machine gone mid-build
            break
        time.sleep(0.2)
    killed_after = built.models_done()
    code = built.wait()
    assert code == 0, built.output()
    assert not lost.alive, "the build ended before a worker could be killed"
    assert killed_after < 48, f"the worker died after the last model ({killed_after})"

    t0 = time.monotonic()
    with environment(duck_env):
        duck = DbtProject(tmp_path / "dbt_duckdb").invoke("build", *selection)
    duckdb_s = time.monotonic() - t0
    assert duck.success, duck.failures()

    tasks = cluster.tasks_per_worker()
    assert tasks.get("worker-1", 0) > 0 and tasks.get("worker-2", 0) > 0, tasks

    compared, differences = spark.compare_marts(connect(duck_env), connect(spark_env))
    print(
        f"\nspark build {built.duration_s:.0f} s on the cluster (worker-2 killed after "
        f"{killed_after} models), duckdb build {duckdb_s:.0f} s; tasks per worker {tasks}; "
        f"{compared} mart rows compared, {len(differences)} marts differ"
    )
    assert compared > 0
    assert not differences, "\n".join(differences)


def _reconciled_step(cli: Cli, demo_dir: Path, *args: str) -> None:
    """``python -m orchestration <args>``, then the marts must equal the demo's truth."""
    result = cli(*args, timeout=1800)
    assert result.returncode == 0, f"{args}: {result.stdout[-3000:]}"
    found = reconcile(cli.env, demo_dir)
    assert found.mismatches == 0, (args, found.detail)
    assert not any(found.duplicated_keys.values()), (args, found.duplicated_keys)


@pytest.mark.skipif(not full(), reason="make test-spark (SPARK_FULL=1) runs the run script")
def test_run_script_on_spark_reconciles_with_the_truth_after_a_day_a_backfill_and_a_refresh(
    cluster: SparkCluster, tmp_path: Path
) -> None:
    demo_dir = make_demo(tmp_path / "demo", days=3, scale=SCALE)
    env = cli_env(tmp_path)
    env.update(spark.spark_env(tmp_path / "spark", cluster))
    env.update(DEMO_DIR=str(demo_dir), DBT_PROFILES_DIR=str(write_profiles(tmp_path / "prof")))
    with pytest.MonkeyPatch.context() as patch:
        for url in serve(demo_dir, patch):
            cli = Cli({**env, "DEMO_API_URL": url})
            _reconciled_step(cli, demo_dir, "run")
            demo_cli(demo_dir, "advance")
            _reconciled_step(cli, demo_dir, "run")  # the incremental day
            state = load_state(demo_dir)
            _reconciled_step(
                cli, demo_dir, "backfill", "--start", state.first_day, "--end", state.last_day
            )
            _reconciled_step(cli, demo_dir, "run", "--full-refresh")
            status = cli("status", timeout=600)
            assert status.returncode == 0, status.stdout[-2000:]
            assert "success" in status.stdout and "No runs recorded" not in status.stdout
            report = cli("report", "--out", str(tmp_path / "health.html"), timeout=600)
            assert report.returncode == 0, report.stdout[-2000:]
