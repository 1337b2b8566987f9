"""The ``@dlt.source`` of the file-drop type: files in a folder or bucket, read into Arrow.

One resource lists the landing zone once, compares the listing with the file registry (the
files already taken, kept in the raw dataset) and reads each new or changed file with Arrow
(``readers.py``): the rows go to the table, deduplicated on the primary key by a merge, lines
that break the contract to ``rejected_records``, and one registry row per file, all in the same
load package. The staged rows are declared de-duplicated (dlt then skips its ranking window)
until a key repeats within the run (``repeats.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.typing import TSecretValue
from dlt.extract import DltResource

from ingestion import rejects
from ingestion.config import SourceConfig, resolve_secrets, system_factory
from ingestion.filesystem import registry, scratch
from ingestion.filesystem.contract import FileContract
from ingestion.filesystem.extras import ExtraColumns, stored_label
from ingestion.filesystem.helpers import absolute_url, in_window
from ingestion.filesystem.listing import LandingZone, Listed
from ingestion.filesystem.plan import Decision, plan
from ingestion.filesystem.readers import file_format, read_landed
from ingestion.filesystem.repeats import RunKeys
from ingestion.filesystem.settings import FilesystemSettings
from ingestion.package_repair import DEDUPLICATED_HINT
from ingestion.run_options import RunOptions
from ingestion.typed_settings import validated

logger = logging.getLogger(__name__)

STAGED_ROWS_REPEAT = dlt.mark.make_hints(additional_table_hints={DEDUPLICATED_HINT: False})
REGISTRY_MARK = "file_registry"  # in the resource's state: the registry says what was read


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


def landing_zone(name: str, settings: FilesystemSettings) -> LandingZone:
    """The landing zone of a file-drop system (its credentials resolved)."""
    credentials = None
    if settings.credentials is not None:  # cloud buckets; local folders need none
        credentials = resolve_secrets(settings.credentials, f"{name}.credentials")
    return LandingZone(absolute_url(settings.bucket_url), list(settings.globs), credentials)


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
    window_format: str | None = None,
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
            ``bool``, ``timestamptz``, ``json_text``, ``decimal``); other columns load as sent.
        credentials: the bucket's credentials (dlt's fields for its filesystem), or a
            ``secret:``/``file:`` reference; local folders need none.
        globs: one glob per format; the reader follows the file name's ending.
        table: the table the rows land in.
        primary_key: the merge key (rows re-sent in a later file replace the kept ones).
        required: columns a row must have a value in, else it is rejected.
        partition_pattern: a regex whose first group is a path's partition.
        window_format: how that partition is written (``date``: YYYY-MM-DD, ``datetime``,
            ``epoch_s``, ``epoch_ms`` or a strftime format; ``ingestion/window.py``).
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
        "window_format": window_format,
        "batch_rows": batch_rows,
    }
    return _resources(name, _settings(name, given), options)


def prepare(contract: FileContract, schema: Any) -> None:
    """Name and type extra columns as a pipeline's schema does (its stored table included)."""
    contract.landed_name = schema.naming.normalize_path
    stored = schema.tables.get(contract.resource_name, {}).get("columns", {})
    labels = {name: stored_label(dict(column)) for name, column in stored.items()}
    contract.extras = ExtraColumns(
        {n: label for n, label in labels.items() if label and n not in contract.columns}
    )


def _registered(name: str, contract: FileContract) -> tuple[dict[str, registry.Registered], bool]:
    """The registry this run starts from, the contract set up from the pipeline's schema, and
    whether every file is read again although some were registered (their older records go).

    Empty when the resource's state was wiped (``--full-refresh`` and ``--reload`` re-read every
    file: the state only holds a mark that the registry is in use) and when the resource is
    iterated outside a pipeline.
    """
    from dlt.common.storages.exceptions import CurrentLoadPackageStateNotAvailable

    try:
        package = dlt.current.load_package_state()
    except CurrentLoadPackageStateNotAvailable:
        return {}, False
    prepare(contract, dlt.current.source_schema())
    state = dlt.current.resource_state()
    in_use = state.get(REGISTRY_MARK, False)
    state[REGISTRY_MARK] = True
    found = registry.read(dlt.current.pipeline().dataset_name, name)
    if package["state"].get("refresh") or not in_use:
        return {}, bool(found)
    return found, False


class _Batches:
    """Good rows of small files gathered into batches of about ``batch_rows`` rows."""

    def __init__(self, batch_rows: int, mark: Callable[[pa.Table], Any]) -> None:
        self.batch_rows = batch_rows
        self.mark = mark
        self.tables: list[pa.Table] = []
        self.rows = 0

    def add(self, table: pa.Table) -> Iterator[Any]:
        self.tables.append(table)
        self.rows += table.num_rows
        if self.rows >= self.batch_rows:
            yield from self.flush()

    def flush(self) -> Iterator[Any]:
        if self.tables:
            table = pa.concat_tables(self.tables, promote_options="default")
            self.tables, self.rows = [], 0
            yield self.mark(table)


