"""The row contract of a file drop and the split of read rows into typed rows and rejects.

Declared columns are typed (``columns.py``); other columns land as sent or are refused as a
column (``extras.py``). A row with a value that cannot be typed or landed, or without a required
value, is rejected with its line and the reason naming the column; a refused column is recorded
once per file (``position`` = minus its 1-based column number, ``raw_text`` = its name).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion import rejects
from ingestion.filesystem.columns import ARROW_TYPES, cast_column
from ingestion.filesystem.extras import ColumnRefused, ExtraColumns
from ingestion.filesystem.lines import printable
from ingestion.filesystem.rows import raw_rows

FILE_NAME_COLUMN = "_file_name"
# Rows per batch of the line-by-line parsers (JSON lines, and CSV files whose fast read failed).
LINE_BATCH_ROWS = 100_000
FILE_LINE_COLUMN = "_file_line"
LOADER_COLUMNS = (FILE_NAME_COLUMN, FILE_LINE_COLUMN)


@cache
def _snake_case() -> Callable[[str], str]:
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return NamingConvention().normalize_path


@dataclass
class FileContract:
    """What an event row must look like: declared column kinds and required columns.

    ``extras`` and ``landed_name`` are this run's: the types extra columns land as, and dlt's
    normalisation of a column name (the source sets the pipeline schema's).
    """

    columns: dict[str, str]
    required: list[str] = field(default_factory=list)
    source_name: str = "events"
    resource_name: str = "events"
    batch_rows: int = 200_000
    extras: ExtraColumns = field(default_factory=ExtraColumns)
    landed_name: Callable[[str], str] = field(default_factory=_snake_case)

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

    def name_problem(self, name: str) -> tuple[str | None, str]:
        """Why an extra column's name cannot be landed (or None), and the name it lands as."""
        try:
            landed = self.landed_name(name)
        except ValueError:
            landed = ""
        if not landed:
            return "dlt gives it no name in the warehouse", landed
        if landed in self.columns:
            return f"it becomes {landed!r} in the warehouse, a declared column", landed
        if landed in LOADER_COLUMNS or landed.startswith("_dlt_"):
            return f"it becomes {landed!r} in the warehouse, a column the loader writes", landed
        return None, landed


@dataclass
class Chunk:
    """Rows read from a file: raw values per column plus their 1-based line/row numbers."""

    table: pa.Table
    lines: list[int]
    raw_texts: list[str] | None = None


@dataclass
class FileColumns:
    """One file's columns: their 1-based numbers, and the ones refused with their lines."""

    numbers: dict[str, int] = field(default_factory=dict)
    refused: dict[str, list[Any]] = field(default_factory=dict)  # name -> [reason, first, last, n]

    def see(self, names: list[str]) -> None:
        for name in names:
            self.numbers.setdefault(name, len(self.numbers) + 1)

    def refuse(self, name: str, reason: str, lines: list[int]) -> None:
        if not lines:
            return
        seen = self.refused.setdefault(name, [reason, lines[0], lines[-1], 0])
        seen[2], seen[3] = lines[-1], seen[3] + len(lines)

    def records(self, contract: FileContract, location: str) -> list[dict[str, Any]]:
        """One rejected record per refused column."""
        return [
            reject(
                contract,
                location,
                -self.numbers[name],
                printable(name),
                f"column {name!r} not loaded: {reason} (its values on lines {first}-{last}, "
                f"{count} row{'s' if count != 1 else ''}; the rows load without it)",
            )
            for name, (reason, first, last, count) in self.refused.items()
        ]


def _refused_names(
    names: list[str], contract: FileContract
) -> tuple[dict[str, str], dict[str, str]]:
    """Columns refused by name (name -> reason) and the landed name of each extra kept."""
    counts = Counter(names)
    refused: dict[str, str] = {}
    landed: dict[str, str] = {}
    for name in names:
        if counts[name] > 1:
            refused[name] = f"the name appears {counts[name]} times in the file"
        elif name not in contract.columns:
            problem, landed_as = contract.name_problem(name)
            if problem:
                refused[name] = problem
            else:
                landed[name] = landed_as
    groups: dict[str, list[str]] = defaultdict(list)
    for name, landed_as in landed.items():
        groups[landed_as].append(name)
    for landed_as, group in groups.items():
        keep = landed_as if landed_as in group else group[0]
        for name in group:
            if name != keep:
                refused[name] = f"it becomes {landed_as!r} in the warehouse, as {keep!r} does"
                del landed[name]
    return refused, landed


def conform(
    chunk: Chunk, contract: FileContract, location: str, seen: FileColumns | None = None
) -> tuple[pa.Table | None, list[dict[str, Any]]]:
    """Type declared columns, land extra columns as sent, split off rows breaking the contract.

    Args:
        seen: the file's columns so far; refused columns are recorded there (``read_file``
            turns them into one record each at the end of the file).

    Returns:
        The good rows (with ``_file_name`` / ``_file_line``) and rejected record rows.
    """
    table = chunk.table
    file_columns = seen if seen is not None else FileColumns()
    names = table.column_names
    file_columns.see(names)
    n_rows = table.num_rows
    refused, landed = _refused_names(names, contract)
    bad: dict[int, str] = {}
    declared: dict[str, pa.Array] = {}
    extra: dict[str, pa.Array] = {}
    for index, name in enumerate(names):
        if name in refused:
            continue
        try:
            if name in contract.columns:
                typed, col_bad = cast_column(table.column(index), contract.columns[name], name)
            else:
                typed, col_bad = contract.extras.land(table.column(index), name, landed[name])
        except ColumnRefused as exc:
            refused[name] = str(exc)
            continue
        if typed is None:
            continue
        for row, reason in col_bad.items():
            bad.setdefault(row, reason)
        (declared if name in contract.columns else extra)[name] = typed
    for name, reason in refused.items():
        file_columns.refuse(name, reason, chunk.lines)
    columns = {
        name: declared.get(name, pa.nulls(n_rows, type=ARROW_TYPES[kind]))
        for name, kind in contract.columns.items()
    }
    columns.update(extra)
    for name in contract.required:
        for index in pc.indices_nonzero(pc.is_null(columns[name])).to_pylist():
            bad.setdefault(int(index), f"required column {name!r} is missing or empty")
    columns[FILE_NAME_COLUMN] = pa.array([location] * n_rows, type=pa.string())
    columns[FILE_LINE_COLUMN] = pa.array(chunk.lines, type=pa.int64())
    typed_table = pa.table(columns)
    rejected = []
    if bad:
        rows = sorted(bad)
        raws = chunk.raw_texts
        texts = [raws[i] for i in rows] if raws is not None else raw_rows(table, rows)
        for index, text in zip(rows, texts, strict=True):
            rejected.append(reject(contract, location, chunk.lines[index], text, bad[index]))
        keep = np.ones(n_rows, dtype=bool)
        keep[rows] = False
        typed_table = typed_table.filter(pa.array(keep))
    if not typed_table.num_rows:
        return None, rejected
    # required columns hold no nulls now: say so, as the table's key hints do
    schema = pa.schema(
        [f.with_nullable(f.name not in contract.required) for f in typed_table.schema]
    )
    return typed_table.cast(schema), rejected


def reject(
    contract: FileContract, location: str, number: int, line: str | None, reason: str
) -> dict[str, Any]:
    return rejects.record(
        contract.source_name, contract.resource_name, location, number, line, reason
    )
