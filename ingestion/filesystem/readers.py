"""Readers that turn one event file into Arrow tables plus rejected records.

Fast path first (``pyarrow.parquet`` and ``pyarrow.csv`` streaming readers, CSV with explicit
string columns); a CSV file whose fast read fails is read on line by line from the first row the
fast read did not deliver, so each bad line is rejected on its own with its line number and
reason. JSON lines are always parsed line by line because ``properties`` is an object there and
must be kept as JSON text (as sent). Every reader streams: memory is bounded by the batch size,
not by the file size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa

from ingestion.filesystem.contract import Chunk, FileColumns, FileContract, conform, reject
from ingestion.filesystem.csv_reader import read_csv
from ingestion.filesystem.jsonl_reader import read_jsonl
from ingestion.filesystem.parquet_reader import read_parquet


def file_format(name: str) -> str | None:
    """The reader for a file name (``parquet``, ``csv``, ``jsonl``) or None when unsupported."""
    lowered = name.lower()
    if lowered.endswith(".parquet"):
        return "parquet"
    if lowered.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")):
        return "jsonl"
    if lowered.endswith((".csv", ".csv.gz")):
        return "csv"
    return None


def read_file(
    stream: IO[bytes], name: str, location: str, contract: FileContract
) -> Iterator[tuple[pa.Table | None, list[dict[str, Any]]]]:
    """Read one event file into (good rows, rejected records) pairs.

    Args:
        stream: the open (decompressed) file.
        name: the file name, which selects the reader.
        location: the path recorded in ``_file_name`` and ``rejected_records.location``.
        contract: the declared columns and required fields.
    """
    seen = FileColumns()
    for chunk, rejected in _chunks(stream, name, location, contract):
        good, bad = conform(chunk, contract, location, seen) if chunk is not None else (None, [])
        yield good, rejected + bad
    refused = seen.records(contract, location)
    if refused:
        yield None, refused


def _chunks(
    stream: IO[bytes], name: str, location: str, contract: FileContract
) -> Iterator[tuple[Chunk | None, list[dict[str, Any]]]]:
    kind = file_format(name)
    if kind == "parquet":
        yield from read_parquet(stream, location, contract)
    elif kind == "jsonl":
        yield from read_jsonl(stream, location, contract)
    elif kind == "csv":
        yield from read_csv(stream, location, contract)
    else:
        yield None, [reject(contract, location, 0, None, f"unsupported file type: {name}")]
