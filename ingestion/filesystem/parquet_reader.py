"""Parquet files: read in batches of ``batch_rows`` rows with ``pyarrow.parquet``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.filesystem.contract import Chunk, FileContract, reject


def _parquet_chunks(stream: IO[bytes], batch_rows: int) -> Iterator[Chunk]:
    parquet = pq.ParquetFile(stream)
    first = 1
    for batch in parquet.iter_batches(batch_size=batch_rows):
        table = pa.Table.from_batches([batch])
        yield Chunk(table, list(range(first, first + table.num_rows)))
        first += table.num_rows


def read_parquet(
    stream: IO[bytes], location: str, contract: FileContract
) -> Iterator[tuple[Chunk | None, list[dict[str, Any]]]]:
    """Read a Parquet file into (rows, rejected records) pairs.

    A file damaged past its footer check keeps the rows before the damage and rejects the rest
    in one record; a file that cannot be opened is rejected whole (position 0).
    """
    read = 0
    try:
        for part in _parquet_chunks(stream, contract.batch_rows):
            read += part.table.num_rows
            yield part, []
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:  # a name not UTF-8
        if read:  # damaged past the footer check: the rows before were loaded
            reason = f"unreadable Parquet data from row {read + 1} on; rest not loaded ({exc})"
            yield None, [reject(contract, location, read + 1, None, reason)]
        else:  # position 0: the whole file
            reason = f"unreadable Parquet file, nothing loaded from it ({exc})"
            yield None, [reject(contract, location, 0, None, reason)]
