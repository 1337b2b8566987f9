"""What the project is compared with: the machine's limits on the same data, a naive loader.

Each limit is one ``python -m benchmarks.limits`` process (or ``psql``), timed like a project
step; the naive baseline is pandas ``to_sql`` on a slice of the events, extrapolated to the day.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from benchmarks.limits import EVENT_COLUMNS_PG
from benchmarks.results import StepResult

if TYPE_CHECKING:
    from benchmarks.runner import Bench

SHOP_TABLES = ("products", "orders", "order_items")
CRM_PATHS = ("/crm/v1/customers", "/crm/v1/campaigns")


def limits(bench: Bench) -> None:
    """The bare operations on the same day's data."""
    ws = bench.ws
    events_dir = ws.demo_dir / "landing" / "events"
    lim = ws.work / "limits"
    lim.mkdir(parents=True, exist_ok=True)
    mod = [ws.python, "-m", "benchmarks.limits"]
    env = ws.base_env()
    db = lim / "duckdb_read.duckdb"
    bench.run_step(
        "limit.duckdb_read",
        "DuckDB's own read of the event files",
        "limit",
        [*mod, "duckdb-read", "--events-dir", str(events_dir), "--db", str(db)],
        env,
        "duckdb",
    )
    if "postgres" in bench.s.warehouses and bench.steps["limit.duckdb_read"].ok:
        csv_path = lim / "events.csv"
        bench.run_step(
            "prep.csv_export",
            "export the event rows as one CSV (prep for COPY)",
            "prep",
            [*mod, "export-csv", "--db", str(db), "--out", str(csv_path)],
            env,
        )
        ws.psql(
            "drop schema if exists bench_limits cascade; create schema bench_limits; "
            f"create table bench_limits.events ({EVENT_COLUMNS_PG})"
        )
        copy = f"\\copy bench_limits.events from '{csv_path}' with (format csv, header)"
        step = bench.run_step(
            "limit.pg_copy",
            "PostgreSQL COPY of the same event rows",
            "limit",
            [ws.psql_bin(), "-X", "-v", "ON_ERROR_STOP=1", "-c", copy],
            ws.wh_env("postgres"),
            "postgres",
        )
        step.rows = _copy_rows(bench, step) or bench.steps["prep.csv_export"].rows
        ws.psql("drop schema bench_limits cascade")
        csv_path.unlink(missing_ok=True)
    for wh in (w for w in bench.s.warehouses if w in ("duckdb", "postgres")):
        if wh == "postgres":
            ws.create_database("benchdltfloor")
        floors = [
            ("shop", "dlt alone: dlt's sql_table on the shop tables, merged", "dlt-shop-floor"),
            ("crm", "dlt alone: dlt's rest_api_source on the CRM, merged", "dlt-crm-floor"),
        ]
        if bench.steps["limit.duckdb_read"].ok:
            floors.insert(
                0, ("", "dlt alone: the same event rows as Arrow, merged on event_id", "dlt-floor")
            )
        for system, label, op in floors:
            extra = ["--db", str(db)] if op == "dlt-floor" else []
            bench.run_step(
                f"limit.dlt_{system + '_' if system else ''}{wh}",
                label,
                "limit",
                [*mod, op, *extra, "--work", str(lim)],
                ws.wh_env(wh, "dltfloor"),
                wh,
            )
    db.unlink(missing_ok=True)
    bench.run_step(
        "limit.python_floor",
        "start-up of a loader process: Python and its imports",
        "limit",
        [*mod, "python-floor"],
        env,
    )
    crm = bench.sources_cfg.get("crm") or {}
    params = ((crm.get("resource_defaults") or {}).get("endpoint") or {}).get("params") or {}
    page_size = int(params.get("limit", 1000))
    http = [
        *mod,
        "http-pages",
        "--base-url",
        ws.api_url,
        "--page-size",
        str(page_size),
        "--token-file",
        str(ws.demo_dir / "api_token"),
    ]
    for path in CRM_PATHS:
        http += ["--path", path]
    bench.run_step(
        "limit.http_crm",
        f"bare HTTP loop over the CRM API (page size {page_size})",
        "limit",
        http,
        env,
    )
    backend = str((bench.sources_cfg.get("shop") or {}).get("backend", "sqlalchemy"))
    driver = "connectorx" if backend == "connectorx" else "sqlalchemy"
    select = [
        *mod,
        "db-select",
        "--sqlite",
        str(ws.demo_dir / "shop.sqlite"),
        "--driver",
        driver,
    ]
    for table in SHOP_TABLES:
        select += ["--table", table]
    bench.run_step(
        "limit.db_shop", f"bare SELECT of the shop tables ({driver})", "limit", select, env
    )


def _copy_rows(bench: Bench, step: StepResult) -> int | None:
    """The row count psql printed (``COPY <n>``)."""
    path = bench.ws.logs / f"{step.id}.log"
    found = re.findall(r"^COPY (\d+)$", path.read_text(errors="replace"), re.MULTILINE)
    return int(found[-1]) if found else None


def naive(bench: Bench) -> None:
    """pandas ``to_sql`` in chunks on a slice of the events, extrapolated to the day."""
    rows = min(bench.s.naive_rows, bench.events_per_day)
    step = bench.run_step(
        "naive.to_sql",
        f"naive pandas to_sql, {rows:,}-row slice",
        "naive",
        [
            bench.ws.python,
            "-m",
            "benchmarks.limits",
            "naive-to-sql",
            "--events-dir",
            str(bench.ws.demo_dir / "landing" / "events"),
            "--rows",
            str(rows),
        ],
        bench.ws.wh_env("postgres"),
        "postgres",
    )
    if step.rows:
        step.label = f"naive pandas to_sql, {step.rows:,}-row slice"
        rows = step.rows
    if step.ok and step.details.get("to_sql_s"):
        step.wall_s = round(float(step.details["to_sql_s"]), 3)
        step.note = "wall = the to_sql call only (reading the slice excluded)"
        per_s = step.rows_per_s
        if per_s:
            bench.steps["naive.extrapolated"] = StepResult(
                id="naive.extrapolated",
                label="naive pandas to_sql, whole day",
                group="naive",
                warehouse="postgres",
                rows=bench.events_per_day,
                wall_s=round(bench.events_per_day / per_s, 1),
                extrapolated=True,
                note=f"from the {rows:,}-row slice at {per_s:,.0f} rows/s",
            )
