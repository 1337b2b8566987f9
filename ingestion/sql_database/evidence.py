"""Hard deletes need evidence: a run never records most of a table as deleted.

A table that briefly returns nothing (a restore in progress, a replica fail-over, the wrong
schema or database) looks exactly like a table whose every row was deleted. The key
reconciliation (``deletes.py``) therefore records a table's missing keys only while they are
at most ``max_delete_share`` of the keys landed and not yet deleted; beyond that, or when the
source table holds no key at all, it records nothing and the source's load stops with
:class:`DeletesRefused`, naming the table, the counts and the setting that accepts them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeleteCheck:
    """What one run's reconciliation of one table found."""

    table: str
    live: int  # keys landed and not recorded as deleted
    present: int  # keys the source table holds now
    gone: int  # landed, not yet deleted, and missing from the source now
    max_share: float

    @property
    def share(self) -> float:
        """The share of the live landed keys this run would record as deleted."""
        return self.gone / self.live if self.live else 0.0

    @property
    def refused(self) -> bool:
        """Too many keys gone, or an empty source table, to be believed without a person."""
        if not self.gone or self.max_share >= 1:
            return False
        return self.present == 0 or self.gone > self.max_share * self.live

    def describe(self) -> str:
        """``orders: 0 keys in the source, 103 of 103 landed gone (100% > 0.1)``."""
        return (
            f"{self.table}: {self.present:,} keys in the source, {self.gone:,} of {self.live:,} "
            f"landed gone ({self.share:.0%} > {self.max_share:g})"
        )


class DeletesRefused(RuntimeError):
    """A run found more of a table's landed keys gone than it may record as hard-deleted."""

    def __init__(self, source: str, checks: list[DeleteCheck], sources_file: str) -> None:
        self.source = source
        self.checks = checks
        tables = "; ".join(check.describe() for check in checks)
        table = checks[0].table if len(checks) == 1 else "<table>"
        super().__init__(
            f"hard deletes refused, nothing loaded: {tables}. If they were really deleted, raise "
            f"{source}.tables.{table}.max_delete_share (1 = no limit) in {sources_file}"
        )