def _resources(name: str, settings: FilesystemSettings, options: RunOptions) -> list[DltResource]:
    counter, start, end = options.counter, options.start, options.end
    contract = contract_of(name, settings)
    table = contract.resource_name
    pattern, window_format = settings.partition_pattern, settings.window_format
    backfill = start is not None or end is not None
    run_keys = RunKeys([settings.primary_key] if isinstance(settings.primary_key, str)
                       else list(settings.primary_key))  # fmt: skip

    def checked(good: pa.Table) -> Any:
        """The rows, marked so dlt's merge de-duplicates them once any key of the run repeats.

        Every item after the first repeat carries the mark: another resource's unmarked item
        would set the table's hint back to "de-duplicated".
        """
        if run_keys.add(good):
            return dlt.mark.with_hints(good, STAGED_ROWS_REPEAT)
        return good

    def rejected(rows: list[dict[str, Any]]) -> Any:
        counter[table] += len(rows)
        return rejects.mark(rows)

    def read_one(
        zone: LandingZone, entry: Listed, batches: _Batches, again: bool
    ) -> Generator[Any, None, tuple[str, int, int]]:
        """Read one file; returns (registry outcome, rows loaded, records rejected).

        A path read before (``again``) has its older rejected records superseded by this read's.
        """
        if again:
            counter.reread.add(entry.location)
        failures: list[str] = []
        loaded = refused = 0
        for good, bad in read_landed(zone, entry.location, contract, failures.append, entry):
            if bad:
                refused += len(bad)
                yield rejected(bad)
            if good is not None:
                loaded += good.num_rows
                yield from batches.add(good)
        return (registry.PARTLY_READ if failures else registry.READ), loaded, refused

    failed: set[str] = set()  # paths whose read failed in this run

    def take(zone: LandingZone, decision: Decision, entries: registry.Entries,
             batches: _Batches, every_file_again: bool) -> Iterator[Any]:  # fmt: skip
        entry, action = decision.entry, decision.action
        if action in ("refuse", "unreadable"):
            assert decision.reason is not None
            record = rejects.record(name, table, entry.location, 0, None, decision.reason)
            yield rejected([record])
            if action == "refuse" and decision.previous is not None:
                counter.reread.add(entry.location)  # a path read before: its older records go
            outcome = registry.REFUSED if action == "refuse" else registry.UNREADABLE
            entries.add(entry.location, entry.size, entry.mtime_us, outcome)
        elif action == "same_content":
            if decision.previous is not None:  # a path taken before: its older records go
                counter.reread.add(entry.location)
            entries.add(entry.location, entry.size, entry.mtime_us, registry.SAME_CONTENT,
                        decision.sha256, decision.same_as)  # fmt: skip
        elif action == "touched":
            previous = decision.previous
            assert previous is not None
            entries.add(
                entry.location,
                entry.size,
                entry.mtime_us,
                previous.outcome,
                decision.sha256,
                previous.same_as,
            )
        else:
            again = decision.previous is not None or every_file_again
            outcome, loaded, refused = yield from read_one(zone, entry, batches, again)
            if outcome == registry.PARTLY_READ:
                failed.add(entry.location)  # a later copy of its content is read, not skipped
            entries.add(entry.location, entry.size, entry.mtime_us, outcome,
                        decision.sha256, None, loaded, refused)  # fmt: skip

    def landing() -> Iterator[Any]:
        zone = landing_zone(name, settings)
        # a file the globs select but no reader reads is left alone; a link is always recorded
        listed = [e for e in zone.listing() if e.refused or file_format(e.location) is not None]
        window: Callable[[Listed], bool] | None = None
        if backfill:
            window = lambda entry: in_window(entry, start, end, pattern, window_format)  # noqa: E731
        entries = registry.Entries(name)
        batches = _Batches(contract.batch_rows, checked)
        with scratch.reading():
            registered, every_file_again = _registered(name, contract)
            for decision in plan(zone, listed, registered, window, failed):
                yield from take(zone, decision, entries, batches, every_file_again)
                if entries.full():
                    yield from (dlt.mark.with_hints(t, registry.hints(), create_table_variant=True)
                                for t in entries.flush())  # fmt: skip
            yield from batches.flush()
        for rows in entries.flush():
            yield dlt.mark.with_hints(rows, registry.hints(), create_table_variant=True)

    rows = dlt.resource(
        landing,
        name=table,
        table_name=table,
        write_disposition="merge",
        primary_key=settings.primary_key,
    )
    # staged rows are unique on the key until one repeats within the run (`checked`)
    rows.apply_hints(additional_table_hints={DEDUPLICATED_HINT: True})
    return [rejects.rejected_records_resource(name), rows]
