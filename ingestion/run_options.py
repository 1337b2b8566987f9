"""What a run passes to a source besides its configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ingestion.rejects import RejectCounter


@dataclass(frozen=True)
class RunOptions:
    """This run's reject counter and backfill window.

    A source takes them as one argument of this type, which dlt does not inject: a ``start``
    found in the environment must never turn a run into a backfill.
    """

    counter: RejectCounter = field(default_factory=RejectCounter)
    # with ``end``: load only this window (inclusive days); cursors are not touched
    start: date | None = None
    end: date | None = None
