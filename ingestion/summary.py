"""What one run did: rows per table (new vs updated), rejected records, load ids, errors."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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


@dataclass
class RunSummary:
    """The result of ``ingestion.run()`` / ``ingestion.replay()``."""

    ok: bool = True
    duration_s: float = 0.0
    load_ids: list[str] = field(default_factory=list)
    tables: dict[str, TableCounts] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def table(self, key: str) -> TableCounts:
        """The counts of ``key`` (``<dataset>.<table>``), created empty on first use."""
        return self.tables.setdefault(key, TableCounts())

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)
