"""The whole job on the real loaders and the real dbt project, into DuckDB and PostgreSQL.

One full run per warehouse (one test each, so pytest-xdist never repeats the expensive run),
then its outcome, the ledger against the warehouse, ``status`` and the HTML report rendered in
headless Chromium are checked one after the other.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.browser import drawn_charts
from tests.support.cli import Cli, real_project_cli
from tests.support.demo import background_api, generate
from tests.support.warehouse import dict_rows

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


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
    with background_api(demo_dir, cli.env) as api:
        cli.env["DEMO_API_URL"] = api
        yield FullRun(cli, cli("run", timeout=600), tmp_path)


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
    out = full_run.tmp / "reports" / "health.html"
    result = full_run.cli("report", "--out", str(out))
    assert result.returncode == 0, result.stderr
    # raw tables with rows: each day's rows of each is one bar of the rows chart
    bars = dict_rows(
        full_run.cli.env,
        "select count(*) as n from (select table_name, load_date from ops.ops_table_row_counts "
        "where table_name not like '%.rejected_records' and table_name not like "
        "'%.deleted_records' group by table_name, load_date having sum(rows_loaded) > 0) as d",
    )[0]["n"]

    drawn, fetched = drawn_charts(out)

    assert fetched == [], "the report must open offline"
    by_id = {chart_id: (expected, marks) for chart_id, expected, marks in drawn}
    assert set(by_id) == {"rows-per-day", "run-durations", "test-pass-rate", "quarantine-share"}
    assert by_id["rows-per-day"] == (bars, bars) and bars > 0
    # one run: its duration, its tests' pass rate and its load's quarantine share
    assert by_id["run-durations"] == by_id["test-pass-rate"] == (1, 1)
    assert by_id["quarantine-share"] == (1, 1)
