"""The whole job on the real loaders and the real dbt project, into DuckDB and PostgreSQL.

One full run per warehouse (one test each, so pytest-xdist never repeats the expensive run),
then its outcome, the ledger against the warehouse, ``status`` and the HTML report rendered in
headless Chromium are checked one after the other.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo.pg_server import free_port
from tests.support.browser import CHROMIUM_ARGS
from tests.support.cli import Cli, real_project_cli
from tests.support.demo import generate
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import dict_rows

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM_FLAGS = ["--headless", *CHROMIUM_ARGS]


@dataclass
class FullRun:
    cli: Cli
    result: subprocess.CompletedProcess[str]
    tmp: Path


@pytest.fixture(params=["duckdb", "postgres"])
def full_run(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FullRun]:
    demo_dir = generate(tmp_path / "demo_data", scale=0.01)
    server = request.getfixturevalue("postgres") if request.param == "postgres" else None
    cli = real_project_cli(tmp_path, demo_dir, request.param, server)
    port = free_port()
    demo = [sys.executable, "-m", "demo", "--demo-dir", str(demo_dir)]
    # the demo API as `make run` serves it: a background process found by its pid file
    started = subprocess.run(
        [*demo, "serve", "--background", "--port", str(port)],
        cwd=REPO_ROOT, env=cli.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    cli.env["DEMO_API_URL"] = f"http://127.0.0.1:{port}"
    try:
        yield FullRun(cli, cli("run", timeout=600), tmp_path)
    finally:
        subprocess.run([*demo, "stop"], cwd=REPO_ROOT, env=cli.env, timeout=60, check=True)


def test_full_run_then_ledger_status_and_report_agree(full_run: FullRun) -> None:
    check_run_succeeded_and_summarised(full_run)
    check_ledger_rows_match_what_was_loaded(full_run)
    check_status_shows_runs_freshness_failing_tests_and_rejects(full_run)
    check_health_report_charts_draw_in_headless_chromium(full_run)


def check_run_succeeded_and_summarised(full_run: FullRun) -> None:
    result = full_run.result

    assert result.returncode == 0, result.stderr[-3000:]
    summary = re.search(
        r"\((success)\) in [\d.]+s: ([\d,]+) rows loaded, ([\d,]+) rejected; (\d+) models built; "
        r"tests (\d+) passed, (\d+) warned, (\d+) failed",
        result.stdout,
    )
    assert summary is not None, result.stdout[-2000:]
    assert int(summary.group(2).replace(",", "")) > 0
    assert int(summary.group(4)) > 10  # staging, intermediate, marts
    assert int(summary.group(5)) > 50
    assert summary.group(7) == "0"
    for table in ("raw_crm.customers", "raw_fx.rates", "raw_shop.orders", "raw_events.events"):
        assert table in result.stdout
    location = full_run.cli.env.get("DUCKDB_PATH") or full_run.cli.env["PGDATABASE"]
    assert "warehouse: " in result.stdout and location in result.stdout


def check_ledger_rows_match_what_was_loaded(full_run: FullRun) -> None:
    env = full_run.cli.env
    (run,) = dict_rows(env, "select * from ops.runs")
    tables = dict_rows(env, "select * from ops.run_tables where step = 'ingest'")

    assert run["status"] == "success"
    assert run["rows_loaded"] == sum(t["rows_loaded"] for t in tables)
    assert run["rows_rejected"] == sum(t["rows_rejected"] for t in tables)
    for t in tables:  # a first run into an empty warehouse: every row is new
        (count,) = dict_rows(env, f"select count(*) as n from {t['table_name']}")
        assert count["n"] == t["rows_new"], t["table_name"]
    load_ids = json.loads(run["dlt_load_ids"])
    assert load_ids
    datasets = {t["table_name"].split(".")[0] for t in tables}
    known = set()
    for dataset in datasets:
        known |= {r["load_id"] for r in dict_rows(env, f"select load_id from {dataset}._dlt_loads")}
    assert set(load_ids) <= known
    results = dict_rows(env, "select * from ops.dbt_results")
    assert {r["invocation_id"] for r in results} == {run["dbt_invocation_id"]}
    built = [r for r in results if r["resource_type"] == "model" and r["status"] == "success"]
    assert len(built) == run["models_built"]
    # the ops models read the same ledger
    (status_row,) = dict_rows(
        env, "select count(*) as n from ops.ops_source_status where last_run_id is not null"
    )
    assert status_row["n"] == len(datasets)


def check_status_shows_runs_freshness_failing_tests_and_rejects(full_run: FullRun) -> None:
    (run,) = dict_rows(full_run.cli.env, "select run_id from ops.runs")

    result = full_run.cli("status")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert run["run_id"] in out and "success" in out
    for heading in ("Last runs", "Freshness per source", "Rejected and quarantined rows"):
        assert heading in out
    for dataset in ("raw_crm", "raw_fx", "raw_shop", "raw_events"):
        assert re.search(rf"{dataset}\s+│ \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d", out), dataset
    assert re.search(r"raw_events\.events\s+│ \d+\s+│ \d+", out)  # refused rows per table
    assert "quarantine.quarantine_rows" in out
    assert f"No failed or warning sources, models or tests in the last run ({run['run_id']})" in out


def check_health_report_charts_draw_in_headless_chromium(full_run: FullRun) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "Debian package chromium is required (make system-deps)"
    out = full_run.tmp / "reports" / "health.html"
    result = full_run.cli("report", "--out", str(out))
    assert result.returncode == 0, result.stderr
    tables = dict_rows(
        full_run.cli.env,
        "select distinct table_name from ops.run_tables "
        "where table_name not like '%.rejected_records'",
    )

    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
             out.resolve().as_uri()],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip

    charts = re.findall(
        r'<svg class="chart" id="([^"]+)" data-marks-expected="(\d+)"[^>]*'
        r'data-marks-drawn="(\d+)"',
        dom,
    )
    ids = [c[0] for c in charts]
    assert {"run-durations", "test-outcomes", "rejected-per-day"} <= set(ids)
    assert len([i for i in ids if i.startswith("rows-raw_")]) == len(tables)
    # a table that loaded no rows yet (e.g. raw_crm.deleted_customers) has nothing to draw
    empty = {
        "rows-" + row["table_name"].replace(".", "-")
        for row in dict_rows(
            full_run.cli.env,
            "select table_name from ops.run_tables group by table_name "
            "having coalesce(sum(rows_loaded), 0) = 0",
        )
    }
    for chart_id, expected, drawn in charts:
        assert drawn == expected, chart_id
        if chart_id != "rejected-per-day" and chart_id not in empty:  # no rejects in this demo
            assert int(drawn) > 0, chart_id
    assert len(empty) < len(tables), f"no raw table drew any rows: {sorted(empty)}"
