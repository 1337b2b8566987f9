"""The lake: raw Parquet under ``LAKE_URL`` (``WAREHOUSE=spark``), one folder per dataset and table.

dlt's ``filesystem`` destination writes ``<lake>/<dataset>/<table>/<load_id>.<file_id>.parquet``;
raw is append-only there (plain Parquet cannot be merged into), so a key may have several landed
versions and staging keeps the latest (``latest_version_per_key``). A local folder is the
default; ``s3://``, ``gs://``, ``az://`` URLs take dlt's usual filesystem credentials.

Python reads the lake through DuckDB (:func:`connect`): one view per ``<dataset>.<table>`` over
its files, so the loaders' SQL (row counts, dlt state, landed keys) runs unchanged. Spark, dbt's
engine, reads the same folders as external tables
(``dbt_project/ops_package/macros/lake_tables.sql``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from ingestion.warehouse import Warehouse

logger = logging.getLogger(__name__)

FORMATS = {".parquet": "read_parquet", ".jsonl": "read_json_auto", ".csv": "read_csv_auto"}


def is_remote(url: str) -> bool:
    """Whether the lake is a bucket (else a local folder)."""
    from ingestion.warehouse import REMOTE_URLS

    return url.startswith(REMOTE_URLS)


def root(wh: Warehouse) -> str:
    """The lake's URL: a bucket URL as given, a local folder as an absolute path."""
    assert wh.lake_url is not None
    return wh.lake_url if is_remote(wh.lake_url) else str(Path(wh.lake_url).resolve())


def destination(wh: Warehouse) -> Any:
    """dlt's ``filesystem`` destination writing Parquet into the lake."""
    import dlt

    url = root(wh)
    if not is_remote(url):
        Path(url).mkdir(parents=True, exist_ok=True)
    return dlt.destinations.filesystem(bucket_url=url)


def filesystem(wh: Warehouse) -> Any:
    """An fsspec filesystem for the lake (dlt's credentials for buckets)."""
    if not is_remote(root(wh)):
        import fsspec

        return fsspec.filesystem("file")
    from dlt.common.configuration.resolve import resolve_configuration
    from dlt.common.storages import FilesystemConfiguration, fsspec_from_config

    config = resolve_configuration(
        FilesystemConfiguration(bucket_url=root(wh)), sections=("destination", "filesystem")
    )
    fs, _ = fsspec_from_config(config)
    return fs


def table_folders(wh: Warehouse, fs: Any = None) -> Iterator[tuple[str, str, str]]:
    """``(dataset, table, reader)`` of every table folder holding files of a known format."""
    fs = fs or filesystem(wh)
    base = root(wh).rstrip("/")
    if not fs.exists(base):
        return
    for dataset in sorted(fs.ls(base, detail=False)):
        if not fs.isdir(dataset):
            continue
        for table in sorted(fs.ls(dataset, detail=False)):
            if not fs.isdir(table):
                continue
            suffixes = {Path(str(name)).suffix for name in fs.ls(table, detail=False)}
            reader = next((FORMATS[s] for s in FORMATS if s in suffixes), None)
            if reader is not None:
                yield Path(str(dataset)).name, Path(str(table)).name, reader


def _url(wh: Warehouse, *parts: str) -> str:
    base = root(wh).rstrip("/")
    return "/".join([base, *parts])


def connect(wh: Warehouse) -> Any:
    """An in-memory DuckDB connection with a view per table of the lake."""
    import duckdb

    conn = duckdb.connect(":memory:")
    fs = filesystem(wh)
    if is_remote(root(wh)):
        conn.register_filesystem(fs)
    for dataset, table, reader in table_folders(wh, fs):
        ext = next(s for s, r in FORMATS.items() if r == reader)
        files = _url(wh, dataset, table, f"*{ext}")
        union = ", union_by_name = true" if reader != "read_csv_auto" else ""
        conn.execute(f'create schema if not exists "{dataset}"')
        conn.execute(
            f'create view "{dataset}"."{table}" as select * from {reader}(\'{files}\'{union})'
        )
    return conn


