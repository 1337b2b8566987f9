"""What a ``--reload`` forgets, said before it acts.

A reload empties the selected sources' raw tables and reads each source again from its
beginning, so every row a source no longer serves is lost for good (a plain ``--full-refresh``
re-reads everything too, but merges and keeps them). :func:`plan` counts the rows each raw
table holds now and, where the warehouse already knows it, the keys its source no longer
serves: the hard deletes a database source recorded in ``deleted_records``. The run script
prints the plan and reloads only when the operator confirms it (``--yes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingestion import config, row_counts, warehouse

DELETED_RECORDS = "deleted_records"


@dataclass
class SourcePlan:
    """One source's tables: rows held now, and keys its source no longer serves where known."""

    name: str
    dataset: str
    rows: dict[str, int] = field(default_factory=dict)
    unserved: dict[str, int] = field(default_factory=dict)  # only the tables where it is known


@dataclass
class ReloadPlan:
    """What a reload of the selected sources forgets."""

    sources: list[SourcePlan] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Rows the reload empties (most are read again)."""
        return sum(sum(s.rows.values()) for s in self.sources)

    def lines(self) -> list[str]:
        """The plan as lines for the console and the log."""
        out = [
            f"--reload empties {self.rows:,} rows in these raw tables and reads each source "
            "again from its beginning; rows a source no longer serves are lost for good:"
        ]
        for source in self.sources:
            if not source.rows:
                out.append(f"  {source.name}: nothing landed yet")
            for table, rows in sorted(source.rows.items()):
                gone = source.unserved.get(table)
                known = "" if gone is None else f", {gone:,} of them no longer in the source"
                out.append(f"  {source.dataset}.{table}: {rows:,} rows{known}")
        out.append(
            "  (rows no longer in the source are known only for database tables with "
            "detect_hard_deletes; --full-refresh re-reads every source and keeps them)"
        )
        return out


def _hard_deleted(wh: warehouse.Warehouse, cfg: config.SourceConfig) -> dict[str, int]:
    """Keys recorded as hard-deleted per raw table of a database source that detects them."""
    watched = {
        table: (spec or {}).get("resource_name") or table
        for table, spec in cfg.settings.get("tables", {}).items()
        if (spec or {}).get("detect_hard_deletes")
    }
    rows = warehouse.query(
        wh,
        f'select table_name, count(*) from "{cfg.dataset}"."{DELETED_RECORDS}" '
        "where is_deleted group by table_name",
    )
    found = {str(table): int(n) for table, n in rows}
    return {raw: found.get(table, 0) for table, raw in watched.items()}


def plan(wh: warehouse.Warehouse, names: list[str] | None = None) -> ReloadPlan:
    """What reloading the named sources (default: every enabled one) would forget.

    Raises:
        SourceConfigError: the sources file is invalid or names an unknown source.
    """
    out = ReloadPlan()
    for cfg in config.select(config.load(), names):
        source = SourcePlan(cfg.name, cfg.dataset, row_counts.counts(wh, cfg.dataset))
        if cfg.type == "sql_database" and DELETED_RECORDS in source.rows:
            source.unserved = _hard_deleted(wh, cfg)
        out.sources.append(source)
    return out
