"""A backfill window of days, checked before anything runs (no dlt import), and its bounds
rendered as each source's cursor is written (``window_format``).

A window ``--start S --end E`` is the instants from S 00:00 UTC up to, not including, the day
after E. A cursor compared with it is written one of these ways:

- ``date``: ``2026-03-01``; ``datetime``: ``2026-03-01T00:00:00Z`` (ISO 8601, UTC);
- ``epoch_s`` / ``epoch_ms``: seconds or milliseconds since 1970-01-01 UTC (integers);
- a ``strftime`` format (any text holding ``%``), e.g. ``%Y-%m-%d %H:%M:%S``; it must sort
  like the instants it names, since sources compare the text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

WINDOW_KINDS = ("date", "datetime", "epoch_s", "epoch_ms")


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


def check_format(value: str) -> str:
    """A ``window_format`` setting as it is, or ValueError naming the accepted values."""
    if value in WINDOW_KINDS or "%" in value:
        return value
    raise ValueError(f"must be one of {', '.join(WINDOW_KINDS)} or a strftime format with %")


def midnight(day: date) -> datetime:
    """The first instant of a day, UTC."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def render(instant: datetime, window_format: str) -> str | int:
    """An instant written the way a cursor of ``window_format`` is."""
    if window_format == "date":
        return instant.date().isoformat()
    if window_format == "datetime":
        return instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    if window_format == "epoch_s":
        return int(instant.timestamp())
    if window_format == "epoch_ms":
        return int(instant.timestamp()) * 1000
    return instant.strftime(window_format)


def bounds(start: date | None, end: date | None, window_format: str) -> tuple[str | int, str | int]:
    """The window's first instant and the first one after it, as a cursor of the format."""
    first = midnight(start or date(1970, 1, 1))
    after = midnight((end or datetime.now(UTC).date()) + timedelta(days=1))
    return render(first, window_format), render(after, window_format)


def last_day(end: date | None, window_format: str) -> str | int:
    """What an API's end parameter receives: the last day for ``date``, else the first instant
    after the window (a source's cursor drops what lies beyond it either way)."""
    day = end or datetime.now(UTC).date()
    if window_format == "date":
        return day.isoformat()
    return render(midnight(day + timedelta(days=1)), window_format)


def parse_day(text: str, window_format: str) -> date | None:
    """The UTC day a written cursor value (a file's partition) falls on, or None if unreadable."""
    try:
        if window_format == "date":
            return date.fromisoformat(text)
        if window_format in ("epoch_s", "epoch_ms"):
            seconds = int(text) / (1000 if window_format == "epoch_ms" else 1)
            return datetime.fromtimestamp(seconds, UTC).date()
        if window_format == "datetime":
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        else:
            parsed = datetime.strptime(text, window_format)
    except (ValueError, OverflowError, OSError):
        return None
    return (parsed.astimezone(UTC) if parsed.tzinfo else parsed).date()
