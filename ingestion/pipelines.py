"""Load the source systems: one dlt pipeline per system into ``raw_<system>``.

For each selected source the loader finishes any load package a killed run left behind,
extracts and loads what is new, and counts the rows of the tables it wrote before and after
(``row_counts``). It takes no lock and keeps no ledger: the run script (``orchestration``)
holds the one run lock around it and records the returned
:class:`~ingestion.results.LoadReport`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.common import json as dlt_json
from dlt.common.destination import TLoaderFileFormat
from dlt.common.runtime import run_context

from ingestion import config as config_mod
from ingestion import (
    lake,
    load_id_index,
    package_repair,
    rejects,
    reread,
    row_counts,
    suppression,
    time_limit,
    warehouse,
)
from ingestion import progress as progress_display
from ingestion.errors import describe_error
from ingestion.redact import install_on_root_handlers, redact
from ingestion.rest_api.settings import MATERIALIZED_SUFFIX
from ingestion.results import LoadReport, SourceLoad
from ingestion.window import as_day, check_window

logger = logging.getLogger(__name__)

LOADER_FILE_FORMAT: TLoaderFileFormat = "parquet"
MAX_TRACE_CHARS = 1_000_000
SUPERSEDE_BATCH = 1_000  # locations per statement deleting superseded rejects
# Resources that keep their own file format (few rows, possibly empty): rejected and deleted
# records, and tables materialised before their first row.
OWN_FILE_FORMAT = (f"_{rejects.TABLE}", "_deleted_records", MATERIALIZED_SUFFIX)

# Arrow items get _dlt_load_id only with this switch (see docs/loaders.md).
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")


def pipelines_dir(wh: warehouse.Warehouse) -> Path:
    """dlt's local working folder, one per warehouse so two warehouses never share state.

    It lives under dlt's data dir (``$DLT_DATA_DIR``, default ``~/.dlt``) and only holds
    packages in flight; the incremental state is kept in the warehouse.
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
        progress=time_limit.progress(progress_display.collector(progress, name)),
    )


def _remote_state_exists(wh: warehouse.Warehouse, dataset: str, pipeline_name: str) -> bool:
    try:
        rows = warehouse.query(
            wh,
            f'select count(*) from "{dataset}"."_dlt_pipeline_state" where pipeline_name = %s',
            (pipeline_name,),
        )
    except Exception:  # the dataset or its state table does not exist yet
        return False
    return bool(rows and rows[0][0])


def _add_counts(result: SourceLoad, pipeline: Any, info: Any) -> None:
    result.load_ids.extend(info.loads_ids if info is not None else [])
    trace = pipeline.last_trace
    normalize_info = trace.last_normalize_info if trace is not None else None
    if normalize_info is None:
        return
    for table, count in normalize_info.row_counts.items():
        if not table.startswith("_dlt_"):
            result.row_counts[table] = result.row_counts.get(table, 0) + count


def _replaced(source: Any) -> Callable[[str], bool]:
    """Whether a table is one of the source's ``replace`` tables (or a nested table of one)."""
    names = set()
    for resource in source.resources.selected.values():
        disposition = resource.write_disposition
        if isinstance(disposition, dict):
            disposition = disposition.get("disposition")
        if disposition == "replace" and isinstance(resource.table_name, str):
            names.add(source.schema.naming.normalize_table_identifier(resource.table_name))
    return lambda table: any(table == n or table.startswith(f"{n}__") for n in names)


def _all_loaded_new(result: SourceLoad) -> dict[str, int]:
    """Counts before the load that make every row loaded count as new (when they are unknown)."""
    return {t: max(0, n - result.row_counts.get(t, 0)) for t, n in result.after.items()}


def _trace_text(pipeline: Any) -> str | None:
    trace = pipeline.last_trace
    if trace is None:
        return None
    text: str = redact(dlt_json.dumps(trace.asdict()))
    return text[:MAX_TRACE_CHARS]


def drop_trace_file(wh: warehouse.Warehouse, name: str) -> None:
    """Remove dlt's trace file of a pipeline: its texts may hold secrets (kept, masked, in the
    ledger's ``run_sources.trace`` instead)."""
    (pipelines_dir(wh) / name / "trace.pickle").unlink(missing_ok=True)


