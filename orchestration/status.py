"""``python -m orchestration status``: the last runs, each source's freshness and the problems
of the last run, read from the ``ops_*`` dbt models over the ledger; and the WAL each
change-data-capture slot holds back on its source (``slot_status.py``).

On DuckDB a running load holds the warehouse file: ``status`` then names the run holding it and
shows the state saved at the end of the last finished run (``status.json`` beside the lock).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ingestion import warehouse as wh
from ingestion.redact import redact
from orchestration import erasure, settings
from orchestration.lock import describe_holder
from orchestration.slot_status import render_slots
from orchestration.summary import utcnow

log = logging.getLogger(__name__)

SCHEMA = "ops"
SNAPSHOT_FILE = "status.json"
MAX_CELL = 400  # characters of an error message shown per cell
OPS_MODELS = ("ops_run_history", "ops_source_status", "ops_run_problems", "ops_rejected_rows")
# Warehouses one process opens at a time: DuckDB's file, Spark's local (Derby) metastore.
ONE_PROCESS = ("duckdb", "spark")


class OpsModelsMissing(RuntimeError):
    """The ``ops_*`` models are not built yet (no ``dbt build`` has run on this warehouse)."""


@dataclass
class Snapshot:
    """Everything ``status`` shows, as plain data (the report reuses it)."""

    runs: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    rejects: list[dict[str, Any]]
    taken_at: str = ""
    erasures: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def _parse_ts(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _ops(warehouse: wh.Warehouse, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    return wh.query_dicts(warehouse, sql.replace("{ops}", SCHEMA), params)


def models_view(warehouse: wh.Warehouse) -> wh.Warehouse:
    """The warehouse as dbt's models are read: on Spark its catalog, not the lake's files."""
    if warehouse.kind == "spark" and not warehouse.catalog:
        return dataclasses.replace(warehouse, catalog=True)
    return warehouse


def missing_models(warehouse: wh.Warehouse) -> list[str]:
    """The ``ops_*`` models status reads that do not exist in the warehouse."""
    if warehouse.kind == "spark":
        from ingestion import spark_sql

        spark_sql.refresh(SCHEMA)  # the ledger gained files since the session listed them
        return sorted(set(OPS_MODELS) - spark_sql.table_names(SCHEMA))
    names = ", ".join(f"'{name}'" for name in OPS_MODELS)
    found = _ops(
        warehouse,
        "select table_name from information_schema.tables "
        f"where table_schema = '{{ops}}' and table_name in ({names})",
    )
    return sorted(set(OPS_MODELS) - {str(r["table_name"]) for r in found})


def snapshot(warehouse: wh.Warehouse, limit: int = 10) -> Snapshot:
    """Read everything ``status`` shows from the ops models.

    Raises:
        OpsModelsMissing: the ops models have not been built on this warehouse yet.
    """
    if warehouse.duckdb_path is not None and not warehouse.duckdb_path.exists():
        raise OpsModelsMissing(
            f"no warehouse at {warehouse.duckdb_path} yet: `make run` builds one"
        )
    warehouse = models_view(warehouse)
    missing = missing_models(warehouse)
    if missing:
        raise OpsModelsMissing(
            f"the ops models {missing} are not built yet: run `dbt build --select tag:ops` "
            "(any full run builds them)"
        )
    runs = _ops(
        warehouse,
        "select * from {ops}.ops_run_history order by started_at desc limit %s",
        (int(limit),),
    )
    sources = _ops(warehouse, "select * from {ops}.ops_source_status order by source_dataset")
    now = utcnow()
    for source in sources:
        last = _parse_ts(source.get("last_data_loaded_at"))
        source["age_h"] = round((now - last).total_seconds() / 3600, 2) if last else None
    problems = _ops(
        warehouse,
        "select * from {ops}.ops_run_problems where run_id = %s order by kind, subject",
        (runs[0]["run_id"],),
    ) if runs else []  # fmt: skip
    rejects = _ops(warehouse, "select * from {ops}.ops_rejected_rows order by table_name")
    erasures = erasure.requests(warehouse) if warehouse.kind != "spark" else []
    taken_at = now.isoformat(timespec="seconds")
    return Snapshot(runs, sources, problems, rejects, taken_at, erasures)


def snapshot_path(warehouse: wh.Warehouse) -> Path:
    """Where the last finished run's status is saved (DuckDB: beside the run lock)."""
    return settings.lock_path(warehouse.local_path).with_name(SNAPSHOT_FILE)


def save_snapshot(warehouse: wh.Warehouse) -> None:
    """Save the status for ``status`` to show while a later load holds the DuckDB file.

    On Spark only when this process already has a session (dbt ran here): starting one for
    an ingest-only run would cost more than the run.
    """
    if warehouse.kind not in ONE_PROCESS:
        return
    if warehouse.kind == "spark":
        from ingestion import spark_sql

        if not spark_sql.active():
            return
    try:
        snap = snapshot(warehouse)
    except Exception as exc:  # no ops models yet, or the ledger cannot be read: nothing to save
        log.debug("status not saved: %s", redact(str(exc)))
        return
    snapshot_path(warehouse).write_text(json.dumps(asdict(snap), default=str), encoding="utf-8")


