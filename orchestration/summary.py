"""The run's record: the one summary the run script keeps, prints, stores and alerts on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingestion.results import TableCounts


def utcnow() -> datetime:
    """Now in UTC, without tzinfo (the ledger's timestamp convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


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
    tables: dict[str, TableCounts] = field(default_factory=dict)
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

    def add_tables(self, tables: dict[str, TableCounts]) -> None:
        """Add one step's counts per raw table."""
        for name, counts in tables.items():
            self.tables.setdefault(name, TableCounts()).add(counts)
