"""The whole harness at a tiny scale: it runs every phase and writes a complete report.

Timing is never asserted here (speed is what the benchmark reports, not what a test checks).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT


@pytest.mark.slow
def test_benchmark_at_tiny_scale_measures_limits_and_loaders_and_writes_report(
    tmp_path: Path,
) -> None:
    results = tmp_path / "results"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks",
        "--scale",
        "0.05",
        "--warehouses",
        "duckdb",
        "--skip-naive",
        "--sources",
        "events",
        "--skip-dbt",
        "--skip-next-day",
        "--work-dir",
        str(tmp_path / "work"),
        "--results-dir",
        str(results),
        "--name",
        "smoke",
    ]
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    report = json.loads((results / "smoke.json").read_text())
    steps = {s["id"]: s for s in report["steps"]}
    generated = steps["demo.generate"]["rows"]
    assert generated > 0
    # The bare read and the loader saw the same event files (the loader rejects bad lines).
    assert steps["limit.duckdb_read"]["rows"] >= steps["duckdb.ingest.events"]["rows"] > 0
    assert steps["limit.http_crm"]["rows"] > 0 and steps["limit.db_shop"]["rows"] > 0
    # dlt alone lands every valid row DuckDB read; the loader lands the same ones.
    assert steps["limit.dlt_duckdb"]["rows"] == steps["duckdb.ingest.events"]["rows"]
    for step in steps.values():
        assert step["ok"], step
        if not step["derived"]:
            assert step["wall_s"] > 0 and step["peak_rss_bytes"] > 10 * 1024**2
    # Nothing new to load: the no-op run writes no event rows.
    assert steps["duckdb.ingest.noop"]["details"]["per_table"].get("raw_events.events", 0) == 0
    assert steps["duckdb.ingest.events"]["details"]["per_table"] == {
        "raw_events.events": steps["duckdb.ingest.events"]["rows"]
    }

    found = {t["id"]: t for t in report["targets"]}
    assert found["events_duckdb"]["value"] == (
        steps["duckdb.ingest.events"]["wall_s"] / steps["limit.duckdb_read"]["wall_s"]
    )
    assert "dlt alone" in found["events_duckdb"]["note"]
    assert "start-up of a loader process" in found["crm_duckdb"]["note"]
    assert found["dbt_duckdb"]["met"] is None  # skipped here, so reported as not measured
    table = (results / "smoke.md").read_text()
    assert "| step | warehouse | rows | wall s | rows/s | peak RSS |" in table
    assert "ingest events (day 1)" in table
