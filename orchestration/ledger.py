"""The run ledger: schema ``ops`` in the warehouse, written with plain SQL.

Tables (timestamps are UTC without a time zone, JSON is stored as text so both warehouses agree):

- ``ops.runs``: one row per run (``run``, ``backfill`` or ``replay``), updated as steps finish.
- ``ops.run_steps``: one row per attempt of a step (ingest, dbt_build, replay).
- ``ops.run_tables``: rows loaded / new / updated / rejected per raw table and run.
- ``ops.dbt_results``: dbt's run results, one row per node result.

Connections are opened per write and closed at once, so the ledger never holds the DuckDB file
while dlt or dbt use it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingestion import warehouse as wh

SCHEMA = "ops"

DDL = (
    f"""create table if not exists {SCHEMA}.runs (
        run_id varchar(64) primary key,
        command varchar(32) not null,
        status varchar(16) not null,
        started_at timestamp not null,
        ended_at timestamp,
        duration_s double precision,
        failed_step varchar(64),
        error text,
        warehouse varchar(16),
        host varchar(255),
        pid integer,
        args text,
        dlt_load_ids text,
        dbt_invocation_id varchar(64),
        rows_loaded bigint,
        rows_rejected bigint,
        models_built integer,
        tests_passed integer,
        tests_warned integer,
        tests_failed integer
    )""",
    f"""create table if not exists {SCHEMA}.run_steps (
        run_id varchar(64) not null,
        step varchar(64) not null,
        attempt integer not null,
        status varchar(16) not null,
        started_at timestamp not null,
        ended_at timestamp,
        error text
    )""",
    f"""create table if not exists {SCHEMA}.run_tables (
        run_id varchar(64) not null,
        step varchar(64) not null,
        table_name varchar(255) not null,
        rows_loaded bigint,
        rows_new bigint,
        rows_updated bigint,
        rows_rejected bigint,
        recorded_at timestamp not null
    )""",
    f"""create table if not exists {SCHEMA}.dbt_results (
        run_id varchar(64) not null,
        invocation_id varchar(64),
        unique_id varchar(512) not null,
        resource_type varchar(32),
        name varchar(255),
        status varchar(32) not null,
        execution_time_s double precision,
        rows_affected bigint,
        failures bigint,
        message text,
        recorded_at timestamp not null
    )""",
)


def utcnow() -> datetime:
    """Now in UTC, without tzinfo (the ledger's timestamp convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class TableRows:
    """Counts for one raw table in one step."""

    loaded: int = 0
    new: int = 0
    updated: int = 0
    rejected: int = 0


@dataclass
class NodeResult:
    """One dbt node result, as stored in ``ops.dbt_results``."""

    unique_id: str
    resource_type: str
    name: str
    status: str
    execution_time_s: float
    rows_affected: int | None = None
    failures: int | None = None
    message: str | None = None


@dataclass
class RunRecord:
    """The ``ops.runs`` row of the current run, kept in memory and upserted."""

    run_id: str
    command: str
    warehouse: str
    host: str
    pid: int
    args: dict[str, Any]
    started_at: datetime = field(default_factory=utcnow)
    status: str = "running"
    ended_at: datetime | None = None
    failed_step: str | None = None
    error: str | None = None
    dlt_load_ids: list[str] = field(default_factory=list)
    dbt_invocation_id: str | None = None
    tables: dict[str, TableRows] = field(default_factory=dict)
    models_built: int = 0
    tests_passed: int = 0
    tests_warned: int = 0
    tests_failed: int = 0

    @property
    def rows_loaded(self) -> int:
        return sum(t.loaded for t in self.tables.values())

    @property
    def rows_rejected(self) -> int:
        return sum(t.rejected for t in self.tables.values())

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class Ledger:
    """Writes and reads the ledger through ``ingestion.warehouse.connect()``."""

    def __init__(self, warehouse: wh.Warehouse | None = None) -> None:
        self.warehouse = warehouse or wh.current(wh.LOADER)
        self._paramstyle_qmark = self.warehouse.kind == "duckdb"

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        conn = wh.connect(self.warehouse)
        try:
            cur = conn.cursor()
            yield cur
            if not self._paramstyle_qmark:
                conn.commit()
        finally:
            conn.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("%s", "?") if self._paramstyle_qmark else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement (``%s`` placeholders on both warehouses)."""
        with self._cursor() as cur:
            cur.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""
        if not rows:
            return
        with self._cursor() as cur:
            cur.executemany(self._sql(sql), [tuple(r) for r in rows])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a query and return its rows as dicts."""
        with self._cursor() as cur:
            cur.execute(self._sql(sql), tuple(params))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def ensure(self) -> None:
        """Create the ``ops`` schema and tables if missing."""
        with self._cursor() as cur:
            wh.create_schema_if_missing(cur, self.warehouse.kind, SCHEMA)
            for statement in DDL:
                cur.execute(statement)

    def exists(self) -> bool:
        """True when the ledger tables exist."""
        rows = self.query(
            "select count(*) as n from information_schema.tables "
            "where table_schema = %s and table_name = 'runs'",
            (SCHEMA,),
        )
        return bool(rows and rows[0]["n"])

    def save_run(self, run: RunRecord) -> None:
        """Insert or update the run's row."""
        values = (
            run.command,
            run.status,
            run.started_at,
            run.ended_at,
            run.duration_s,
            run.failed_step,
            run.error,
            run.warehouse,
            run.host,
            run.pid,
            json.dumps(run.args, default=str, sort_keys=True),
            json.dumps(run.dlt_load_ids),
            run.dbt_invocation_id,
            run.rows_loaded,
            run.rows_rejected,
            run.models_built,
            run.tests_passed,
            run.tests_warned,
            run.tests_failed,
        )
        columns = (
            "command, status, started_at, ended_at, duration_s, failed_step, error, warehouse, "
            "host, pid, args, dlt_load_ids, dbt_invocation_id, rows_loaded, rows_rejected, "
            "models_built, tests_passed, tests_warned, tests_failed"
        )
        with self._cursor() as cur:
            cur.execute(self._sql(f"delete from {SCHEMA}.runs where run_id = %s"), (run.run_id,))
            placeholders = ", ".join(["%s"] * (len(values) + 1))
            cur.execute(
                self._sql(f"insert into {SCHEMA}.runs (run_id, {columns}) values ({placeholders})"),
                (run.run_id, *values),
            )

    def record_step(
        self,
        run_id: str,
        step: str,
        attempt: int,
        status: str,
        started_at: datetime,
        ended_at: datetime,
        error: str | None,
    ) -> None:
        """Append one attempt of a step."""
        self.execute(
            f"insert into {SCHEMA}.run_steps values (%s, %s, %s, %s, %s, %s, %s)",
            (run_id, step, attempt, status, started_at, ended_at, error),
        )

    def record_tables(self, run_id: str, step: str, tables: dict[str, TableRows]) -> None:
        """Append the per-table counts of a step."""
        now = utcnow()
        self.executemany(
            f"insert into {SCHEMA}.run_tables values (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (run_id, step, name, t.loaded, t.new, t.updated, t.rejected, now)
                for name, t in sorted(tables.items())
            ],
        )

    def record_dbt_results(
        self, run_id: str, invocation_id: str | None, results: Sequence[NodeResult]
    ) -> None:
        """Append dbt's node results."""
        now = utcnow()
        self.executemany(
            f"insert into {SCHEMA}.dbt_results values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    run_id,
                    invocation_id,
                    r.unique_id,
                    r.resource_type,
                    r.name,
                    r.status,
                    r.execution_time_s,
                    r.rows_affected,
                    r.failures,
                    r.message,
                    now,
                )
                for r in results
            ],
        )

    def mark_abandoned(self, run_id: str, reason: str) -> None:
        """Close a run left ``running`` by a process that died."""
        self.execute(
            f"update {SCHEMA}.runs set status = 'abandoned', ended_at = %s, error = %s "
            "where run_id = %s and status = 'running'",
            (utcnow(), reason, run_id),
        )
