"""The row contract of a file drop and the split of read rows into typed rows and rejects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ingestion import rejects
from ingestion.filesystem.columns import ARROW_TYPES, cast_column

FILE_NAME_COLUMN = "_file_name"
# Rows per batch of the line-by-line parsers (JSON lines, and CSV files whose fast read failed).
LINE_BATCH_ROWS = 100_000
FILE_LINE_COLUMN = "_file_line"


@dataclass
class FileContract:
    """What an event row must look like: declared column kinds and required columns."""

    columns: dict[str, str]
    required: list[str] = field(default_factory=list)
    source_name: str = "events"
    resource_name: str = "events"
    batch_rows: int = 200_000

    @property
    def line_batch_rows(self) -> int:
        """Rows per batch when parsing line by line (Python objects cost far more than Arrow)."""
        return min(self.batch_rows, LINE_BATCH_ROWS)

    @property
    def csv_block_bytes(self) -> int:
        """Bytes per streamed CSV block: about ``batch_rows`` rows of ~200 bytes, at most 64 MiB."""
        return max(1 << 20, min(self.batch_rows * 200, 64 << 20))

    def __post_init__(self) -> None:
        unknown = {k: v for k, v in self.columns.items() if v not in ARROW_TYPES}
        if unknown:
            raise ValueError(f"unknown column kinds {unknown}; use one of {sorted(ARROW_TYPES)}")
        undeclared = [name for name in self.required if name not in self.columns]
        if undeclared:
            raise ValueError(f"required columns {undeclared} are not declared in columns")


@dataclass
class Chunk:
    """Rows read from a file: raw values per column plus their 1-based line/row numbers."""

    table: pa.Table
    lines: list[int]
    raw_texts: list[str] | None = None


def conform(
    chunk: Chunk, contract: FileContract, location: str
) -> tuple[pa.Table | None, list[dict[str, Any]]]:
    """Type declared columns, keep extra columns as sent, split off rows breaking the contract.

    Returns:
        The good rows (with ``_file_name`` / ``_file_line``) and rejected record rows.
    """
    table = chunk.table
    n_rows = table.num_rows
    bad: dict[int, str] = {}
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name, kind in contract.columns.items():
        if name in table.column_names:
            typed, col_bad = cast_column(table.column(name), kind, name)
            for index, reason in col_bad.items():
                bad.setdefault(index, reason)
            columns[name] = typed
        else:
            columns[name] = pa.nulls(n_rows, type=ARROW_TYPES[kind])
    for name in table.column_names:  # schema drift: new columns are loaded as they came
        if name not in columns:
            column = table.column(name)
            if pa.types.is_null(column.type):
                column = column.cast(pa.string())
            elif pa.types.is_nested(column.type):
                column, _ = cast_column(column, "string", name)
            columns[name] = column
    for name in contract.required:
        missing = pc.indices_nonzero(pc.is_null(columns[name])).to_pylist()
        for index in missing:
            bad.setdefault(int(index), f"required column {name!r} is missing or empty")
    columns[FILE_NAME_COLUMN] = pa.array([location] * n_rows, type=pa.string())
    columns[FILE_LINE_COLUMN] = pa.array(chunk.lines, type=pa.int64())
    typed = pa.table(columns)
    rejected = []
    if bad:
        raw_rows = table.slice(0).to_pylist() if chunk.raw_texts is None else None
        for index, reason in sorted(bad.items()):
            raw = (
                chunk.raw_texts[index]
                if chunk.raw_texts is not None
                else orjson.dumps(raw_rows[index], default=str).decode()  # type: ignore[index]
            )
            rejected.append(
                rejects.record(
                    contract.source_name,
                    contract.resource_name,
                    location,
                    chunk.lines[index],
                    raw,
                    reason,
                )
            )
        keep = pa.array([i not in bad for i in range(n_rows)])
        typed = typed.filter(keep)
    if not typed.num_rows:
        return None, rejected
    # required columns hold no nulls now: say so, as the table's key hints do
    schema = pa.schema([f.with_nullable(f.name not in contract.required) for f in typed.schema])
    return typed.cast(schema), rejected


def reject(
    contract: FileContract, location: str, number: int, line: str | None, reason: str
) -> dict[str, Any]:
    return rejects.record(
        contract.source_name, contract.resource_name, location, number, line, reason
    )
