"""The file registry: which files of a landing zone were taken, kept in the raw dataset.

One row per file (``source_name``, ``location``) with the size, modification time and SHA-256 of
the content the loader took, and what it did with it (``outcome``): ``read``, ``same_content``
(the content was already read under another name: a renamed or copied file, not read again),
``refused`` (a link or a file that must not be read), ``unreadable`` (it could not be opened)
or ``partly_read`` (its reader failed midway); the last two are read again by every run. The
rows travel in the same load package as the file's rows, so a run killed anywhere leaves both
or neither (the next run finishes a pending package before it lists the folder).

A run lists the landing zone once, reads the registry once and compares the two as sets: files
not registered, or registered with another size or time, are candidates; a candidate whose
content hash is already known is recorded without being read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import pyarrow as pa

from ingestion import warehouse

TABLE = "file_registry"
PRIMARY_KEY = ("source_name", "location")
READ, SAME_CONTENT, REFUSED, UNREADABLE = "read", "same_content", "refused", "unreadable"
PARTLY_READ = "partly_read"

SCHEMA = pa.schema(
    [
        pa.field("source_name", pa.string(), nullable=False),
        pa.field("location", pa.string(), nullable=False),
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("modified_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("content_sha256", pa.string()),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("same_as", pa.string()),
        pa.field("rows_loaded", pa.int64()),
        pa.field("rows_rejected", pa.int64()),
    ]
)
FLUSH_ROWS = 10_000


@dataclass(frozen=True)
class Registered:
    """What the registry holds for one file."""

    size: int
    mtime_us: int
    sha256: str | None
    outcome: str
    same_as: str | None


def hints() -> Any:
    """Table hints routing Arrow rows to the registry (merge on source + location)."""
    import dlt

    return dlt.mark.make_hints(
        table_name=TABLE,
        write_disposition="merge",
        primary_key=list(PRIMARY_KEY),
        file_format="parquet",
    )


def _epoch_us(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def read(dataset: str, source_name: str) -> dict[str, Registered]:
    """Every registered file of a source, its newest entry winning (empty before the first load)."""
    wh = warehouse.current(warehouse.LOADER)
    if not warehouse.table_exists(wh, dataset, TABLE):
        return {}
    rows = warehouse.query(
        wh,
        "select location, size_bytes, modified_at, content_sha256, outcome, same_as "
        f'from "{dataset}"."{TABLE}" where source_name = %s order by _dlt_load_id',
        (source_name,),
    )
    return {
        str(location): Registered(int(size), _epoch_us(modified), sha, str(outcome), same_as)
        for location, size, modified, sha, outcome, same_as in rows
    }


def content_hash(stream: IO[bytes]) -> str:
    """SHA-256 of a stream's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    while block := stream.read(1 << 20):
        digest.update(block)
    return digest.hexdigest()


class Entries:
    """Registry rows of one run, handed to dlt as Arrow tables of up to ``FLUSH_ROWS`` rows."""

    def __init__(self, source_name: str) -> None:
        self.source_name = source_name
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        location: str,
        size: int,
        mtime_us: int,
        outcome: str,
        sha256: str | None = None,
        same_as: str | None = None,
        loaded: int | None = None,
        rejected: int | None = None,
    ) -> None:
        self.rows.append(
            {
                "source_name": self.source_name,
                "location": location,
                "size_bytes": size,
                "modified_at": mtime_us,
                "content_sha256": sha256,
                "outcome": outcome,
                "same_as": same_as,
                "rows_loaded": loaded,
                "rows_rejected": rejected,
            }
        )

    def full(self) -> bool:
        return len(self.rows) >= FLUSH_ROWS

    def flush(self) -> Iterator[pa.Table]:
        """The rows so far as one Arrow table (nothing when there are none)."""
        if not self.rows:
            return
        columns = {name: [row[name] for row in self.rows] for name in SCHEMA.names}
        columns["modified_at"] = pa.array(columns["modified_at"], pa.int64()).cast(
            pa.timestamp("us", tz="UTC")
        )
        self.rows = []
        yield pa.table(columns, schema=SCHEMA)
