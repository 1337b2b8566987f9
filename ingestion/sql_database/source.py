"""Shop database: tables loaded with dlt's ``sql_database`` building block.

Each configured table is one ``sql_table`` resource read through an Arrow backend, incremental
on its cursor column with an overlap window (``lag``) so rows committed late with an older
timestamp are re-read, and merged on its primary key. Soft-deleted rows are ordinary updates
that carry ``deleted_at``, so they arrive like any other change. Rows removed from the source
(hard deletes) are found by a key-only reconciliation (``ingestion.shop.deletes``) for tables
declared with ``detect_hard_deletes: true`` and recorded in ``deleted_records``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import dlt
from dlt.sources.sql_database import sql_table

from ingestion import rejects
from ingestion.config import SourceConfig, resolve_secret
from ingestion.shop.deletes import deleted_records_resource
from ingestion.shop.helpers import engine_url
from ingestion.shop.settings import DEFAULT_BACKEND, DEFAULT_CHUNK_SIZE, DEFAULT_LAG_SECONDS


def source(
    config: SourceConfig,
    counter: rejects.RejectCounter,
    start: date | None = None,
    end: date | None = None,
) -> Any:
    """Build the shop source from its declarative configuration.

    Args:
        config: the ``shop`` entry of the sources file.
        counter: counts rejected records per resource (the DB loader rejects nothing itself:
            the database types every value; the table exists for a uniform raw layer).
        start: with ``end``, a backfill window on the cursor column; the stored cursor is not
            touched (dlt keeps no state for an incremental with an ``end_value``).
        end: last day of the backfill window (inclusive).
    """
    settings = config.settings
    credentials = engine_url(str(resolve_secret(settings["credentials"])))
    backend = settings.get("backend", DEFAULT_BACKEND)
    chunk_size = int(settings.get("chunk_size", DEFAULT_CHUNK_SIZE))
    default_lag = float(settings.get("lag_seconds", DEFAULT_LAG_SECONDS))
    tables: dict[str, dict[str, Any]] = settings["tables"]

    @dlt.source(name=config.name, max_table_nesting=0)
    def shop_source() -> Any:
        resources = [
            rejects.rejected_records_resource(config.name),
            deleted_records_resource(config.name, config.dataset, credentials, tables),
        ]
        for table, spec in tables.items():
            spec = spec or {}
            cursor = spec.get("cursor")
            incremental = None
            if cursor and (start or end):
                incremental = dlt.sources.incremental(
                    cursor,
                    initial_value=datetime.combine(start or date(1970, 1, 1), time.min),
                    end_value=datetime.combine((end or date.today()) + timedelta(days=1), time.min),
                    range_end="open",
                )
            elif cursor:
                incremental = dlt.sources.incremental(
                    cursor, lag=float(spec.get("lag_seconds", default_lag))
                )
            resources.append(
                sql_table(
                    credentials=credentials,
                    table=table,
                    schema=spec.get("schema"),
                    incremental=incremental,
                    chunk_size=chunk_size,
                    backend=backend,
                    reflection_level="full_with_precision",
                    write_disposition="merge" if spec.get("primary_key") else "append",
                    primary_key=spec.get("primary_key") or [],
                ).with_name(spec.get("resource_name", table))
            )
        return resources

    return shop_source()
