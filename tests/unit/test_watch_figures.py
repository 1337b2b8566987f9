"""The watch benchmark's figures, read back from a real DuckDB file holding a watch's ledger."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from benchmarks.watch_figures import figures
from demo.stream import Landed

T0 = datetime(2026, 12, 4, 10, 0, 0)


def _at(seconds: int) -> datetime:
    return T0.replace(second=seconds % 60, minute=seconds // 60)


def _ledger(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema ops; create schema raw_events; create schema marts")
    con.execute(
        "create table ops.runs (run_id varchar, command varchar, started_at timestamp, "
        "ended_at timestamp, status varchar, models_built integer, dlt_load_ids varchar, "
        "rows_loaded bigint, duration_s double, args varchar)"
    )
    runs = [  # r1 loads file 1 but builds nothing; r2 builds it; r3 loads file 2 and builds it
        ("r1", 0, 5, "success", 0, ["L1"], 100, {}),
        ("r2", 6, 12, "success", 3, [], 0, {}),
        ("r3", 20, 31, "success", 3, ["L2"], 120, {"watch": {"idle_polls": 12}}),
    ]
    for run_id, start, end, status, built, loads, rows, args in runs:
        con.execute(
            "insert into ops.runs values (?, 'watch', ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                _at(start),
                _at(end),
                status,
                built,
                json.dumps(loads),
                rows,
                end - start,
                json.dumps(args),
            ],
        )
    con.execute("create table raw_events.file_registry (location varchar, _dlt_load_id varchar)")
    con.execute(
        "insert into raw_events.file_registry values "
        "('date=2026-12-01/b1.parquet', 'L1'), ('date=2026-12-02/b2.parquet', 'L2')"
    )
    con.execute(
        "create table marts.fct_daily_funnel (session_date date, step_number integer, "
        "sessions bigint)"
    )
    con.execute(
        "insert into marts.fct_daily_funnel values ('2026-12-01', 1, 40), ('2026-12-02', 1, 41)"
    )
    con.execute(
        "create table ops.run_steps (run_id varchar, step varchar, started_at timestamp, "
        "ended_at timestamp)"
    )
    con.execute(
        "insert into ops.run_steps values ('r3', 'load', ?, ?), ('r3', 'dbt', ?, ?)",
        [_at(20), _at(22), _at(22), _at(31)],
    )
    con.close()


def test_a_file_counts_when_the_first_building_run_after_its_load_ends(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    _ledger(db)
    landed_at = T0.replace(tzinfo=UTC).timestamp()
    landed = [
        (Landed(1, Path("b1.parquet"), date(2026, 12, 1), 400, 40), landed_at - 2),
        (Landed(2, Path("b2.parquet"), date(2026, 12, 2), 400, 40), landed_at + 18),
        (Landed(3, Path("b3.parquet"), date(2026, 12, 3), 400, 40), landed_at + 30),
    ]
    env = {"WAREHOUSE": "duckdb", "DUCKDB_PATH": str(db)}

    found = figures(env, landed)

    assert found["files_counted"] == 2
    assert found["files_not_counted"] == 1  # b3 was never loaded
    assert found["funnel_days_wrong"] == 1  # day 2 shows 41 sessions for 40 visitors
    assert found["latency_s"]["n"] == 2
    assert found["latency_s"]["max"] == 14.0  # b1: landed at -2 s, r2 (not r1) built it at +12 s
    assert found["latency_s"]["p50"] == 13.5  # b2: landed at +18 s, r3 ended at +31 s
    assert found["runs_failed"] == 0
    assert found["step_s"]["dbt"]["n"] == 1
    assert found["idle"] == {"idle_polls": 12}
