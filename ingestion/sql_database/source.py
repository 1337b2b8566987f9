"""The ``@dlt.source`` of the database type: tables read with dlt's ``sql_table``.

Each configured table is one ``sql_table`` resource read through an Arrow backend, incremental
on its cursor column with an overlap window (``lag``) so rows committed late with an older
timestamp are re-read, and merged on its primary key. Soft-deleted rows are ordinary updates
that carry ``deleted_at``, so they arrive like any other change. Rows removed from the source
(hard deletes) are found by a key-only reconciliation (``deletes.py``) for tables declared with
``detect_hard_deletes: true`` and recorded in ``deleted_records``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue
from dlt.extract import DltResource
from dlt.extract.incremental import Incremental
from dlt.sources.sql_database import TableBackend, sql_table
from sqlalchemy.exc import NoSuchTableError

from ingestion import rejects
from ingestion.config import resolve_secret
from ingestion.run_options import RunOptions
from ingestion.sql_database.deletes import deleted_records_resource
from ingestion.sql_database.helpers import TableMissing, engine_url
from ingestion.sql_database.settings import SqlDatabaseSettings, TableSettings
from ingestion.typed_settings import validated
from ingestion.window import bounds


def _incremental(
    spec: TableSettings, default_lag: float, start: date | None, end: date | None
) -> Incremental[Any] | None:
    """The table's cursor: a bounded window for a backfill (stateless), else an overlap ``lag``."""
    if not spec.cursor:
        return None
    if start or end:
        first: Any = datetime.combine(start or date(1970, 1, 1), time.min)
        last = end or datetime.now(UTC).date()  # today as window.bounds sees it: in UTC
        after: Any = datetime.combine(last + timedelta(days=1), time.min)
        if spec.window_format:  # a cursor column of text or numbers: bounds written alike
            first, after = bounds(start, end, spec.window_format)
        return dlt.sources.incremental(
            spec.cursor, initial_value=first, end_value=after, range_end="open"
        )
    lag = spec.lag_seconds if spec.lag_seconds is not None else default_lag
    return dlt.sources.incremental(spec.cursor, lag=lag)


@dlt.source(name="sql_database", section="sql_database", max_table_nesting=0)
def sql_database_source(
    credentials: TSecretStrValue = dlt.secrets.value,
    tables: dict[str, Any] = dlt.config.value,
    backend: TableBackend | None = None,
    chunk_size: int | None = None,
    lag_seconds: float | None = None,
    max_delete_share: float | None = None,
    run: RunOptions | None = None,
) -> list[DltResource]:
    """A database system: one resource per declared table, plus ``rejected_records`` and
    ``deleted_records``.

    Clone it per system (``sql_database_source.clone(name="shop", section="shop")``): dlt then
    injects ``sources.shop.<argument>`` from the environment, ``.dlt/*.toml`` or the sources
    file.

    Args:
        credentials: SQLAlchemy URL (or a ``secret:``/``file:`` reference to one);
            ``postgresql://`` is read as ``postgresql+psycopg2://``.
        tables: ``{table: {primary_key, cursor, lag_seconds, detect_hard_deletes,
            max_delete_share, schema, resource_name}}``; a table without ``primary_key`` is
            appended, without ``cursor`` read in full each run.
        backend: dlt's table backend (``pyarrow``, ``connectorx``, ``sqlalchemy``, ``pandas``).
        chunk_size: rows per read (bounds the loader's memory).
        lag_seconds: how far before the last cursor value each run re-reads.
        max_delete_share: the largest share of a table's landed keys one run may record as
            hard-deleted (a table's own ``max_delete_share`` wins); beyond it, or for an empty
            table, the load stops instead (``evidence.py``).
        run: this run's reject counter and backfill window (not configuration). The database
            types every value, so nothing is rejected; the table exists for a uniform raw layer.

    Raises:
        SourceConfigError: a setting is invalid (names the source and the key, never a secret).
        DatabaseFileMissing: a SQLite file does not exist (never created: opened read-only).
        TableMissing: a declared table does not exist in the source database.
    """
    name = dlt.current.source_schema().name
    options = run or RunOptions()
    given = {
        "tables": tables,
        "backend": backend,
        "chunk_size": chunk_size,
        "lag_seconds": lag_seconds,
        "max_delete_share": max_delete_share,
    }
    settings = validated(
        SqlDatabaseSettings, name, {k: v for k, v in given.items() if v is not None}
    )
    url = engine_url(resolve_secret(credentials, where=f"{name}.credentials"), name)
    declared = {t: s.model_dump(by_alias=True) for t, s in settings.tables.items()}
    resources = [
        rejects.rejected_records_resource(name),
        # None: the running pipeline's dataset
        deleted_records_resource(name, None, url, declared, settings.max_delete_share),
    ]
    for table, spec in settings.tables.items():
        resources.append(_table(url, table, spec, settings, options))
    return resources


def _table(
    url: str, table: str, spec: TableSettings, settings: SqlDatabaseSettings, options: RunOptions
) -> DltResource:
    """One table's ``sql_table`` resource (reflected now, so a missing table fails here).

    Raises:
        TableMissing: the table does not exist in the source database (the table is named).
    """
    try:
        resource = sql_table(
            credentials=url,
            table=table,
            schema=spec.schema_,
            incremental=_incremental(spec, settings.lag_seconds, options.start, options.end),
            chunk_size=settings.chunk_size,
            backend=settings.backend,
            reflection_level="full_with_precision",
            write_disposition="merge" if spec.primary_key else "append",
            primary_key=spec.primary_key or [],
        )
    except NoSuchTableError:
        where = f"schema {spec.schema_!r}" if spec.schema_ else "its default schema"
        raise TableMissing(
            f"table {table!r} does not exist in the source database ({where})"
        ) from None
    return resource.with_name(spec.resource_name or table)
