"""A backfill window of days, checked before anything runs (no dlt import)."""

from __future__ import annotations

from datetime import date


def as_day(value: date | str | None) -> date | None:
    """A day from a date or an ISO ``YYYY-MM-DD`` string."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def check_window(start: date | None, end: date | None, full_refresh: bool = False) -> None:
    """Refuse a backfill window that cannot be run.

    Raises:
        ValueError: ``start`` is after ``end``, or a window is combined with a full re-read
            (``--full-refresh`` or ``--reload``).
    """
    if start and end and start > end:
        raise ValueError(f"--start {start} is after --end {end}")
    if full_refresh and (start or end):
        raise ValueError("--full-refresh/--reload and --start/--end cannot be combined")
