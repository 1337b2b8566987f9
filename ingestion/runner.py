"""Run the loaders: one dlt pipeline per source system into ``raw_<system>``.

For each selected source the runner takes the dataset's writer lock, finishes any load package
a killed run left behind, extracts and loads what is new, counts rows before and after for the
summary, and records the run (load info + dlt trace) in ``raw_ops.load_traces``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.common import json as dlt_json
from dlt.common.destination import TLoaderFileFormat
from dlt.common.exceptions import DltException
from dlt.common.runtime import run_context
from dlt.load.exceptions import LoadClientJobFailed

from ingestion import config as config_mod
from ingestion import demo_mode, package_repair, rejects, warehouse
from ingestion.locking import dataset_lock, lock_datasets
from ingestion.rest_api.settings import MATERIALIZED_SUFFIX
from ingestion.summary import RunSummary

logger = logging.getLogger(__name__)

OPS_DATASET = "raw_ops"
OPS_TABLE = "load_traces"
LOADER_FILE_FORMAT: TLoaderFileFormat = "parquet"
MAX_TRACE_CHARS = 1_000_000
OPS_LOCK_WAIT_S = 60.0
# Resources that set their own file format (insert_values: few rows, and possibly empty):
# rejected_records, the shop's deleted_records, tables materialised before their first row.
OWN_FILE_FORMAT = (f"_{rejects.TABLE}", "_deleted_records", MATERIALIZED_SUFFIX)

# Arrow items get _dlt_load_id only with this switch (see FIELD-NOTES).
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")


def pipelines_dir(wh: warehouse.Warehouse) -> Path:
    """dlt's local working folder, one per warehouse so two warehouses never share state.

    It lives under dlt's data dir (``$DLT_DATA_DIR``, default ``~/.dlt``). It only holds
    packages in flight; the incremental state is stored in the warehouse and restored from
    there on a fresh machine.
    """
    fingerprint = hashlib.sha1(wh.describe().encode()).hexdigest()[:10]
    return Path(run_context.active().data_dir) / "pipelines" / f"{wh.kind}-{fingerprint}"


def make_pipeline(name: str, dataset: str, wh: warehouse.Warehouse, progress: Any = None) -> Any:
    """The dlt pipeline of one source system."""
    return dlt.pipeline(
        pipeline_name=name,
        destination=warehouse.destination(wh),
        dataset_name=dataset,
        pipelines_dir=str(pipelines_dir(wh)),
        progress=progress,
    )


# ---------------------------------------------------------------- warehouse queries


Row = tuple[Any, ...]


def _query(wh: warehouse.Warehouse, sql: str, params: Row = ()) -> list[Row]:
    if wh.kind == "duckdb":
        sql = sql.replace("%s", "?")
    conn = warehouse.connect(wh)
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        rows = cur.fetchall()
        return [tuple(r) for r in rows]
    finally:
        conn.close()


def table_counts(wh: warehouse.Warehouse, dataset: str) -> dict[str, int]:
    """Row count of every data table in ``dataset`` (dlt's own ``_dlt_*`` tables excluded)."""
    names = [
        r[0]
        for r in _query(
            wh,
            "select table_name from information_schema.tables where table_schema = %s",
            (dataset,),
        )
        if not r[0].startswith("_dlt_")
    ]
    if not names:
        return {}
    union = " union all ".join(
        f'select \'{name}\', count(*) from "{dataset}"."{name}"' for name in names
    )
    return {str(name): int(n) for name, n in _query(wh, union)}


def _remote_state_exists(wh: warehouse.Warehouse, dataset: str, pipeline_name: str) -> bool:
    try:
        rows = _query(
            wh,
            f'select count(*) from "{dataset}"."_dlt_pipeline_state" where pipeline_name = %s',
            (pipeline_name,),
        )
    except Exception:  # the dataset or its state table does not exist yet
        return False
    return bool(rows and rows[0][0])


# ---------------------------------------------------------------- one source


@dataclass
class SourceResult:
    """What one source's pipeline did in this run."""

    name: str
    dataset: str
    started_at: datetime
    load_ids: list[str] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    trace: str | None = None
    duration_s: float = 0.0


def _add_counts(result: SourceResult, pipeline: Any, info: Any) -> None:
    result.load_ids.extend(info.loads_ids if info is not None else [])
    trace = pipeline.last_trace
    normalize_info = trace.last_normalize_info if trace is not None else None
    if normalize_info is None:
        return
    for table, count in normalize_info.row_counts.items():
        if not table.startswith("_dlt_"):
            result.row_counts[table] = result.row_counts.get(table, 0) + count


def _trace_text(pipeline: Any) -> str | None:
    trace = pipeline.last_trace
    if trace is None:
        return None
    text: str = dlt_json.dumps(trace.asdict())
    return text[:MAX_TRACE_CHARS]


def run_source(
    cfg: config_mod.SourceConfig,
    wh: warehouse.Warehouse,
    full_refresh: bool = False,
    start: date | None = None,
    end: date | None = None,
    progress: Any = None,
) -> SourceResult:
    """Run one source system's pipeline (the caller holds the dataset lock)."""
    t0 = time.monotonic()
    result = SourceResult(cfg.name, cfg.dataset, started_at=datetime.now(UTC))
    pipeline = make_pipeline(cfg.name, cfg.dataset, wh, progress)
    for load_id in package_repair.drop_normalized_extract_leftovers(pipeline.working_dir):
        logger.warning(
            "%s: dropped the extracted copy of package %s, left by a run killed after"
            " normalizing it; the normalized package is loaded now",
            cfg.name,
            load_id,
        )
    if not pipeline.has_pending_data and not _remote_state_exists(wh, cfg.dataset, cfg.name):
        pipeline = pipeline.drop()  # the warehouse is new: forget local state from an old one
    result.before = {} if full_refresh else table_counts(wh, cfg.dataset)
    if pipeline.has_pending_data:
        # A killed run left packages behind: finish them first; dlt would otherwise stop
        # after finishing them without extracting anything new.
        logger.info("%s: finishing load packages left by an interrupted run", cfg.name)
        pipeline.normalize()
        info = pipeline.load()
        _add_counts(result, pipeline, info)
    counter = rejects.RejectCounter()
    source = config_mod.build_source(cfg, counter, start=start, end=end)
    for resource in source.resources.values():
        # Parquet (ADBC into PostgreSQL) for the data tables; the small bookkeeping tables
        # keep their own format. A run-wide loader_file_format would override every hint.
        if not resource.name.endswith(OWN_FILE_FORMAT):
            resource.apply_hints(file_format=LOADER_FILE_FORMAT)
    # A full refresh truncates the source's tables and wipes its cursors ("drop_data") rather
    # than dropping the tables: on PostgreSQL a dbt view on a raw table (base_events__events)
    # makes DROP TABLE fail, so "drop_sources" broke --full-refresh after any dbt build.
    info = pipeline.run(source, refresh="drop_data" if full_refresh else None)
    _add_counts(result, pipeline, info)
    if counter.reread and info is not None:
        drop_superseded_rejects(pipeline, counter.reread, info.loads_ids)
    result.rejected = dict(counter)
    result.after = table_counts(wh, cfg.dataset)
    result.trace = _trace_text(pipeline)
    result.duration_s = time.monotonic() - t0
    return result


def drop_superseded_rejects(pipeline: Any, locations: set[str], load_ids: list[str]) -> None:
    """Delete rejected records of files this run re-read in full, except this run's own."""
    if not load_ids:
        return
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(rejects.TABLE)
        marks = ", ".join(["%s"] * len(load_ids))
        for location in sorted(locations):
            client.execute_sql(
                f"delete from {table} where location = %s and _dlt_load_id not in ({marks})",
                location,
                *load_ids,
            )


def _unwrapped(exc: BaseException) -> list[BaseException]:
    """``exc`` and what each dlt exception in turn wraps; the last one is the error it is about.

    Only dlt's own exceptions are unwrapped: the first foreign exception is the answer; its own
    ``__context__`` is whatever was being handled when it was raised (a paginating generator's
    ``StopIteration`` under an HTTP 401), not its cause.
    """
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        if not isinstance(current, DltException):
            break
        # a failed load job carries the warehouse's own error (the traceback is only text)
        current = (
            getattr(current, "client_exception", None) or current.__cause__ or current.__context__
        )
    return chain


def describe_error(name: str, exc: BaseException) -> str:
    """One clear line naming the failing source and the underlying error."""
    chain = _unwrapped(exc)
    cause = chain[-1]
    step = getattr(exc, "step", None)
    where = f" in {step}" if step else ""
    message = " ".join(str(cause).split())[:400]
    aborted = ""
    if any(isinstance(e, LoadClientJobFailed) for e in chain):
        aborted = " (load package aborted; the next run reads these rows again)"
    return f"source {name!r} failed{where}: {type(cause).__name__}: {message}{aborted}"


# ---------------------------------------------------------------- summary and ops


def summarise(summary: RunSummary, result: SourceResult, full_refresh: bool) -> None:
    """Fold one source's result into the run summary."""
    summary.load_ids.extend(result.load_ids)
    tables = set(result.row_counts) | set(result.after) | set(result.rejected)
    for table in sorted(tables):
        counts = summary.table(f"{result.dataset}.{table}")
        loaded = result.row_counts.get(table, 0)
        before = 0 if full_refresh else result.before.get(table, 0)
        new = max(0, result.after.get(table, 0) - before)
        counts.loaded += loaded
        counts.new += new
        counts.updated += max(0, loaded - new)
        counts.rejected += result.rejected.get(table, 0)


OPS_COLUMNS = (
    ("pipeline_name", "text"),
    ("dataset_name", "text"),
    ("started_at", "timestamp with time zone"),
    ("duration_s", "double precision"),
    ("ok", "boolean"),
    ("error", "text"),
    ("load_ids", "text"),
    ("row_counts", "text"),
    ("rejected", "bigint"),
    ("trace", "text"),
)


def record_ops(wh: warehouse.Warehouse, results: list[SourceResult]) -> None:
    """Append one row per source run to ``raw_ops.load_traces``: counts, load ids, dlt trace.

    Written with plain SQL rather than a second dlt pipeline: it is one small insert, and a
    dlt run would add seconds to every (no-op) run. ``trace`` is dlt's full run trace as JSON
    (``pipeline.last_trace.asdict()``), which holds the load info of every step.
    """
    if not results:
        return
    rows = [
        (
            r.name,
            r.dataset,
            r.started_at,
            round(r.duration_s, 3),
            r.error is None,
            r.error,
            dlt_json.dumps(r.load_ids),
            dlt_json.dumps(r.row_counts),
            sum(r.rejected.values()),
            r.trace,
        )
        for r in results
    ]
    columns = ", ".join(f"{name} {kind}" for name, kind in OPS_COLUMNS)
    names = ", ".join(name for name, _ in OPS_COLUMNS)
    marks = ", ".join(["?" if wh.kind == "duckdb" else "%s"] * len(OPS_COLUMNS))
    with dataset_lock(OPS_DATASET, wh, wait_s=OPS_LOCK_WAIT_S):  # runs of other sources queue
        conn = warehouse.connect(wh)
        try:
            cur = conn.cursor()
            warehouse.create_schema_if_missing(cur, wh.kind, OPS_DATASET)
            cur.execute(f"create table if not exists {OPS_DATASET}.{OPS_TABLE} ({columns})")
            cur.executemany(
                f"insert into {OPS_DATASET}.{OPS_TABLE} ({names}) values ({marks})", rows
            )
            conn.commit()
        finally:
            conn.close()


# ---------------------------------------------------------------- entry point


def run(
    sources: list[str] | None = None,
    full_refresh: bool = False,
    start: date | str | None = None,
    end: date | str | None = None,
    *,
    progress: Any = None,
    locks_held: bool = False,
) -> RunSummary:
    """Run the loaders (all enabled sources, or the named ones) into the current warehouse.

    Args:
        sources: source names from the sources file; None runs every enabled source.
        full_refresh: drop the sources' tables and cursors and load everything again.
        start: first day of a backfill window (inclusive); the incremental cursor is untouched.
        end: last day of a backfill window (inclusive).
        progress: dlt progress display (``"log"``, ``"tqdm"``, ...), off by default.
        locks_held: the caller already holds the selected datasets' locks
            (:func:`ingestion.locking.lock_datasets`), as the CLI does before importing dlt.

    Returns:
        The run summary; ``ok`` is False when any source failed (see ``errors``).

    Raises:
        ConcurrentRunError: another run holds the lock of a selected dataset; nothing ran.
    """
    t0 = time.monotonic()
    summary = RunSummary()
    start_day = date.fromisoformat(start) if isinstance(start, str) else start
    end_day = date.fromisoformat(end) if isinstance(end, str) else end
    if start_day and end_day and start_day > end_day:
        raise ValueError(f"--start {start_day} is after --end {end_day}")
    if full_refresh and (start_day or end_day):
        raise ValueError("--full-refresh and --start/--end cannot be combined")
    wh = warehouse.current(warehouse.LOADER)
    selected = config_mod.select(config_mod.load(), sources)
    results: list[SourceResult] = []
    demo_server: dict[str, str] = {}
    with ExitStack() as stack:
        lock_error = None if locks_held else lock_datasets(stack, wh, selected)
        if lock_error is None:
            stack.enter_context(warehouse.held_open(wh))
        for cfg in selected:
            result = SourceResult(cfg.name, cfg.dataset, started_at=datetime.now(UTC))
            try:
                if lock_error is not None:
                    raise lock_error
                demo_mode.prepare([cfg], stack, demo_server)
                result = run_source(cfg, wh, full_refresh, start_day, end_day, progress)
                summarise(summary, result, full_refresh)
            except Exception as exc:  # one failing source must not hide the others' results
                result.error = describe_error(cfg.name, exc)
                result.duration_s = (datetime.now(UTC) - result.started_at).total_seconds()
                logger.error(result.error)
                logger.debug("%s failed", cfg.name, exc_info=True)
                summary.errors.append(result.error)
            results.append(result)
        try:
            record_ops(wh, results)
        except Exception as exc:
            message = describe_error("ops (raw_ops.load_traces)", exc)
            logger.error(message)
            summary.errors.append(message)
    summary.ok = not summary.errors
    summary.duration_s = time.monotonic() - t0
    return summary
