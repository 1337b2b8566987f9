"""What a load did: per source (load ids, rows, rejects, dlt's trace) and per raw table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class TableCounts:
    """Counts for one ``<dataset>.<table>`` in one run.

    Attributes:
        loaded: rows written by this run's load packages (inserts and merge updates).
        new: rows the table gained (row count after minus before).
        updated: loaded rows that replaced an existing row with the same key.
        rejected: source records for this table that went to ``rejected_records``.
    """

    loaded: int = 0
    new: int = 0
    updated: int = 0
    rejected: int = 0

    def add(self, other: TableCounts) -> None:
        """Add another run's or step's counts to these."""
        self.loaded += other.loaded
        self.new += other.new
        self.updated += other.updated
        self.rejected += other.rejected


@dataclass
class SourceLoad:
    """What one source's pipeline did in one run (or replay)."""

    name: str
    dataset: str
    started_at: datetime
    full_refresh: bool = False
    reload: bool = False  # the tables were emptied first: every row after it is new
    load_ids: list[str] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)  # the tables counted (those written)
    listed: list[str] = field(default_factory=list)  # every table of the dataset
    error: str | None = None
    trace: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """The source loaded without error."""
        return self.error is None

    def tables(self) -> dict[str, TableCounts]:
        """Counts per ``<dataset>.<table>``: loaded, new (by row count), updated, rejected."""
        out: dict[str, TableCounts] = {}
        tables = set(self.row_counts) | set(self.after) | set(self.rejected) | set(self.listed)
        for table in sorted(tables):
            loaded = self.row_counts.get(table, 0)
            before = 0 if self.reload else self.before.get(table, 0)
            new = max(0, self.after[table] - before) if table in self.after else 0
            out[f"{self.dataset}.{table}"] = TableCounts(
                loaded=loaded,
                new=new,
                updated=max(0, loaded - new),
                rejected=self.rejected.get(table, 0),
            )
        return out


@dataclass
class LoadReport:
    """The result of :func:`ingestion.load` or :func:`ingestion.replay`."""

    sources: list[SourceLoad] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Every source loaded."""
        return all(s.ok for s in self.sources)

    @property
    def errors(self) -> list[str]:
        """One line per failed source."""
        return [s.error for s in self.sources if s.error is not None]

    @property
    def load_ids(self) -> list[str]:
        """The dlt load ids of every source, in run order."""
        return [load_id for s in self.sources for load_id in s.load_ids]

    @property
    def tables(self) -> dict[str, TableCounts]:
        """Counts per ``<dataset>.<table>`` over every source."""
        out: dict[str, TableCounts] = {}
        for source in self.sources:
            for name, counts in source.tables().items():
                out.setdefault(name, TableCounts()).add(counts)
        return out
