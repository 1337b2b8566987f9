"""Event drops: files in a folder or bucket, loaded with dlt's ``filesystem`` building block.

One ``filesystem`` resource per configured glob lists new files (incremental on the file's
modification time); a transformer reads each file with Arrow (see ``helpers.py``) and yields
the events, deduplicated on ``event_id`` by a merge, plus ``rejected_records`` for lines that
break the contract. The staged rows are declared de-duplicated (dlt then skips its ranking
window) until a key repeats within the run (``repeats.py``).
"""

from __future__ import annotations

import gzip
import logging
import re
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import dlt
from dlt.sources.filesystem import FileItemDict, filesystem

from ingestion import rejects
from ingestion.config import SourceConfig, resolve_secret
from ingestion.events.helpers import FileContract, file_format, read_file
from ingestion.events.repeats import RunKeys
from ingestion.events.settings import DEFAULT_GLOBS, DEFAULT_PARTITION_PATTERN, FILES_PER_PAGE

logger = logging.getLogger(__name__)

DEDUPLICATED_HINT = "x-stage-data-deduplicated"  # dlt's table hint behind "deduplicated"
STAGED_ROWS_REPEAT = dlt.mark.make_hints(additional_table_hints={DEDUPLICATED_HINT: False})


class FileReadError(RuntimeError):
    """An event file broke the reader in a way it does not turn into rejected records."""


def absolute_url(bucket_url: str) -> str:
    """A local folder as an absolute ``file://`` URL; URLs with a scheme are kept."""
    if "://" in bucket_url:
        return bucket_url
    return Path(bucket_url).resolve().as_uri()


def contract_from(config: SourceConfig) -> FileContract:
    """The row contract declared for this source."""
    settings = config.settings
    return FileContract(
        columns=dict(settings["columns"]),
        required=list(settings.get("required", [])),
        source_name=config.name,
        resource_name=settings.get("table", "events"),
        batch_rows=int(settings.get("batch_rows", FileContract.batch_rows)),
    )


def glob_slug(glob: str) -> str:
    """A stable resource-name suffix for a glob (its incremental state is kept under it)."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", glob).strip("_").lower() or "all"


def partition_date(path: str, pattern: str) -> date | None:
    """The ``date=YYYY-MM-DD`` partition of a path, if it has one."""
    found = re.search(pattern, path)
    return date.fromisoformat(found.group(1)) if found else None


def compression_problem(item: FileItemDict) -> str | None:
    """Why a compressed file cannot be read to its end (cut, corrupt), or None.

    Reads the decompressed stream through once: gzip notices a cut or corrupt file only at the
    point of damage, after the rows before it would have been loaded.
    """
    if item.get("encoding") != "gzip":
        return None
    try:
        with item.open() as stream:
            while stream.read(1 << 24):
                pass
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        return f"unreadable compressed file, nothing loaded from it ({type(exc).__name__}: {exc})"
    return None


def _in_window(item: FileItemDict, start: date | None, end: date | None, pattern: str) -> bool:
    day = partition_date(item["relative_path"], pattern) or item["modification_date"].date()
    return (start is None or day >= start) and (end is None or day <= end)


def source(
    config: SourceConfig,
    counter: rejects.RejectCounter,
    start: date | None = None,
    end: date | None = None,
) -> Any:
    """Build the events source from its declarative configuration.

    Args:
        config: the ``events`` entry of the sources file.
        counter: counts rejected records per resource for the run summary.
        start: with ``end``, a backfill window on the date partition; no cursor is touched.
        end: last partition day of the backfill window (inclusive).
    """
    settings = config.settings
    contract = contract_from(config)
    table = contract.resource_name
    primary_key = settings.get("primary_key", "event_id")
    bucket_url = absolute_url(str(settings["bucket_url"]))
    pattern = settings.get("partition_pattern", DEFAULT_PARTITION_PATTERN)
    backfill = start is not None or end is not None
    run_keys = RunKeys([primary_key] if isinstance(primary_key, str) else list(primary_key))

    def checked(good: Any) -> Any:
        """The rows, marked so dlt's merge de-duplicates them once any key of the run repeats.

        Every item after the first repeat carries the mark: another resource's unmarked item
        would set the table's hint back to "de-duplicated".
        """
        if run_keys.add(good):
            return dlt.mark.with_hints(good, STAGED_ROWS_REPEAT)
        return good

    def read_files(items: list[FileItemDict]) -> Iterator[Any]:
        for item in items:
            location = item["relative_path"]
            if file_format(item["file_name"]) is None:
                continue
            counter.reread.add(location)
            broken = compression_problem(item)
            if broken:  # a cut .gz file is refused whole rather than loaded up to the cut
                counter[table] += 1
                yield rejects.mark([rejects.record(config.name, table, location, 0, None, broken)])
                continue
            failure = None
            with item.open() as stream:
                try:
                    for good, rejected in read_file(stream, item["file_name"], location, contract):
                        if rejected:
                            counter[table] += len(rejected)
                            yield rejects.mark(rejected)
                        if good is not None:
                            yield checked(good)
                except Exception as exc:  # a reader bug: fail the run, naming the file
                    logger.error("reading event file %s failed", location, exc_info=True)
                    failure = f"cannot read event file {location}: {type(exc).__name__}: {exc}"
            if failure:  # raised outside the handler so the run's error line names the file
                raise FileReadError(failure)

    @dlt.source(name=config.name, max_table_nesting=0)
    def events_source() -> Any:
        resources = [rejects.rejected_records_resource(config.name)]
        for glob in settings.get("globs", DEFAULT_GLOBS):
            slug = glob_slug(glob)
            options: dict[str, Any] = {}
            if settings.get("credentials") is not None:  # cloud buckets; local folders need none
                options["credentials"] = resolve_secret(settings["credentials"])
            files = filesystem(
                bucket_url=bucket_url, file_glob=glob, files_per_page=FILES_PER_PAGE, **options
            ).with_name(f"files_{slug}")
            if backfill:
                files.add_filter(lambda item: _in_window(item, start, end, pattern))
            else:
                files.apply_hints(incremental=dlt.sources.incremental("modification_date"))
            reader = dlt.transformer(
                read_files,
                name=f"{table}_{slug}",
                table_name=table,
                write_disposition="merge",
                primary_key=primary_key,
            )
            events = files | reader
            # staged rows are unique on the key until one repeats within the run (`checked`)
            events.apply_hints(additional_table_hints={DEDUPLICATED_HINT: True})
            resources.append(events)
        return resources

    return events_source()
