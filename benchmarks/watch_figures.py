"""The watch benchmark's figures, read from the warehouse after the watch stopped.

A stream file's events are counted in ``fct_daily_funnel`` when the first successful run that
built models after the run that loaded the file ended (``ops.runs.ended_at``; the file's load id
is in ``raw_events.file_registry``). Latency = that moment - when the file was renamed into the
landing zone.
"""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime
from typing import Any

from benchmarks.warehouse_rows import dict_rows
from demo.stream import Landed


def _utc(value: Any) -> float:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return float(value.timestamp())


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-share * len(ordered) // 1))))
    return ordered[rank - 1]


def _counted_at(runs: list[dict[str, Any]], load_id: str) -> float | None:
    loaded_by = next((r for r in runs if load_id in json.loads(r["dlt_load_ids"] or "[]")), None)
    if loaded_by is None:
        return None
    built = [
        _utc(r["ended_at"])
        for r in runs
        if r["status"] == "success"
        and (r["models_built"] or 0) > 0
        and _utc(r["started_at"]) >= _utc(loaded_by["started_at"])
    ]
    return min(built) if built else None


def figures(env: dict[str, str], landed: list[tuple[Landed, float]]) -> dict[str, Any]:
    """Latency per file, per-cycle step times, the funnel's check and the idle cost."""
    runs = dict_rows(env, "select * from ops.runs where command = 'watch' order by started_at")
    registry = {
        r["location"]: r["_dlt_load_id"]
        for r in dict_rows(env, "select location, _dlt_load_id from raw_events.file_registry")
    }
    funnel = {
        str(r["session_date"]): int(r["sessions"])
        for r in dict_rows(
            env, "select session_date, sessions from marts.fct_daily_funnel where step_number = 1"
        )
    }
    latencies, missing, wrong = [], 0, 0
    for file, landed_at in landed:
        location = f"date={file.day.isoformat()}/{file.path.name}"
        counted = _counted_at(runs, registry[location]) if location in registry else None
        if counted is None:
            missing += 1
            continue
        latencies.append(counted - landed_at)
        wrong += funnel.get(file.day.isoformat()) != file.visitors
    steps = dict_rows(
        env,
        "select s.step, s.started_at, s.ended_at from ops.run_steps as s "
        "inner join ops.runs as r on r.run_id = s.run_id where r.command = 'watch'",
    )
    return {
        "files": len(landed),
        "events": sum(f.events for f, _ in landed),
        "files_counted": len(latencies),
        "files_not_counted": missing,
        "funnel_days_wrong": wrong,
        "latency_s": _summary(latencies),
        "cycles_with_a_run": len(runs),
        "runs_failed": sum(1 for r in runs if r["status"] != "success"),
        "run_s": _summary([float(r["duration_s"] or 0) for r in runs if r["rows_loaded"]]),
        "step_s": {
            name: _summary(
                [_utc(s["ended_at"]) - _utc(s["started_at"]) for s in steps if s["step"] == name]
            )
            for name in sorted({s["step"] for s in steps})
        },
        "idle": json.loads(runs[-1]["args"]).get("watch", {}) if runs else {},
    }


def _summary(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 2),
        "p95": round(percentile(values, 0.95), 2),
        "max": round(max(values), 2),
        "mean": round(statistics.fmean(values), 2),
    }