def append(wh: Warehouse, dataset: str, table: str, rows: pa.Table) -> str:
    """Write ``rows`` as one new Parquet file of ``<dataset>/<table>``; returns its URL."""
    fs = filesystem(wh)
    folder = _url(wh, dataset, table)
    fs.makedirs(folder, exist_ok=True)
    name = f"{folder}/{uuid.uuid4().hex}.parquet"
    _write_atomically(fs, name, rows)
    return name


def _write_atomically(fs: Any, name: str, rows: pa.Table) -> None:
    """Write a Parquet file under a hidden name, then move it in place (readers skip dot files)."""
    folder, _, base = name.rpartition("/")
    hidden = f"{folder}/.{base}.tmp"
    with fs.open(hidden, "wb") as out:
        pq.write_table(rows, out)
    fs.mv(hidden, name)


def rewrite(wh: Warehouse, dataset: str, table: str, keep: Callable[[pa.Table], pa.Array]) -> int:
    """Rewrite the files of ``<dataset>/<table>`` keeping the rows ``keep`` marks; rows dropped.

    Only for small bookkeeping tables (``rejected_records``): each file is read whole, and a file
    that loses rows is replaced by a filtered copy (or removed when none is left).
    """
    fs = filesystem(wh)
    folder = _url(wh, dataset, table)
    if not fs.exists(folder):
        return 0
    dropped = 0
    for name in sorted(fs.ls(folder, detail=False)):
        if not str(name).endswith(".parquet") or Path(str(name)).name.startswith("."):
            continue
        with fs.open(name, "rb") as src:
            rows = pq.read_table(src)
        mask = keep(rows)
        kept = rows.filter(mask)
        if kept.num_rows == rows.num_rows:
            continue
        dropped += rows.num_rows - kept.num_rows
        if kept.num_rows:
            _write_atomically(fs, str(name), kept)
        else:
            fs.rm(name)
    return dropped


def ensure_files(wh: Warehouse, dataset: str, schemas: dict[str, pa.Schema]) -> None:
    """Give every table of ``dataset`` at least one (empty) Parquet file holding its columns.

    An external table over a folder without files has no schema Spark could infer; dlt writes
    no file for a table materialised before its first row.
    """
    fs = filesystem(wh)
    for table, schema in schemas.items():
        folder = _url(wh, dataset, table)
        if fs.exists(folder) and any(
            str(n).endswith(".parquet") for n in fs.ls(folder, detail=False)
        ):
            continue
        logger.info(
            "lake: %s.%s has no rows yet; writing an empty file with its columns", dataset, table
        )
        append(wh, dataset, table, schema.empty_table())


def prepare_source(source: Any) -> None:
    """Land every resource of ``source`` as appended Parquet (the lake cannot merge into Parquet).

    Resources keep their primary keys as hints; staging keeps the latest version per key.
    """
    for resource in source.resources.values():
        disposition = resource.write_disposition
        if isinstance(disposition, dict):  # {"disposition": "merge", "strategy": ...}
            disposition = disposition.get("disposition")
        if disposition == "merge":
            resource.apply_hints(write_disposition="append")
        resource.apply_hints(file_format="parquet")


def materialize_empty_tables(wh: Warehouse, pipeline: Any) -> None:
    """Write an empty Parquet file for each data table of the pipeline's schema without rows."""
    from dlt.common.libs.pyarrow import columns_to_arrow

    schema = pipeline.default_schema
    caps = pipeline.destination.capabilities()
    schemas = {
        name: columns_to_arrow(table["columns"], caps, "UTC")
        for name, table in schema.tables.items()
        if not name.startswith("_dlt_") and table.get("columns")
    }
    ensure_files(wh, pipeline.dataset_name, schemas)


def drop_rejects(
    wh: Warehouse, dataset: str, table: str, dropped: Callable[[str, int, str], bool]
) -> int:
    """Remove the rejected records ``dropped(location, position, load_id)`` marks from the lake."""

    def keep(rows: pa.Table) -> pa.Array:
        marks = [
            not dropped(str(loc), int(pos), str(load_id))
            for loc, pos, load_id in zip(
                rows.column("location").to_pylist(),
                rows.column("position").to_pylist(),
                rows.column("_dlt_load_id").to_pylist(),
                strict=True,
            )
        ]
        return pa.array(marks, pa.bool_())

    return rewrite(wh, dataset, table, keep)
