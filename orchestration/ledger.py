"""The run ledger: schema ``ops`` in the warehouse, written with plain SQL.

Tables (timestamps are UTC without a time zone, JSON is stored as text so both warehouses agree):

- ``ops.runs``: one row per run (``run``, ``ingest``, ``build``, ``backfill``, ``replay``,
  ``watch``: a cycle that loaded, or a watch's closing row).
- ``ops.run_steps``: one row per attempt of a step (ingest, replay, dbt_build).
- ``ops.run_sources``: one row per source and attempt of a load step: status, error, dlt load
  ids, rows per table and dlt's trace.
- ``ops.run_tables``: rows loaded / new / updated / rejected per raw table and run.
- ``ops.dbt_results``: dbt's run results, one row per node result.

Every text is masked (``ingestion.redact``) before it is stored. Connections are opened per
write and closed at once, so the ledger never holds the DuckDB file while dlt or dbt use it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ingestion import warehouse as wh
from ingestion.redact import redact
from ingestion.results import SourceLoad, TableCounts
from orchestration.summary import NodeResult, RunRecord, utcnow

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
    f"""create table if not exists {SCHEMA}.run_sources (
        run_id varchar(64) not null,
        step varchar(64) not null,
        attempt integer not null,
        source_name varchar(255) not null,
        dataset_name varchar(255) not null,
        status varchar(16) not null,
        started_at timestamp not null,
        duration_s double precision,
        error text,
        load_ids text,
        row_counts text,
        rows_rejected bigint,
        trace text
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


class Ledger:
    """Writes and reads the ledger through ``ingestion.warehouse``."""

    def __init__(self, warehouse: wh.Warehouse | None = None) -> None:
        self.warehouse = warehouse or wh.current(wh.LOADER)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement (``%s`` placeholders on both warehouses)."""
        wh.execute(self.warehouse, sql, [params])

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""
        if rows:
            wh.execute(self.warehouse, sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a query and return its rows as dicts."""
        return wh.query_dicts(self.warehouse, sql, params)

    def ensure(self) -> None:
        """Create the ``ops`` schema and tables if missing."""
        with wh.cursor(self.warehouse) as cur:
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

    def _insert(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Append ``rows`` (every column, in the DDL's order) to ``ops.<table>``."""
        if rows:
            marks = ", ".join(["%s"] * len(rows[0]))
            self.executemany(f"insert into {SCHEMA}.{table} values ({marks})", rows)

    @staticmethod
    def _run_row(run: RunRecord) -> tuple[Any, ...]:
        """The run's ``ops.runs`` row, run_id first."""
        return (
            run.run_id,
            run.command,
            run.status,
            run.started_at,
            run.ended_at,
            run.duration_s,
            run.failed_step,
            redact(run.error) if run.error else None,
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

    def save_run(self, run: RunRecord) -> None:
        """Insert or update the run's row."""
        run_id, *values = self._run_row(run)
        columns = (
            "command, status, started_at, ended_at, duration_s, failed_step, error, warehouse, "
            "host, pid, args, dlt_load_ids, dbt_invocation_id, rows_loaded, rows_rejected, "
            "models_built, tests_passed, tests_warned, tests_failed"
        )
        marks = ", ".join(["%s"] * (len(values) + 1))
        with wh.cursor(self.warehouse) as cur:  # one transaction: never two rows, never none
            delete = f"delete from {SCHEMA}.runs where run_id = %s"
            insert = f"insert into {SCHEMA}.runs (run_id, {columns}) values ({marks})"
            cur.execute(wh.placeholders(self.warehouse, delete), (run_id,))
            cur.execute(wh.placeholders(self.warehouse, insert), (run_id, *values))

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
        masked = redact(error) if error else None
        self._insert("run_steps", [(run_id, step, attempt, status, started_at, ended_at, masked)])

    def record_sources(
        self, run_id: str, step: str, attempt: int, loads: Sequence[SourceLoad]
    ) -> None:
        """Append what each source's pipeline did in one attempt of a load step."""
        self._insert(
            "run_sources",
            [
                (
                    run_id,
                    step,
                    attempt,
                    load.name,
                    load.dataset,
                    "success" if load.ok else "failed",
                    load.started_at.astimezone(UTC).replace(tzinfo=None),
                    round(load.duration_s, 3),
                    redact(load.error) if load.error else None,
                    json.dumps(load.load_ids),
                    json.dumps(load.row_counts, sort_keys=True),
                    sum(load.rejected.values()),
                    redact(load.trace) if load.trace else None,
                )
                for load in loads
            ],
        )

    def record_tables(self, run_id: str, step: str, tables: dict[str, TableCounts]) -> None:
        """Append the per-table counts of a step."""
        now = utcnow()
        self._insert(
            "run_tables",
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
        self._insert(
            "dbt_results",
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
                    redact(r.message) if r.message else None,
                    now,
                )
                for r in results
            ],
        )

    def abandon_unfinished(self, reason: str) -> None:
        """Close every run still ``running``: called under the run lock, none of them can be."""
        self.execute(
            f"update {SCHEMA}.runs set status = 'abandoned', ended_at = %s, error = %s "
            "where status = 'running'",
            (utcnow(), reason),
        )

    def mark_abandoned(self, run_id: str, reason: str) -> None:
        """Close a run left ``running`` by a process that died."""
        self.execute(
            f"update {SCHEMA}.runs set status = 'abandoned', ended_at = %s, error = %s "
            "where run_id = %s and status = 'running'",
            (utcnow(), reason, run_id),
        )


def open_ledger(warehouse: wh.Warehouse) -> Ledger:
    """The ledger of ``warehouse``: SQL tables, or append-only Parquet in Spark's lake."""
    if warehouse.kind == "spark":
        from orchestration.lake_ledger import LakeLedger

        return LakeLedger(warehouse)
    return Ledger(warehouse)
