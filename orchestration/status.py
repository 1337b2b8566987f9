"""``python -m orchestration status``: what the ledger and the warehouse say now."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from ingestion import warehouse as wh
from orchestration.ledger import SCHEMA, Ledger, utcnow
from orchestration.redact import redact

log = logging.getLogger(__name__)


@dataclass
class Snapshot:
    """Everything ``status`` shows, as plain data (the report reuses it)."""

    runs: list[dict[str, Any]]
    freshness: list[dict[str, Any]]
    tests: list[dict[str, Any]]
    rejects: list[dict[str, Any]]


def _parse_ts(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _tables_named(ledger: Ledger, name_like: str) -> list[tuple[str, str]]:
    rows = ledger.query(
        "select table_schema, table_name from information_schema.tables "
        "where table_name like %s order by table_schema, table_name",
        (name_like,),
    )
    return [(r["table_schema"], r["table_name"]) for r in rows]


def last_runs(ledger: Ledger, limit: int) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    return ledger.query(
        f"select run_id, command, status, started_at, duration_s, failed_step, rows_loaded, "
        f"rows_rejected, models_built, tests_passed, tests_warned, tests_failed "
        f"from {SCHEMA}.runs order by started_at desc limit {int(limit)}"
    )


def freshness(ledger: Ledger) -> list[dict[str, Any]]:
    """Per raw dataset: last completed dlt load, its age, and rows in the last ledger entry."""
    now = utcnow()
    out: list[dict[str, Any]] = []
    for schema, _ in _tables_named(ledger, "_dlt_loads"):
        if schema in {SCHEMA, "raw_ops"} or not schema.startswith("raw_"):
            continue
        rows = ledger.query(
            f"select cast(max(inserted_at) as varchar) as last_load, count(*) as loads "
            f"from {schema}._dlt_loads where status = 0"
        )
        last = _parse_ts(rows[0]["last_load"]) if rows else None
        out.append(
            {
                "source": schema,
                "last_load_at": last,
                "age_h": round((now - last).total_seconds() / 3600, 2) if last else None,
                "loads": rows[0]["loads"] if rows else 0,
            }
        )
    if ledger.exists():
        latest = ledger.query(
            f"select table_name, rows_loaded, recorded_at from {SCHEMA}.run_tables "
            "order by recorded_at desc"
        )
        seen: dict[str, int] = {}
        for row in latest:
            dataset = row["table_name"].split(".", 1)[0]
            key = row["table_name"]
            if key not in seen:
                seen[key] = int(row["rows_loaded"] or 0)
                for entry in out:
                    if entry["source"] == dataset:
                        entry["rows_last_run"] = entry.get("rows_last_run", 0) + seen[key]
    return out


def problem_tests(ledger: Ledger) -> list[dict[str, Any]]:
    """Tests that failed, errored or warned in the latest dbt invocation."""
    latest = ledger.query(
        f"select run_id from {SCHEMA}.dbt_results order by recorded_at desc limit 1"
    )
    if not latest:
        return []
    return ledger.query(
        f"select name, unique_id, status, failures, message from {SCHEMA}.dbt_results "
        "where run_id = %s and resource_type in ('test', 'unit_test') "
        "and status in ('fail', 'error', 'warn') order by status, name",
        (latest[0]["run_id"],),
    )


def reject_counts(ledger: Ledger) -> list[dict[str, Any]]:
    """Rows in every ``rejected_records`` table and every table named like ``%quarantine%``."""
    out = []
    tables = _tables_named(ledger, "rejected_records") + _tables_named(ledger, "%quarantine%")
    for schema, table in tables:
        if schema.endswith("_staging"):  # dlt's staging datasets hold merge leftovers only
            continue
        rows = ledger.query(f'select count(*) as n from {schema}."{table}"')
        out.append({"table": f"{schema}.{table}", "rows": int(rows[0]["n"])})
    return out


def snapshot(ledger: Ledger, limit: int = 10) -> Snapshot:
    """Read everything ``status`` shows."""
    if not ledger.exists():
        return Snapshot([], freshness(ledger), [], reject_counts(ledger))
    return Snapshot(
        last_runs(ledger, limit), freshness(ledger), problem_tests(ledger), reject_counts(ledger)
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def render(console: Console, snap: Snapshot, location: str) -> None:
    """Print the snapshot as rich tables."""
    console.print(f"[bold]Warehouse[/bold] {location}")
    runs = Table(title="Last runs", title_justify="left")
    for column in (
        "run_id", "command", "status", "started_at", "duration_s", "failed_step",
        "rows_loaded", "rows_rejected", "models_built", "tests_passed", "tests_warned",
        "tests_failed",
    ):  # fmt: skip
        runs.add_column(column)
    style = {"success": "green", "failed": "red", "running": "yellow", "abandoned": "magenta"}
    for r in snap.runs:
        runs.add_row(
            *[_fmt(r[c.header]) for c in runs.columns],  # type: ignore[index]
            style=style.get(r["status"], ""),
        )
    console.print(runs if snap.runs else "No runs recorded yet (schema ops is empty or missing).")

    fresh = Table(title="Freshness per source", title_justify="left")
    for column in ("source", "last_load_at", "age_h", "loads", "rows_last_run"):
        fresh.add_column(column)
    for f in snap.freshness:
        fresh.add_row(*[_fmt(f.get(c.header)) for c in fresh.columns])  # type: ignore[arg-type]
    console.print(fresh if snap.freshness else "No raw datasets loaded yet.")

    tests = Table(title="Failing or warning tests (latest dbt build)", title_justify="left")
    for column in ("status", "name", "failures", "message"):
        tests.add_column(column)
    for t in snap.tests:
        tests.add_row(
            t["status"], t["name"], _fmt(t["failures"]), redact(str(t["message"] or ""))[:120],
            style="red" if t["status"] in {"fail", "error"} else "yellow",
        )  # fmt: skip
    console.print(tests if snap.tests else "No failing or warning tests in the latest build.")

    rejects = Table(title="Rejected and quarantined rows", title_justify="left")
    rejects.add_column("table")
    rejects.add_column("rows", justify="right")
    for r in snap.rejects:
        rejects.add_row(r["table"], _fmt(r["rows"]))
    console.print(rejects if snap.rejects else "No rejected_records or quarantine tables yet.")


def main(limit: int = 10, console: Console | None = None) -> int:
    """Print the status; returns 0, or 2 when the warehouse cannot be read."""
    console = console or Console(width=200)
    try:
        warehouse = wh.current(wh.TRANSFORMER)
        ledger = Ledger(warehouse)
        snap = snapshot(ledger, limit)
    except Exception as exc:
        console.print(f"[red]cannot read the warehouse:[/red] {redact(str(exc))}")
        return 2
    render(console, snap, redact(warehouse.describe()))
    return 0