def load_source(
    cfg: config_mod.SourceConfig,
    wh: warehouse.Warehouse,
    full_refresh: bool = False,
    start: date | None = None,
    end: date | None = None,
    progress: Any = None,
    reload: bool = False,
    suppressions: suppression.Suppressions | None = None,
) -> SourceLoad:
    """Run one source system's pipeline (the caller holds the run lock)."""
    t0 = time.monotonic()
    result = SourceLoad(
        cfg.name, cfg.dataset, datetime.now(UTC), full_refresh=full_refresh, reload=reload
    )
    pipeline = make_pipeline(cfg.name, cfg.dataset, wh, progress)
    for load_id in package_repair.dedupe_resumed_packages(pipeline.working_dir):
        logger.warning("%s: package %s, killed while loading, is finished now", cfg.name, load_id)
    for load_id in package_repair.drop_normalized_extract_leftovers(pipeline.working_dir):
        logger.warning(
            "%s: dropped the extracted copy of package %s, left by a run killed after"
            " normalizing it; the normalized package is loaded now",
            cfg.name,
            load_id,
        )
    if not pipeline.has_pending_data and not _remote_state_exists(wh, cfg.dataset, cfg.name):
        pipeline = pipeline.drop()  # the warehouse is new: forget local state from an old one
    full = full_refresh or reload
    # every table is counted for a re-read (its evidence) and when a killed run left a package
    # (its rows are known only once loaded); else only the tables the run writes
    count_all = full or pipeline.has_pending_data
    if count_all:
        result.before = row_counts.counts(wh, cfg.dataset)
    with nullcontext() if count_all else row_counts.before_load(wh, cfg.dataset) as counted_before:
        if pipeline.has_pending_data:
            # finish what a killed run left first: dlt would stop after it without extracting
            logger.info("%s: finishing load packages left by an interrupted run", cfg.name)
            pipeline.normalize()
            _add_counts(result, pipeline, pipeline.load())
        counter = rejects.RejectCounter()
        source = config_mod.build_source(cfg, counter, start=start, end=end)
        suppression.apply(source, cfg, suppressions)  # erased people land redacted
        for resource in source.resources.values():
            # a run-wide loader_file_format would override the bookkeeping tables' own format
            if not resource.name.endswith(OWN_FILE_FORMAT):
                resource.apply_hints(file_format=LOADER_FILE_FORMAT)
        if warehouse.appends_only(wh):
            lake.prepare_source(source)
        # a replaced table is emptied by TRUNCATE, which a snapshot taken before does not see
        replaced = {} if count_all else row_counts.counts(wh, cfg.dataset, _replaced(source))
        if full:  # from the beginning, merged (reload: onto emptied tables)
            info = reread.reread(pipeline, source, result.before, reload=reload)
        else:
            info = pipeline.run(source)
        _add_counts(result, pipeline, info)
        written = [table for table, rows in result.row_counts.items() if rows]
        before = counted_before(written) if counted_before is not None else None
        if before is not None:
            before.update({t: n for t, n in replaced.items() if t in written})
    load_id_index.ensure(wh, cfg.dataset)
    if cfg.type == "postgres_cdc":  # the load committed: the slot may let go of its WAL
        from ingestion.postgres_cdc.source import confirm_landed

        confirm_landed(cfg.name, pipeline)
    if counter.reread and info is not None:
        drop_superseded_rejects(pipeline, counter.reread, info.loads_ids, wh)
    if warehouse.appends_only(wh):
        lake.materialize_empty_tables(wh, pipeline)
    result.rejected = dict(counter)
    result.listed = row_counts.data_tables(wh, cfg.dataset)
    # a run counts only the tables it wrote: a count scans the table on PostgreSQL
    result.after = row_counts.counts(wh, cfg.dataset, None if count_all else written)
    if not count_all:
        result.before = before if before is not None else _all_loaded_new(result)
    result.trace = _trace_text(pipeline)
    result.duration_s = time.monotonic() - t0
    return result


