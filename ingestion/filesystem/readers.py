"""Readers that turn one event file into Arrow tables plus rejected records.

Fast path first (``pyarrow.parquet`` and ``pyarrow.csv`` streaming readers, CSV with explicit
string columns); a CSV file whose fast read fails is read on line by line from the first row the
fast read did not deliver, so each bad line is rejected on its own with its line number and
reason. JSON lines are parsed by orjson in blocks (``properties`` is an object there, kept as
JSON text), each line of a block with a bad line on its own. Every reader streams: memory is
bounded by the batch size, not by the file size.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import IO, Any

import pyarrow as pa

from ingestion import rejects
from ingestion.filesystem.contract import Chunk, FileColumns, FileContract, conform, reject
from ingestion.filesystem.csv_reader import read_csv
from ingestion.filesystem.helpers import compression_problem
from ingestion.filesystem.jsonl_reader import read_jsonl
from ingestion.filesystem.listing import LandingReadError, LandingZone, Listed
from ingestion.filesystem.parquet_reader import read_parquet

logger = logging.getLogger(__name__)
FAILED = "the reader failed"


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


def read_landed(
    zone: LandingZone,
    location: str,
    contract: FileContract,
    on_failure: Callable[[str], None] | None = None,
    listed: Listed | None = None,
) -> Iterator[tuple[pa.Table | None, list[dict[str, Any]]]]:
    """Read one file of a landing zone as the loader does, never raising for its content.

    A compressed file is checked to its end first and refused whole when cut or corrupt. A
    failure is recorded after the last line read and the run goes on: the storage's (the file
    cannot be opened or read) is passed to ``on_failure`` (the file is read again next run); any
    other is a loader bug, which the same content would meet again. A file that is no longer as
    ``listed`` (size, modification time) once read is a storage failure too.
    """
    last = 0
    try:
        if location.lower().endswith(".gz"):
            broken = compression_problem(lambda: zone.open(location))
            if broken:  # refused whole rather than loaded up to the cut
                if listed is not None:  # unless cut since it was listed
                    zone.check_unchanged(listed)
                yield None, [reject(contract, location, 0, None, broken)]
                return
        with zone.open(location) as stream:
            name = location.rsplit("/", 1)[-1]
            for good, bad in read_file(stream, name, location, contract):
                last = max([last, *(r["position"] for r in bad)])
                if good is not None and good.num_rows:
                    last = max(last, good.column("_file_line")[-1].as_py())
                yield good, bad
        if listed is not None:  # rewritten or cut since it was listed: what was read may not last
            zone.check_unchanged(listed)
    except Exception as exc:
        if isinstance(exc, (LandingReadError, OSError)):  # the storage: read again next run
            logger.warning("source %s: reading %s failed: %s", contract.source_name, location, exc)
            reason = (f"{FAILED} after line {last} ({type(exc).__name__}: {exc}); the rest of the "
                      "file is not loaded yet: the next run reads the file again")  # fmt: skip
            if on_failure is not None:
                on_failure(reason)
        else:  # the same content would fail again: recorded once, not retried every run
            logger.error("source %s: reading file %s failed", contract.source_name, location,
                         exc_info=True)  # fmt: skip
            reason = (f"{FAILED} after line {last} ({type(exc).__name__}: {exc}); the rest of the "
                      "file is not loaded (a loader bug: please report it; once fixed, a backfill "
                      "of the file's day or --full-refresh reads it again)")  # fmt: skip
        position = last + 1 if last else 0
        yield None, [rejects.record(contract.source_name, contract.resource_name, location,
                                    position, None, reason)]  # fmt: skip
