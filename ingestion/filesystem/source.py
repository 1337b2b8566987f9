"""The ``@dlt.source`` of the file-drop type: files in a folder or bucket, read into Arrow.

One ``filesystem`` resource per configured glob lists new files (incremental on the file's
modification time); a transformer reads each file with Arrow (``readers.py``) and yields the
rows, deduplicated on the primary key by a merge, plus ``rejected_records`` for lines that
break the contract. The staged rows are declared de-duplicated (dlt then skips its ranking
window) until a key repeats within the run (``repeats.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import dlt
from dlt.common.typing import TSecretValue
from dlt.extract import DltResource
from dlt.sources.filesystem import FileItemDict, filesystem

from ingestion import rejects
from ingestion.config import SourceConfig, resolve_secrets, system_factory
from ingestion.filesystem.contract import FileContract
from ingestion.filesystem.helpers import absolute_url, compression_problem, glob_slug, in_window
from ingestion.filesystem.readers import file_format, read_file
from ingestion.filesystem.repeats import RunKeys
from ingestion.filesystem.settings import FILES_PER_PAGE, FilesystemSettings
from ingestion.run_options import RunOptions
from ingestion.typed_settings import validated

logger = logging.getLogger(__name__)

DEDUPLICATED_HINT = "x-stage-data-deduplicated"  # dlt's table hint behind "deduplicated"
STAGED_ROWS_REPEAT = dlt.mark.make_hints(additional_table_hints={DEDUPLICATED_HINT: False})


class FileReadError(RuntimeError):
    """A file broke the reader in a way it does not turn into rejected records."""


def contract_of(name: str, settings: FilesystemSettings) -> FileContract:
    """The row contract declared for a file-drop system."""
    return FileContract(
        columns=dict(settings.columns),
        required=list(settings.required),
        source_name=name,
        resource_name=settings.table,
        batch_rows=settings.batch_rows,
    )


def resolved_settings(spec: SourceConfig) -> FilesystemSettings:
    """A system's settings as its source sees them: the sources file under dlt's overrides."""
    from dlt.common.configuration.resolve import resolve_configuration

    factory = system_factory(spec)
    config = resolve_configuration(factory.ref.SPEC(), sections=("sources", spec.name, spec.name))
    return _settings(spec.name, {k: config[k] for k in FilesystemSettings.model_fields})


def _settings(name: str, given: dict[str, Any]) -> FilesystemSettings:
    return validated(FilesystemSettings, name, {k: v for k, v in given.items() if v is not None})


@dlt.source(name="filesystem", section="filesystem", max_table_nesting=0)
def filesystem_source(
    bucket_url: str = dlt.config.value,
    columns: dict[str, str] = dlt.config.value,
    credentials: TSecretValue = None,
    globs: list[str] | None = None,
    table: str | None = None,
    primary_key: str | list[str] | None = None,
    required: list[str] | None = None,
    partition_pattern: str | None = None,
    batch_rows: int | None = None,
    run: RunOptions | None = None,
) -> list[DltResource]:
    """A file-drop system: one reader per glob into one table, plus ``rejected_records``.

    Clone it per system (``filesystem_source.clone(name="events", section="events")``): dlt
    then injects ``sources.events.<argument>`` from the environment, ``.dlt/*.toml`` or the
    sources file.

    Args:
        bucket_url: a local folder, ``file://``, ``s3://``, ``gs://``, ``az://``, ...
        columns: the declared columns and their kinds (``string``, ``int64``, ``float64``,
            ``bool``, ``timestamptz``, ``json_text``); other columns load as sent.
        credentials: the bucket's credentials (dlt's fields for its filesystem), or a
            ``secret:``/``file:`` reference; local folders need none.
        globs: one glob per format; the reader follows the file name's ending.
        table: the table the rows land in.
        primary_key: the merge key (rows re-sent in a later file replace the kept ones).
        required: columns a row must have a value in, else it is rejected.
        partition_pattern: a regex whose first group is a path's YYYY-MM-DD partition.
        batch_rows: rows per Arrow batch (per Parquet row group the loader writes).
        run: this run's reject counter and backfill window (not configuration): a backfill
            selects files by partition day (else modification day) and touches no cursor.

    Raises:
        SourceConfigError: a setting is invalid (names the source and the key, never a secret).
    """
    name = dlt.current.source_schema().name
    options = run or RunOptions()
    given = {
        "bucket_url": bucket_url,
        "columns": columns,
        "credentials": credentials,
        "globs": globs,
        "table": table,
        "primary_key": primary_key,
        "required": required,
        "partition_pattern": partition_pattern,
        "batch_rows": batch_rows,
    }
    return _resources(name, _settings(name, given), options)


def _resources(name: str, settings: FilesystemSettings, options: RunOptions) -> list[DltResource]:
    counter, start, end = options.counter, options.start, options.end
    contract = contract_of(name, settings)
    table = contract.resource_name
    primary_key = settings.primary_key
    bucket_url = absolute_url(settings.bucket_url)
    pattern = settings.partition_pattern
    backfill = start is not None or end is not None
    run_keys = RunKeys([primary_key] if isinstance(primary_key, str) else list(primary_key))
    file_options: dict[str, Any] = {}
    if settings.credentials is not None:  # cloud buckets; local folders need none
        file_options["credentials"] = resolve_secrets(settings.credentials, f"{name}.credentials")

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
                yield rejects.mark([rejects.record(name, table, location, 0, None, broken)])
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
                    logger.error("reading file %s failed", location, exc_info=True)
                    failure = f"cannot read file {location}: {type(exc).__name__}: {exc}"
            if failure:  # raised outside the handler so the run's error line names the file
                raise FileReadError(failure)

    resources = [rejects.rejected_records_resource(name)]
    for glob in settings.globs:
        slug = glob_slug(glob)
        files = filesystem(
            bucket_url=bucket_url, file_glob=glob, files_per_page=FILES_PER_PAGE, **file_options
        ).with_name(f"files_{slug}")
        if backfill:
            files.add_filter(lambda item: in_window(item, start, end, pattern))
        else:
            files.apply_hints(incremental=dlt.sources.incremental("modification_date"))
        reader = dlt.transformer(
            read_files,
            name=f"{table}_{slug}",
            table_name=table,
            write_disposition="merge",
            primary_key=primary_key,
        )
        rows = files | reader
        # staged rows are unique on the key until one repeats within the run (`checked`)
        rows.apply_hints(additional_table_hints={DEDUPLICATED_HINT: True})
        resources.append(rows)
    return resources
