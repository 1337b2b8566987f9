"""The benchmark's target arithmetic and report, on plain figures and a saved run."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import measure, report, targets
from benchmarks.results import GIB, StepResult


def _step(step_id: str, wall: float, rows: int = 1000, rss: int = 100 * 1024**2) -> StepResult:
    return StepResult(step_id, step_id, "project", wall_s=wall, rows=rows, peak_rss_bytes=rss)


def test_a_missed_ratio_target_says_by_how_much() -> None:
    steps = {
        s.id: s for s in [_step("limit.duckdb_read", 10.0), _step("duckdb.ingest.events", 18.0)]
    }
    found = {t.id: t for t in targets.evaluate(steps, ["duckdb"], 1000)}
    events = found["events_duckdb"]
    assert events.value == 1.8
    assert events.met is False
    assert "20% over" in events.missed_by


def test_a_ratio_names_the_floors_measured_beside_it_as_multiples_of_the_limit() -> None:
    steps = {
        s.id: s
        for s in [
            _step("limit.duckdb_read", 2.0),
            _step("limit.dlt_duckdb", 5.0),
            _step("duckdb.ingest.events", 8.0),
        ]
    }
    events = {t.id: t for t in targets.evaluate(steps, ["duckdb"], 1000)}["events_duckdb"]
    assert "limit.dlt_duckdb: 2.50× (5.0 s)" in events.note
    assert "python_floor" not in events.note  # not measured: not named


def test_day_two_ratio_also_says_its_cost_per_row_loaded_that_day() -> None:
    steps = {
        s.id: s
        for s in [
            _step("duckdb.dbt.day1", 20.0, rows=1_000),
            _step("duckdb.dbt.day2", 22.0, rows=1_100),
            _step("duckdb.dbt.nothing_new", 5.0, rows=0),
        ]
    }
    day2 = {t.id: t for t in targets.evaluate(steps, ["duckdb"], 1000)}["incremental_duckdb"]
    assert day2.value == 1.1 and day2.met is False
    assert "Per raw row loaded that day: 1.00×" in day2.note
    assert day2.note.endswith("duckdb.dbt.nothing_new: 0.25× (5.0 s).")  # a build's own floor


def test_targets_without_their_steps_are_not_measured_rather_than_met() -> None:
    found = {t.id: t for t in targets.evaluate({}, ["duckdb", "postgres"], 1000)}
    assert found["dbt_postgres"].met is None
    assert "Not measured" in found["dbt_postgres"].note
    assert "events_postgres" in found and "events_duckdb" in found


def test_peak_memory_target_takes_the_largest_ingestion_process() -> None:
    steps = {
        s.id: s
        for s in [
            _step("duckdb.ingest.crm", 1.0, rss=200 * 1024**2),
            _step("duckdb.ingest.events", 1.0, rss=3 * GIB),
            _step("duckdb.ingest2x.events", 1.0, rss=1 * GIB),
        ]
    }
    found = {t.id: t for t in targets.evaluate(steps, ["duckdb"], 10)}
    assert found["rss_1x_duckdb"].step_id == "duckdb.ingest.events"
    assert found["rss_1x_duckdb"].met is False
    assert found["rss_2x_duckdb"].met is True
    assert "2×/1× peak = 0.33." in found["rss_2x_duckdb"].note
    assert "scale 10" in found["dbt_duckdb"].note


def test_peak_memory_with_a_failed_process_is_a_lower_bound_not_a_pass() -> None:
    steps = {
        s.id: s
        for s in [
            _step("duckdb.ingest.events", 1.0, rss=1 * GIB),
            _step("duckdb.ingest2x.crm", 1.0, rss=1 * GIB),
            StepResult(
                "duckdb.ingest2x.events", "e", "project", wall_s=9.0, peak_rss_bytes=GIB, ok=False
            ),
        ]
    }
    found = {t.id: t for t in targets.evaluate(steps, ["duckdb"], 1000)}
    assert found["rss_1x_duckdb"].met is True
    assert found["rss_2x_duckdb"].met is None and "lower bound" in found["rss_2x_duckdb"].note
    assert "2×/1×" not in found["rss_2x_duckdb"].note  # no growth from a peak cut short


def _meta(scale: float, events_per_day: int) -> dict[str, object]:
    """The run metadata a report needs, for a one-warehouse DuckDB run."""
    return {
        "scale": scale,
        "events_per_day": events_per_day,
        "started_at": "a",
        "finished_at": "b",
        "machine": "m",
        "warehouses": ["duckdb"],
        "git_commit": "c",
        "rss_method": "r",
    }


def test_markdown_report_has_one_row_per_step_and_flags_extrapolation() -> None:
    steps = [_step("limit.duckdb_read", 10.0), _step("duckdb.ingest.events", 12.0)]
    steps.append(
        StepResult("naive.extrapolated", "naive", "naive", rows=10, wall_s=5.0, extrapolated=True)
    )
    found = targets.evaluate({s.id: s for s in steps}, ["duckdb"], 1000)
    meta = _meta(1000.0, 10_000_000)
    text = report.markdown(meta, steps, found)
    assert "| rows | wall s | rows/s | peak RSS | ratio to the limit | target | met? |" in text
    assert "*(extrapolated)*" in text
    assert "1.20×" in text and "<= 1.5×" in text


def test_a_failed_step_over_its_time_limit_still_counts_as_a_miss() -> None:
    slow = StepResult("duckdb.dbt.day1", "dbt", "project", wall_s=470.0, ok=False, error="x")
    quick = StepResult("postgres.dbt.day1", "dbt", "project", wall_s=20.0, ok=False, error="x")
    steps = {slow.id: slow, quick.id: quick}
    found = {t.id: t for t in targets.evaluate(steps, ["duckdb", "postgres"], 1000)}
    assert found["dbt_duckdb"].met is False
    assert found["dbt_duckdb"].missed_by.startswith("at least")
    assert found["dbt_postgres"].met is None  # failed and under the limit: undecided
    assert "lower bound" in found["dbt_postgres"].note


def test_a_saved_report_is_rebuilt_with_the_same_steps(tmp_path: Path) -> None:
    steps = [_step("limit.duckdb_read", 10.0), _step("duckdb.ingest.events", 30.0)]
    meta = _meta(1000.0, 1)
    json_path, _ = report.write(tmp_path, "run", meta, steps, [])
    _, md_path = report.rebuild(json_path)
    assert "3.00×" in md_path.read_text()
    assert report.json.loads(json_path.read_text())["steps"][1]["wall_s"] == 30.0


def test_the_slowest_dbt_nodes_are_ranked_from_run_results_and_listed_in_the_report(
    tmp_path: Path,
) -> None:
    run_results = tmp_path / "run_results.json"
    times = {"model.p.stg_events__events": 40.0, "test.p.unique_x.ab12": 3.5, "model.p.dim": 9.25}
    results = [{"unique_id": k, "execution_time": v, "status": "success"} for k, v in times.items()]
    run_results.write_text(json.dumps({"results": results}))

    nodes = measure.slowest_dbt_nodes(run_results, count=2)
    assert [(n["node"], n["kind"], n["s"]) for n in nodes] == [
        ("stg_events__events", "model", 40.0),
        ("dim", "model", 9.2),
    ]
    assert measure.slowest_dbt_nodes(tmp_path / "missing.json") == []

    build = StepResult("duckdb.dbt.day1", "dbt build (day 1, full)", "project", "duckdb")
    build.wall_s, build.details["slowest_nodes"] = 55.0, nodes
    meta = _meta(1.0, 1)
    text = report.markdown(meta, [build], [])
    assert "- dbt build (day 1, full) (duckdb, 55.0 s): stg_events__events 40 s, dim 9.2 s" in text


def test_a_history_run_checks_the_next_day_against_a_full_refresh_only() -> None:
    steps = {
        s.id: s
        for s in [
            _step("duckdb.history.next_day", 20.0),
            _step("duckdb.history.full_refresh", 100.0),
            _step("duckdb.history.next_day_full_tests", 30.0),
            _step("duckdb.history.nothing_new", 15.0),
        ]
    }
    found = targets.evaluate(steps, ["duckdb"], 100)
    assert [(t.id, t.value, t.met) for t in found] == [("history_duckdb", 0.2, True)]
    assert found[0].note == "duckdb.history.nothing_new: 0.15× (15.0 s)."
