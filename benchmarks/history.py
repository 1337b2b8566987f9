"""``--history-days N``: the next day's incremental ``dbt build`` after N days of history.

N demo days are loaded and built in full; one more day is loaded; then, from the same
warehouse state (a copy is taken after that load), three builds: the next day's incremental
build (tests read the rows it touched), the same build testing the whole history
(``full_history_tests``: the weekly job's cost), and a full refresh of all N + 1 days. Right
after the first, the same build again with nothing new: the floor every build pays.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import project

if TYPE_CHECKING:
    from benchmarks.runner import Bench

FULL_HISTORY = ["--vars", json.dumps({"full_history_tests": True})]
# the models whose tests read only the touched rows (dbt_project.yml, macros/build_window.sql)
WINDOWED = ("stg_events__events", "int_events_sessionized", "fct_sessions")


def test_seconds(run_results: Path) -> dict[str, float | int]:
    """Seconds the build's data tests took (summed over threads), all and the windowed ones."""
    try:
        results = json.loads(run_results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return {}
    tests = [r for r in results if str(r["unique_id"]).startswith("test.")]
    windowed = [r for r in tests if any(m in str(r["unique_id"]) for m in WINDOWED)]
    return {
        "tests": len(tests),
        "test_s": round(sum(float(r.get("execution_time") or 0) for r in tests), 1),
        "windowed_tests": len(windowed),
        "windowed_test_s": round(sum(float(r.get("execution_time") or 0) for r in windowed), 1),
    }


def phases(bench: Bench) -> None:
    """History, the next day, and the three builds per warehouse."""
    days = bench.s.history_days
    with bench.ws.demo_api():
        for wh in bench.s.warehouses:
            step = project.ingest(bench, f"{wh}.history.ingest", f"ingest {days} days", wh, None)
            project.dbt_build(
                bench, f"{wh}.history.build", f"dbt build of {days} days (full)", wh, step.rows
            )
    bench.advance()
    with bench.ws.demo_api():
        for wh in bench.s.warehouses:
            next_day(bench, wh, days)


def next_day(bench: Bench, wh: str, days: int) -> None:
    """The next day's load, then its builds from the same warehouse state."""
    step = project.ingest(bench, f"{wh}.history.ingest_next", f"ingest day {days + 1}", wh, None)
    rows = step.rows
    saved = snapshot(bench, wh)
    builds = [  # (name, label, dbt args, raw rows the build is for)
        ("next_day", f"dbt build of day {days + 1} (incremental, tests on touched rows)", [], rows),
        ("nothing_new", project.NOTHING_NEW, [], 0),
        (
            "next_day_full_tests",
            f"dbt build of day {days + 1} (incremental, tests on the whole history)",
            FULL_HISTORY,
            rows,
        ),
        (
            "full_refresh",
            f"dbt build --full-refresh of all {days + 1} days",
            ["--full-refresh"],
            rows,
        ),
    ]
    for name, label, args, built in builds:
        if name == "next_day_full_tests":
            restore(bench, wh, saved)
        step = project.dbt_build(bench, f"{wh}.history.{name}", label, wh, built, args)
        target = Path(bench.ws.wh_env(wh)["DBT_TARGET_PATH"]) / "run_results.json"
        step.details.update(test_seconds(target))
    drop_snapshot(bench, wh, saved)


def snapshot(bench: Bench, wh: str) -> str:
    """A copy of the warehouse (DuckDB: the file; PostgreSQL: a database from it as template)."""
    env = bench.ws.wh_env(wh)
    if wh == "duckdb":
        path = Path(env["DUCKDB_PATH"])
        copy = path.with_name(path.name + ".snapshot")
        shutil.copyfile(path, copy)
        return str(copy)
    bench.ws.copy_database(env["PGDATABASE"], "bench_snapshot")
    return "bench_snapshot"


def restore(bench: Bench, wh: str, saved: str) -> None:
    """Put the warehouse back to the snapshot's state."""
    env = bench.ws.wh_env(wh)
    if wh == "duckdb":
        shutil.copyfile(saved, env["DUCKDB_PATH"])
        return
    bench.ws.copy_database(saved, env["PGDATABASE"])


def drop_snapshot(bench: Bench, wh: str, saved: str) -> None:
    """Remove the copy."""
    if wh == "duckdb":
        Path(saved).unlink(missing_ok=True)
    else:
        bench.ws.drop_database(saved)
