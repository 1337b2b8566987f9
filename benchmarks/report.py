"""Write one run's results as JSON and as a markdown table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.results import GIB, StepResult, TargetResult


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _rows(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _rss(value: int | None) -> str:
    if value is None:
        return "–"
    return f"{value / GIB:.2f} GiB" if value >= GIB / 4 else f"{value / 1024**2:,.0f} MiB"


def _size(value: int | None) -> str:
    return "–" if value is None else f"{value / 1024**2:,.1f} MiB"


def _met(target: TargetResult) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[target.met]


def _target_text(t: TargetResult) -> str:
    if t.unit == "x":
        limit = f"{t.op} {t.threshold:g}×"
    elif t.unit == "bytes":
        limit = f"{t.op} {t.threshold / GIB:g} GiB"
    else:
        limit = f"{t.op} {t.threshold:g} s"
    return f"{limit} {t.baseline}".strip()


def _value_text(t: TargetResult) -> str:
    if t.value is None:
        return "–"
    if t.unit == "x":
        return f"{t.value:.2f}×"
    if t.unit == "bytes":
        return _rss(int(t.value))
    return f"{t.value:.1f} s"


def markdown(meta: dict[str, Any], steps: list[StepResult], targets: list[TargetResult]) -> str:
    """The report: one row per step, then every target with how far a miss is."""
    by_step: dict[str, list[TargetResult]] = {}
    for t in targets:
        if t.step_id:
            by_step.setdefault(t.step_id, []).append(t)
    lines = [
        f"# Benchmark: scale {meta['scale']:g} ({meta['events_per_day']:,} events/day)",
        "",
        f"Run {meta['started_at']} → {meta['finished_at']} on {meta['machine']}; "
        f"warehouses: {', '.join(meta['warehouses'])}; commit `{meta['git_commit']}`.",
        f"Load average (1 min) at the end: {meta.get('load_average_at_end', ['?'])[0]} on "
        f"{meta['machine'].split(',')[0]}; each step's load average at its start is in the JSON.",
        "",
        f"Peak RSS: {meta['rss_method']}",
        "",
        "| step | warehouse | rows | wall s | rows/s | peak RSS | ratio to the limit | target "
        "| met? |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for s in steps:
        label = s.label
        if s.extrapolated:
            label += " *(extrapolated)*"
        if s.derived:
            label += " *(sum of steps)*"
        if not s.ok:
            label += f" **FAILED**: {(s.error or '').splitlines()[-1][:120] if s.error else ''}"
        attached = by_step.get(s.id, [])
        ratio = "; ".join(_value_text(t) for t in attached if t.unit == "x") or "–"
        target = "; ".join(_target_text(t) for t in attached) or "–"
        met = "; ".join(_met(t) for t in attached) or "–"
        lines.append(
            f"| {label} | {s.warehouse or '–'} | {_rows(s.rows)} | {_num(s.wall_s)} "
            f"| {_num(s.rows_per_s, 0)} | {_rss(s.peak_rss_bytes)} | {ratio} | {target} | {met} |"
        )
    lines += [
        "",
        "## Targets",
        "",
        "| target | measured | target | met? | missed by | note |",
        "|---|---:|---|---|---|---|",
    ]
    for t in targets:
        lines.append(
            f"| {t.label} | {_value_text(t)} | {_target_text(t)} | {_met(t)} "
            f"| {t.missed_by or '–'} | {t.note.strip() or '–'} |"
        )
    met = sum(1 for t in targets if t.met)
    missed = sum(1 for t in targets if t.met is False)
    lines += ["", f"{met} of {len(targets)} targets met, {missed} missed, "
              f"{len(targets) - met - missed} not measured.", ""]  # fmt: skip
    lines += _slowest_nodes(steps)
    lines += _sizes(steps)
    if meta.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in meta["notes"]] + [""]
    return "\n".join(lines)


def _slowest_nodes(steps: list[StepResult]) -> list[str]:
    """Where each ``dbt build`` spent its time: its slowest nodes (seconds each, 2 threads)."""
    builds = [s for s in steps if s.details.get("slowest_nodes")]
    if not builds:
        return []
    lines = ["## Slowest dbt nodes", ""]
    for step in builds:
        nodes = ", ".join(f"{n['node']} {n['s']:g} s" for n in step.details["slowest_nodes"])
        tests = ""
        if step.details.get("tests"):
            d = step.details
            tests = (
                f" [{d['tests']} data tests: {d['test_s']:g} s summed, of which the event "
                f"chain's {d['windowed_tests']}: {d['windowed_test_s']:g} s]"
            )
        lines.append(f"- {step.label} ({step.warehouse}, {_num(step.wall_s)} s){tests}: {nodes}")
    return [*lines, ""]


def _sizes(steps: list[StepResult]) -> list[str]:
    """The warehouse's size after each project step (storage per day of data)."""
    sized = [s for s in steps if s.details.get("storage") and "error" not in s.details["storage"]]
    if not sized:
        return []
    lines = [
        "## Warehouse size after each step",
        "",
        "| step | warehouse | on disk | used (DuckDB blocks) | dlt staging | rows in dlt staging |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for s in sized:
        size = s.details["storage"]
        disk = size.get("file_bytes", size.get("database_bytes"))
        lines.append(
            f"| {s.label} | {s.warehouse} | {_size(disk)} | {_size(size.get('used_bytes'))} "
            f"| {_size(size.get('staging_bytes'))} | {_rows(size.get('staging_rows'))} |"
        )
    return [*lines, ""]


def write(
    results_dir: Path,
    name: str,
    meta: dict[str, Any],
    steps: list[StepResult],
    targets: list[TargetResult],
) -> tuple[Path, Path]:
    """Write ``<name>.json`` and ``<name>.md`` into ``results_dir``; return both paths."""
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = results_dir / f"{name}.json", results_dir / f"{name}.md"
    payload = {
        "meta": meta,
        "steps": [s.to_json() for s in steps],
        "targets": [t.to_json() for t in targets],
    }
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    md_path.write_text(markdown(meta, steps, targets))
    return json_path, md_path


def rebuild(json_path: Path) -> tuple[Path, Path]:
    """Re-check the targets of a saved run and rewrite its JSON and markdown.

    Useful when a run was stopped part way or the target rules changed; the measured steps are
    kept exactly as recorded.
    """
    from benchmarks import targets

    data = json.loads(json_path.read_text())
    fields = set(StepResult.__dataclass_fields__)
    steps = [StepResult(**{k: v for k, v in s.items() if k in fields}) for s in data["steps"]]
    by_id = {s.id: s for s in steps}
    for step in steps:  # sums of steps: recompute (a failed part gives a lower bound)
        if step.derived and step.note.startswith("sum of "):
            parts = [by_id.get(p) for p in step.note.removeprefix("sum of ").split(", ")]
            if all(p is not None and p.wall_s for p in parts):
                step.wall_s = round(sum(p.wall_s or 0 for p in parts if p), 3)
    meta = data["meta"]
    found = targets.evaluate({s.id: s for s in steps}, meta["warehouses"], meta["scale"])
    return write(json_path.parent, json_path.stem, meta, steps, found)
