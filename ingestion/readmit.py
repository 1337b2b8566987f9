"""Replay: re-admit rejected records that now parse, each exactly once.

For every file-based source, the rejected records are re-read from their original file when it
still exists in the landing zone (opened as the loader opens it: never through a symbolic link;
else from ``raw_text``) with the current reader and contract. Records of whole files, of
refused columns (``position`` 0 and below) and of reads that stopped midway are left to the
loader. Records that now pass are merged into their table on its primary key, and only after
that load succeeded are their ``rejected_records`` rows deleted. A replay killed in between is
finished by the next one: the merge on the key makes the second admission a no-op, so nothing
is admitted twice.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dlt
import pyarrow as pa

from ingestion import config as config_mod
from ingestion import lake, rejects, row_counts, suppression, warehouse
from ingestion.errors import describe_error
from ingestion.filesystem import scratch
from ingestion.filesystem.contract import FILE_LINE_COLUMN, Chunk, FileContract, conform
from ingestion.filesystem.csv_reader import csv_line_chunks
from ingestion.filesystem.jsonl_reader import jsonl_line_chunks
from ingestion.filesystem.listing import LandingReadError, LandingZone, RefusedFile
from ingestion.filesystem.readers import FAILED, file_format, read_file
from ingestion.filesystem.source import contract_of, landing_zone, prepare, resolved_settings
from ingestion.pipelines import drop_trace_file, make_pipeline
from ingestion.results import LoadReport, SourceLoad

logger = logging.getLogger(__name__)


def _from_file(
    zone: LandingZone, location: str, contract: FileContract, wanted: set[int]
) -> pa.Table | None:
    """The rows of ``wanted`` lines that now pass, re-read from the file (None: it is gone or
    cannot be read now)."""
    good_tables = []
    try:
        stream = zone.open(location)
    except (RefusedFile, OSError):
        return None
    try:
        with stream:
            for good, _ in read_file(stream, location.rsplit("/", 1)[-1], location, contract):
                if good is not None:
                    mask = pa.array(
                        [line in wanted for line in good.column(FILE_LINE_COLUMN).to_pylist()]
                    )
                    good_tables.append(good.filter(mask))
    except LandingReadError:
        logger.warning("replay: reading %s failed; its stored text is used", location)
        return None
    if not good_tables:
        return pa.table({})
    return pa.concat_tables(good_tables, promote_options="permissive")


def _from_raw_text(
    location: str, contract: FileContract, rows: list[tuple[int, str]]
) -> pa.Table | None:
    kind = file_format(location)
    chunks: Iterator[tuple[Chunk | None, list[dict[str, Any]]]]
    if kind == "csv":
        header = list(contract.columns)  # the file is gone: assume the declared column order
        chunks = csv_line_chunks(rows, header, contract, location)
    else:  # JSON lines, and Parquet rows kept as JSON text
        chunks = jsonl_line_chunks(rows, contract, location)
    tables = []
    for chunk, _ in chunks:
        if chunk is None:
            continue
        good, _ = conform(chunk, contract, location)
        if good is not None:
            tables.append(good)
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def replay_source(
    cfg: config_mod.SourceConfig,
    wh: warehouse.Warehouse,
    result: SourceLoad,
    suppressions: suppression.Suppressions | None = None,
) -> None:
    """Re-admit one file-based source's rejected records that now parse."""
    dataset = cfg.dataset
    try:
        rejected = warehouse.query(
            wh,
            f'select location, position, raw_text, reason from "{dataset}"."{rejects.TABLE}" '
            "where source_name = %s",
            (cfg.name,),
        )
    except Exception:  # nothing was ever loaded: nothing to replay
        return
    settings = resolved_settings(cfg)  # as the loader sees them: the file under dlt's overrides
    contract = contract_of(cfg.name, settings)
    pipeline = make_pipeline(cfg.name, dataset, wh)
    try:  # the stored schema: extra columns keep the types they landed as
        pipeline.sync_destination()
    except Exception:  # the run below meets (and reports) whatever is wrong with the warehouse
        logger.debug("%s: schema not restored from the warehouse", cfg.name, exc_info=True)
    if cfg.name in pipeline.schemas:
        prepare(contract, pipeline.schemas[cfg.name])
    zone = landing_zone(cfg.name, settings)
    by_location: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for location, position, raw_text, reason in rejected:
        # a line or row; not a whole file, a refused column or where a read stopped
        if int(position) > 0 and not str(reason or "").startswith(FAILED):
            by_location[location].append((int(position), raw_text or ""))
    admitted: list[pa.Table] = []
    with scratch.reading():
        for location, rows in sorted(by_location.items()):
            wanted = {position for position, _ in rows}
            table = _from_file(zone, location, contract, wanted)
            if table is None:
                table = _from_raw_text(location, contract, sorted(rows))
            if table is not None and table.num_rows:
                admitted.append(table)
    result.row_counts[contract.resource_name] = 0
    if not admitted:
        return
    data = pa.concat_tables(admitted, promote_options="permissive")
    personal = cfg.personal_data.get(contract.resource_name)
    if personal is not None and suppressions is not None:  # erased people stay erased
        data = suppressions.redacted(data, personal)
    primary_key = settings.primary_key

    @dlt.source(name=cfg.name, max_table_nesting=0)
    def replay_source_() -> Any:
        return dlt.resource(
            [data],
            name=f"{contract.resource_name}_replay",
            table_name=contract.resource_name,
            write_disposition="merge",
            primary_key=primary_key,
            file_format="parquet",
        )

    target = contract.resource_name
    result.before = {target: row_counts.counts(wh, dataset, [target]).get(target, 0)}
    replayed = replay_source_()
    if warehouse.appends_only(wh):
        lake.prepare_source(replayed)
    info = pipeline.run(replayed)
    result.load_ids.extend(info.loads_ids)
    pairs = list(
        zip(
            data.column("_file_name").to_pylist(),
            data.column(FILE_LINE_COLUMN).to_pylist(),
            strict=True,
        )
    )
    if warehouse.appends_only(wh):  # the lake: rewrite the few files that held them
        admitted_at = set(pairs)
        lake.drop_rejects(wh, dataset, rejects.TABLE, lambda loc, pos, _: (loc, pos) in admitted_at)
    else:
        with pipeline.sql_client() as client:
            table_name = client.make_qualified_table_name(rejects.TABLE)
            for location, position in pairs:
                client.execute_sql(
                    f"delete from {table_name} where location = %s and position = %s",
                    location,
                    position,
                )
    result.after = {target: row_counts.counts(wh, dataset, [target]).get(target, 0)}
    result.row_counts[target] = data.num_rows
    logger.info("%s: re-admitted %d rejected records", cfg.name, data.num_rows)


def replay(sources: list[str] | None = None) -> LoadReport:
    """Re-read rejected records and load those that now parse; each is admitted once.

    The caller holds the run lock, as for :func:`ingestion.load`.

    Args:
        sources: source names; None replays every enabled source. Sources that reject
            nothing themselves (REST APIs, databases) have nothing to replay.
    """
    t0 = time.monotonic()
    report = LoadReport()
    wh = warehouse.current(warehouse.LOADER)
    selected = config_mod.select(config_mod.load(), sources)
    suppressions = suppression.listed(wh, selected)
    for cfg in selected:
        if cfg.type != "filesystem":
            continue
        result = SourceLoad(cfg.name, cfg.dataset, started_at=datetime.now(UTC))
        try:
            replay_source(cfg, wh, result, suppressions)
        except Exception as exc:
            result.error = describe_error(cfg.name, exc)
            logger.error(result.error)
        finally:
            drop_trace_file(wh, cfg.name)
        result.duration_s = (datetime.now(UTC) - result.started_at).total_seconds()
        report.sources.append(result)
    report.duration_s = time.monotonic() - t0
    return report