def saved_snapshot(warehouse: wh.Warehouse) -> Snapshot | None:
    """The status saved at the end of the last finished run, if any."""
    try:
        data = json.loads(snapshot_path(warehouse).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return Snapshot(**data)


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _table(title: str, rows: list[dict[str, Any]], columns: list[str], empty: str) -> Any:
    if not rows:
        return empty
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        status = str(row.get("run_status") or row.get("status") or "")
        style = {"success": "green", "failed": "red", "running": "yellow"}.get(status, "")
        style = style or {"error": "red", "fail": "red", "warn": "yellow"}.get(status, "")
        cells = [escape(redact(_fmt(row.get(column)))[:MAX_CELL]) for column in columns]
        table.add_row(*cells, style=style)
    return table


def render(console: Console, snap: Snapshot, location: str) -> None:
    """Print the snapshot as rich tables."""
    console.print(f"[bold]Warehouse[/bold] {escape(location)}")
    runs = ["run_id", "command", "run_status", "started_at", "duration_s", "failed_step"]
    runs += ["rows_loaded", "rows_rejected", "models_built", "tests_passed", "tests_warned"]
    runs += ["tests_failed"]
    console.print(_table("Last runs", snap.runs, runs, "No runs recorded yet."))
    sources = ["source_dataset", "last_data_loaded_at", "age_h", "rows_last_loaded"]
    sources += ["last_run_status", "last_error"]
    console.print(
        _table("Freshness per source (last data loaded)", snap.sources, sources, "No loads yet.")
    )
    last = snap.runs[0]["run_id"] if snap.runs else "—"
    console.print(
        _table(
            f"Problems of the last run ({last})",
            snap.problems,
            ["kind", "subject", "status", "message"],
            f"No failed or warning sources, models or tests in the last run ({last}).",
        )
    )
    console.print(
        _table(
            "Rejected and quarantined rows (latest build; reasons in quarantine.quarantine_rows)",
            snap.rejects,
            ["table_name", "rejected_at_load", "quarantined_in_staging"],
            "No raw tables loaded yet.",
        )
    )
    render_erasures(console, snap.erasures)


def render_erasures(console: Console, requests: list[dict[str, Any]]) -> None:
    """The erasure requests and their state, when there are any."""
    if requests:
        columns = ["request_id", "subject_kind", "requested_at", "requested_by", "state"]
        columns += ["attempts", "last_error", "completed_at"]
        console.print(_table("Erasure requests (docs/privacy.md)", requests, columns, ""))


def main(limit: int = 10, console: Console | None = None) -> int:
    """Print the status; returns 0, or 2 when the warehouse cannot be read."""
    console = console or Console(width=200)
    try:
        warehouse = reader()
        location = redact(warehouse.describe())
        busy = running_on_duckdb(warehouse)
        if busy is None:
            snap = snapshot(warehouse, limit)
    except OpsModelsMissing as exc:
        console.print(f"[yellow]{escape(str(exc))}[/yellow]")
        render_erasures(console, erasure.requests(warehouse) if warehouse.kind != "spark" else [])
        render_slots(console)
        return 0
    except Exception as exc:
        busy = warehouse_busy(exc)
        if busy is None:
            console.print(f"[red]cannot read the warehouse:[/red] {escape(redact(str(exc)))}")
            return 2
    if busy is not None:
        console.print(f"[yellow]{escape(busy)}[/yellow]")
        saved = saved_snapshot(warehouse)
        if saved is None:
            return 0
        console.print(f"State at the end of the last finished run (saved {saved.taken_at}):")
        snap = saved
    render(console, snap, location)
    render_slots(console)
    return 0


def reader() -> wh.Warehouse:
    """The warehouse as ``status`` and ``report`` read it: dbt's login, DuckDB read-only."""
    return dataclasses.replace(wh.current(wh.TRANSFORMER), read_only=True)


def running_on_duckdb(warehouse: wh.Warehouse) -> str | None:
    """'busy: <run>' when a run holds the DuckDB warehouse (its file is not opened then)."""
    if warehouse.kind not in ONE_PROCESS:
        return None
    holder = describe_holder(settings.lock_path(warehouse.local_path))
    return f"the warehouse is busy: {holder}" if holder else None


def warehouse_busy(exc: Exception) -> str | None:
    """'busy: ...' when ``exc`` says another process has the DuckDB file open."""
    if "Could not set lock" not in str(exc) and "Conflicting lock" not in str(exc):
        return None
    holder = running_on_duckdb(reader())
    return holder or "the warehouse is busy: another process has the DuckDB file open"
