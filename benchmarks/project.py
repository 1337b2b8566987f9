"""The project's steps per warehouse: each source's load, ``dbt build``, the no-op, day 2, 2×."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import measure, storage, warehouse_rows
from benchmarks.results import StepResult
from orchestration.dbt_step import PRODUCTION_EXCLUDES

if TYPE_CHECKING:
    from benchmarks.runner import Bench

log = logging.getLogger("benchmarks")


NOTHING_NEW = "dbt build again, nothing new"


def ingest(
    bench: Bench, step_id: str, label: str, wh: str, sources: list[str] | None, instance: str = ""
) -> StepResult:
    """``python -m ingestion [--source X]`` with the rows it wrote counted in the warehouse."""
    env = bench.ws.wh_env(wh, instance)
    before = warehouse_rows.snapshot(env)
    cmd = [bench.ws.python, "-m", "ingestion"]
    for name in sources or []:
        cmd += ["--source", name]
    step = bench.run_step(step_id, label, "project", cmd, env, warehouse=wh)
    try:
        loaded, rejected, per_table = warehouse_rows.written(before, warehouse_rows.snapshot(env))
        step.rows = loaded
        step.details.update(rejected=rejected, per_table=per_table)
        log.info("  %s rows written (%s rejected)", f"{loaded:,}", f"{rejected:,}")
    except Exception as exc:  # counting is best effort; the timing stands
        step.note = f"rows not counted: {exc}"
    _record_size(step, env)
    return step


def _record_size(step: StepResult, env: dict[str, str]) -> None:
    """The warehouse's size after the step (best effort, like the row counts)."""
    try:
        step.details["storage"] = storage.measure(env)
    except Exception as exc:
        step.details["storage"] = {"error": str(exc)}


def dbt_build(
    bench: Bench,
    step_id: str,
    label: str,
    wh: str,
    rows: int | None,
    args: list[str] | None = None,
) -> StepResult:
    """``dbt build [args]`` from the repo root against ``wh``."""
    dbt = str(Path(bench.ws.python).parent / "dbt")
    env = bench.ws.wh_env(wh)
    cmd = [dbt, "build", *PRODUCTION_EXCLUDES, *(args or [])]
    step = bench.run_step(step_id, label, "project", cmd, env, wh, rows)
    step.note = "rows = raw rows loaded for the day"
    run_results = Path(env["DBT_TARGET_PATH"]) / "run_results.json"
    step.details["slowest_nodes"] = measure.slowest_dbt_nodes(run_results)
    _record_size(step, env)
    return step


def first_day(bench: Bench, wh: str) -> None:
    """Each source on its own into a fresh warehouse, then ``dbt build``."""
    parts = []
    for name in bench.sources:
        step_id = f"{wh}.ingest.{name}"
        ingest(bench, step_id, f"ingest {name} (day 1)", wh, [name])
        parts.append(step_id)
    bench.derived(f"{wh}.ingest.total", "ingest, all sources (day 1)", parts, wh)
    if bench.s.skip_dbt:
        return
    rows = bench.steps[f"{wh}.ingest.total"].rows
    dbt_build(bench, f"{wh}.dbt.day1", "dbt build (day 1, full)", wh, rows)
    bench.derived(f"{wh}.e2e.day1", "whole day end to end (day 1)", [*parts, f"{wh}.dbt.day1"], wh)


def no_op(bench: Bench, wh: str) -> None:
    """Every source again with nothing new to load."""
    ingest(
        bench, f"{wh}.ingest.noop", f"ingest, {bench.which}, nothing new (no-op)", wh, bench.only
    )


def next_day(bench: Bench, wh: str) -> None:
    """One run of every source after ``demo advance``, the incremental ``dbt build``, and the
    same build again with nothing new (what any build costs, whatever it finds)."""
    step = ingest(
        bench, f"{wh}.ingest.day2", f"ingest, {bench.which} (day 2, incremental)", wh, bench.only
    )
    if bench.s.skip_dbt:
        return
    dbt_build(bench, f"{wh}.dbt.day2", "dbt build (day 2, incremental)", wh, step.rows)
    dbt_build(bench, f"{wh}.dbt.nothing_new", NOTHING_NEW, wh, 0)
    bench.derived(
        f"{wh}.e2e.day2",
        "whole day end to end (day 2)",
        [f"{wh}.ingest.day2", f"{wh}.dbt.day2"],
        wh,
    )


def double_volume(bench: Bench, wh: str) -> None:
    """Both days at once into a second, empty warehouse: 2× the day's volume per source.

    No more data is generated for this: after ``advance`` the demo holds two days, and a
    fresh warehouse has to load all of it.
    """
    if wh == "postgres":
        bench.ws.create_database("bench2x")
    for name in bench.sources:
        ingest(
            bench,
            f"{wh}.ingest2x.{name}",
            f"ingest {name} (both days into an empty warehouse: 2×)",
            wh,
            [name],
            instance="2x",
        )
