"""The run ledger on Spark: append-only Parquet under ``<LAKE_URL>/ops/<table>/`` (ADR 0006).

The tables and columns are ``orchestration.ledger``'s; every write appends one file, with a
``_written_at`` column. A run's row is never updated in place: each save appends a new version
and the ``ops`` staging models keep the latest per ``run_id``. dbt reads the folders as
external tables (``lake_tables``), like raw; Python reads them through DuckDB (``ingestion.lake``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ingestion import lake
from ingestion import warehouse as wh
from orchestration.ledger import DDL, SCHEMA, Ledger
from orchestration.summary import utcnow

VERSION_COLUMN = "_written_at"
_TYPES = (
    ("double precision", pa.float64()),
    ("bigint", pa.int64()),
    ("integer", pa.int32()),
    ("timestamp", pa.timestamp("us", tz="UTC")),
    ("varchar", pa.string()),
    ("text", pa.string()),
)


def _schema(ddl: str) -> tuple[str, pa.Schema]:
    """The table name and Arrow schema of one ``create table`` statement of the ledger."""
    found = re.search(rf"{SCHEMA}\.(\w+) \((.*)\)\s*$", ddl, re.S)
    assert found is not None, ddl
    fields = []
    for line in found[2].split(",\n"):
        name, definition = line.strip().split(" ", 1)
        arrow = next(t for prefix, t in _TYPES if definition.startswith(prefix))
        fields.append(pa.field(name, arrow))
    fields.append(pa.field(VERSION_COLUMN, pa.timestamp("us", tz="UTC")))
    return found[1], pa.schema(fields)


SCHEMAS = dict(_schema(ddl) for ddl in DDL)


def _utc(value: Any) -> Any:
    """Naive UTC datetimes (the ledger's convention) as aware ones, so Spark reads instants."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class LakeLedger(Ledger):
    """The ledger as files in the lake: appends only, read back through DuckDB or Spark."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError("the lake ledger appends files; it runs no SQL writes")

    def ensure(self) -> None:
        """An empty file per table without one, so dbt's first build sees every table."""
        lake.ensure_files(self.warehouse, SCHEMA, SCHEMAS)

    def exists(self) -> bool:
        """True once the ledger's tables exist (``ensure`` or a first write)."""
        fs = lake.filesystem(self.warehouse)
        folder = f"{lake.root(self.warehouse).rstrip('/')}/{SCHEMA}/runs"
        return bool(fs.exists(folder) and fs.ls(folder, detail=False))

    def _insert(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        schema = SCHEMAS[table]
        written = datetime.now(UTC)
        columns = list(zip(*[[*row, written] for row in rows], strict=True))
        arrays = [
            pa.array([_utc(v) for v in values], type=field.type)
            for values, field in zip(columns, schema, strict=True)
        ]
        lake.append(self.warehouse, SCHEMA, table, pa.Table.from_arrays(arrays, schema=schema))

    def save_run(self, run: Any) -> None:
        """Append the run's current row: the newest version is the run's state."""
        self._insert("runs", [self._run_row(run)])

    def latest_run(self, run_id: str) -> dict[str, Any] | None:
        """The newest version of a run's row, or None."""
        rows = wh.query_dicts(
            self.warehouse,
            f"select * from {SCHEMA}.runs where run_id = %s order by {VERSION_COLUMN} desc limit 1",
            (run_id,),
        )
        return rows[0] if rows else None

    def mark_abandoned(self, run_id: str, reason: str) -> None:
        """Append an ``abandoned`` version of a run still ``running``."""
        self._abandon([self.latest_run(run_id)], reason)

    def abandon_unfinished(self, reason: str) -> None:
        """Append an ``abandoned`` version of every run whose newest version is ``running``."""
        newest = wh.query_dicts(
            self.warehouse,
            f"select * from {SCHEMA}.runs qualify row_number() over "
            f"(partition by run_id order by {VERSION_COLUMN} desc) = 1",
        )
        self._abandon(newest, reason)

    def _abandon(self, runs: Sequence[dict[str, Any] | None], reason: str) -> None:
        running = [run for run in runs if run is not None and run["status"] == "running"]
        names = [f.name for f in SCHEMAS["runs"] if f.name != VERSION_COLUMN]
        ended_at = utcnow()
        for run in running:
            run.update(status="abandoned", ended_at=ended_at, error=reason)
        self._insert("runs", [tuple(run[name] for name in names) for run in running])
