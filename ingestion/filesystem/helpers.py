"""Small helpers of the file-drop source type: URLs, partitions, compressed files."""

from __future__ import annotations

import gzip
import re
import zlib
from datetime import date
from pathlib import Path

from dlt.sources.filesystem import FileItemDict


def absolute_url(bucket_url: str) -> str:
    """A local folder as an absolute ``file://`` URL; URLs with a scheme are kept."""
    if "://" in bucket_url:
        return bucket_url
    return Path(bucket_url).resolve().as_uri()


def glob_slug(glob: str) -> str:
    """A stable resource-name suffix for a glob (its incremental state is kept under it)."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", glob).strip("_").lower() or "all"


def partition_date(path: str, pattern: str) -> date | None:
    """The ``date=YYYY-MM-DD`` partition of a path, if it has one."""
    found = re.search(pattern, path)
    return date.fromisoformat(found.group(1)) if found else None


def compression_problem(item: FileItemDict) -> str | None:
    """Why a compressed file cannot be read to its end (cut, corrupt), or None.

    Reads the decompressed stream through once: gzip notices a cut or corrupt file only at the
    point of damage, after the rows before it would have been loaded.
    """
    if item.get("encoding") != "gzip":
        return None
    try:
        with item.open() as stream:
            while stream.read(1 << 24):
                pass
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        return f"unreadable compressed file, nothing loaded from it ({type(exc).__name__}: {exc})"
    return None


def in_window(item: FileItemDict, start: date | None, end: date | None, pattern: str) -> bool:
    """Whether a file's partition day (else its modification day) is inside a backfill window."""
    day = partition_date(item["relative_path"], pattern) or item["modification_date"].date()
    return (start is None or day >= start) and (end is None or day <= end)