def drop_superseded_rejects(
    pipeline: Any, locations: set[str], load_ids: list[str], wh: warehouse.Warehouse | None = None
) -> None:
    """Delete rejected records of files this run re-read in full, except this run's own."""
    if not load_ids:
        return
    if wh is not None and warehouse.appends_only(wh):
        lake.drop_rejects(
            wh,
            pipeline.dataset_name,
            rejects.TABLE,
            lambda location, _, load_id: location in locations and load_id not in load_ids,
        )
        return
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(rejects.TABLE)
        marks = ", ".join(["%s"] * len(load_ids))
        ordered = sorted(locations)
        with client.begin_transaction():  # a kill midway leaves every old reject, none half-gone
            for start in range(0, len(ordered), SUPERSEDE_BATCH):
                batch = ordered[start : start + SUPERSEDE_BATCH]
                client.execute_sql(
                    f"delete from {table} where location in ({', '.join(['%s'] * len(batch))})"
                    f" and _dlt_load_id not in ({marks})",
                    *batch,
                    *load_ids,
                )


def load(
    sources: list[str] | None = None,
    full_refresh: bool = False,
    start: date | str | None = None,
    end: date | str | None = None,
    *,
    progress: Any = None,
    reload: bool = False,
    time_limit_s: float | None = None,
) -> LoadReport:
    """Load every enabled source (or the named ones) into the current warehouse.

    The caller holds the run lock (``python -m ingestion`` and ``python -m orchestration`` do);
    the library itself never locks, so it can run inside any orchestrator's own locking.

    Args:
        sources: source names from the sources file; None loads every enabled source.
        full_refresh: reset the sources' cursors and read everything again, merged onto what
            is landed (rows a source no longer serves stay).
        start: first day of a backfill window (inclusive); the incremental cursor is untouched.
        end: last day of a backfill window (inclusive).
        progress: ``"live"`` (a table on a terminal), ``"lines"`` (plain lines) or any of
            dlt's progress values (``"log"``, ``"tqdm"``, ...); off by default.
        reload: empty the sources' tables and read everything again: rows a source no longer
            serves are forgotten (``ingestion.reload.plan`` says which, before).
        time_limit_s: every source's time limit, instead of its ``time_limit_s`` setting.

    Returns:
        One :class:`SourceLoad` per source; a failing source does not stop the others.

    Raises:
        ValueError: the window cannot be run.
        SourceConfigError: the sources file is invalid, names an unknown source, or a source's
            settings fail dlt's own checks (nothing has run then).
    """
    t0 = time.monotonic()
    start_day, end_day = as_day(start), as_day(end)
    check_window(start_day, end_day, full_refresh or reload)
    wh = warehouse.current(warehouse.LOADER)
    selected = config_mod.select(config_mod.load(), sources)
    install_on_root_handlers()
    for cfg in selected:  # a setting only dlt can check fails here, before any source runs
        try:
            config_mod.build_source(cfg, rejects.RejectCounter(), start=start_day, end=end_day)
        except config_mod.SourceConfigError:
            raise
        except Exception:  # e.g. a database that is down: that source fails on its own below
            logger.debug("%s: building the source failed; it is reported when it runs", cfg.name)
    report = LoadReport()
    # raises, loading nothing, when it cannot be applied
    suppressions = suppression.listed(wh, selected)
    with warehouse.held_open(wh), suppression.applied(suppressions):
        for cfg in selected:
            started = datetime.now(UTC)
            try:
                with time_limit.time_limit(cfg.name, time_limit_s or cfg.time_limit_s):
                    result = load_source(
                        cfg, wh, full_refresh, start_day, end_day, progress, reload, suppressions
                    )
            except Exception as exc:  # one failing source must not hide the others' results
                result = SourceLoad(cfg.name, cfg.dataset, started, full_refresh, reload=reload)
                result.error = describe_error(cfg.name, exc, demo=cfg.demo)
                result.duration_s = (datetime.now(UTC) - started).total_seconds()
                logger.error(result.error)
                logger.debug("%s failed", cfg.name, exc_info=True)
            finally:
                drop_trace_file(wh, cfg.name)
            report.sources.append(result)
    report.duration_s = time.monotonic() - t0
    return report
