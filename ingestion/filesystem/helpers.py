"""Small helpers of the file-drop source type: URLs, partitions, compressed files."""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO

from ingestion.filesystem.listing import Listed
from ingestion.window import parse_day


def absolute_url(bucket_url: str) -> str:
    """A local folder as an absolute ``file://`` URL; URLs with a scheme are kept."""
    if "://" in bucket_url:
        return bucket_url
    return Path(bucket_url).resolve().as_uri()


def partition_date(path: str, pattern: str, window_format: str = "date") -> date | None:
    """The UTC day of a path's partition (``date=YYYY-MM-DD``, ``ts=<epoch>``, ...), if it has
    one that reads (``date=2026-13-45`` has none)."""
    found = re.search(pattern, path)
    return parse_day(found.group(1), window_format) if found else None


def compression_problem(open_file: Callable[[], IO[bytes]]) -> str | None:
    """Why a compressed file cannot be read to its end (cut, corrupt), or None.

    Reads the decompressed stream through once: gzip notices a cut or corrupt file only at the
    point of damage, after the rows before it would have been loaded. An I/O error is raised.
    """
    try:
        with open_file() as stream:
            while stream.read(1 << 24):
                pass
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        return f"unreadable compressed file, nothing loaded from it ({type(exc).__name__}: {exc})"
    return None


def in_window(
    entry: Listed, start: date | None, end: date | None, pattern: str, window_format: str = "date"
) -> bool:
    """Whether a file's partition day (else its modification day) is inside a backfill window."""
    day = partition_date(entry.location, pattern, window_format)
    if day is None:
        day = datetime.fromtimestamp(entry.mtime_us / 1_000_000, UTC).date()
    return (start is None or day >= start) and (end is None or day <= end)
