"""Readers that turn one event file into Arrow tables plus rejected records.

Fast path first (``pyarrow.parquet`` and ``pyarrow.csv`` streaming readers, CSV with explicit
string columns); a CSV file whose fast read fails is read on line by line from the first row the
fast read did not deliver, so each bad line is rejected on its own with its line number and
reason. JSON lines are always parsed line by line because ``properties`` is an object there and
must be kept as JSON text (as sent). Every reader streams: memory is bounded by the batch size,
not by the file size.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ingestion import rejects

logger = logging.getLogger(__name__)

FILE_NAME_COLUMN = "_file_name"
# Rows per batch of the line-by-line parsers (JSON lines, and CSV files whose fast read failed).
LINE_BATCH_ROWS = 100_000
FILE_LINE_COLUMN = "_file_line"
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "json_text": pa.string(),
}


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


# ---------------------------------------------------------------- typing of one column


def _parse_timestamptz(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        return int(value)
    return int(str(value).strip())


def _to_json_text(value: Any) -> str:
    if isinstance(value, str):
        orjson.loads(value)  # must be valid JSON text
        return value
    return orjson.dumps(value).decode()


_PY_PARSERS: dict[str, Callable[[Any], Any]] = {
    "int64": _parse_int,
    "float64": float,
    "bool": lambda v: v if isinstance(v, bool) else {"true": True, "false": False}[str(v).lower()],
    "timestamptz": _parse_timestamptz,
    "json_text": _to_json_text,
    "string": lambda v: v if isinstance(v, str) else orjson.dumps(v).decode(),
}


def _cast_vectorized(array: pa.ChunkedArray, kind: str) -> pa.ChunkedArray:
    target = ARROW_TYPES[kind]
    if array.type == target:
        return array
    if kind == "timestamptz" and pa.types.is_timestamp(array.type):
        if array.type.tz is None:
            raise pa.ArrowInvalid("timestamp without time zone")
        return array.cast(target)
    if kind == "json_text" and not pa.types.is_string(array.type):
        raise pa.ArrowInvalid("nested value must be serialised row by row")
    if kind == "string" and not (pa.types.is_string(array.type) or pa.types.is_null(array.type)):
        raise pa.ArrowInvalid("non-string value kept as its JSON text row by row")
    return array.cast(target)


def _invalid_json_rows(array: pa.ChunkedArray, name: str) -> dict[int, str]:
    """Rows whose text is not valid JSON, checked vectorised by DuckDB's ``json_valid``."""
    con = duckdb.connect()
    try:
        con.register("t", pa.table({"v": array}))
        valid = con.sql("select coalesce(json_valid(v), true) from t").to_arrow_table()
    finally:
        con.close()
    invalid = pc.indices_nonzero(pc.invert(valid.column(0))).to_pylist()
    values = array.take(invalid).to_pylist() if invalid else []
    return {
        int(index): f"column {name!r}: {value!r} is not valid JSON"
        for index, value in zip(invalid, values, strict=True)
    }


def cast_column(array: pa.ChunkedArray, kind: str, name: str) -> tuple[pa.Array, dict[int, str]]:
    """Cast a column to its declared kind; values that cannot be typed are reported by index.

    Returns:
        The typed column (bad values as null) and ``{row_index: reason}`` for the bad values.
    """
    if kind == "json_text" and pa.types.is_string(array.type):
        return array, _invalid_json_rows(array, name)
    try:
        return _cast_vectorized(array, kind), {}
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    parse = _PY_PARSERS[kind]
    values: list[Any] = []
    bad: dict[int, str] = {}
    for index, value in enumerate(array.to_pylist()):
        if value is None or (isinstance(value, str) and value == "" and kind != "string"):
            values.append(None)
            continue
        try:
            values.append(parse(value))
        except (ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
            values.append(None)
            bad[index] = f"column {name!r}: cannot read {value!r} as {kind} ({exc})"
    return pa.array(values, type=ARROW_TYPES[kind]), bad


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


# ---------------------------------------------------------------- per-format readers


def _parquet_chunks(stream: IO[bytes], batch_rows: int) -> Iterator[Chunk]:
    parquet = pq.ParquetFile(stream)
    first = 1
    for batch in parquet.iter_batches(batch_size=batch_rows):
        table = pa.Table.from_batches([batch])
        yield Chunk(table, list(range(first, first + table.num_rows)))
        first += table.num_rows


def _read_header(stream: IO[bytes]) -> list[str]:
    """The CSV header's column names (a UTF-8 byte order mark is dropped, as pyarrow does);
    the stream is rewound to its start."""
    first = stream.readline()
    stream.seek(0)
    if not first.strip():
        raise pa.ArrowInvalid("the file has no header line")
    return next(csv.reader([first.decode("utf-8-sig", errors="replace")]))


def header_problem(stream: IO[bytes], contract: FileContract) -> str | None:
    """Why the CSV header cannot be used (missing required or duplicate/empty names), or None.

    A file delivered without its header line would otherwise lose its first row unseen (read
    as the header), and a header with repeated names cannot be mapped to columns at all.
    """
    try:
        header = _read_header(stream)
    except pa.ArrowInvalid:  # empty file: no header, no rows
        return None
    missing = [name for name in contract.required if name not in header]
    if missing:
        return f"CSV header lacks required column(s) {missing} (is the header line missing?)"
    repeated = sorted({name for name in header if header.count(name) > 1 or not name.strip()})
    if repeated:
        return f"CSV header has empty or repeated column names {repeated}"
    return None


def _unusable_file_rows(
    stream: IO[bytes], problem: str, contract: FileContract, location: str
) -> Iterator[tuple[None, list[dict[str, Any]]]]:
    """Reject every line of a CSV file whose header cannot be used: line 1 with the problem,
    each data line pointing at it (nothing of the file is loaded, nothing is dropped)."""
    batch: list[dict[str, Any]] = []
    for number, line in _text_lines(stream):
        if number > 1 and not line.strip():
            continue
        reason = problem if number == 1 else f"unusable CSV header on line 1: {problem}"
        batch.append(_reject(contract, location, number, _printable(line), reason))
        if len(batch) >= contract.line_batch_rows:
            yield None, batch
            batch = []
    if batch:
        yield None, batch


def _undecodable(line: str) -> str | None:
    """Why a line read with ``surrogateescape`` is not valid UTF-8, or None when it is."""
    if line.isascii():  # the common case, checked in C (a per-character loop cost ~0.3 ms a line)
        return None
    try:
        line.encode("utf-8")  # escaped bytes are lone surrogates, which strict UTF-8 refuses
        return None
    except UnicodeEncodeError:
        pass
    for column, char in enumerate(line, start=1):
        if "\udc80" <= char <= "\udcff":
            byte = ord(char) - 0xDC00
            return f"not valid UTF-8 (byte 0x{byte:02x} at character {column}); files must be UTF-8"
    return None


def _printable(line: str) -> str:
    """A line with its undecodable bytes shown as ``\\xNN`` (storable as text)."""
    return line.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _csv_fast_chunks(stream: IO[bytes], block_bytes: int) -> Iterator[Chunk]:
    """Stream a CSV file in blocks with every column read as text (no type guessing)."""
    header = _read_header(stream)
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(use_threads=True, block_size=block_bytes),
        parse_options=pacsv.ParseOptions(newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    first = 2  # line 1 is the header
    try:
        for batch in reader:
            if batch.num_rows:
                lines = list(range(first, first + batch.num_rows))
                yield Chunk(pa.Table.from_batches([batch]), lines)
                first += batch.num_rows
    finally:
        reader.close()  # stop its read-ahead before anyone else reads the stream


def _text_lines(stream: IO[bytes], skip_data_lines: int = 0) -> Iterator[tuple[int, str]]:
    """Numbered text lines of a stream (1-based), read lazily.

    Args:
        stream: the open (decompressed) file, positioned at its start.
        skip_data_lines: leave out the first N non-blank lines after line 1 (rows an earlier
            fast read already delivered).
    """
    # utf-8-sig drops a byte order mark; surrogateescape keeps bad bytes visible to the parsers,
    # which reject such lines (errors="replace" would load altered text without a word)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline=None)
    skipped = 0
    for number, line in enumerate(text, start=1):
        line = line.rstrip("\n")
        if number > 1 and skipped < skip_data_lines and line:  # pyarrow skips empty lines
            skipped += 1
            continue
        yield number, line
    text.detach()


def csv_line_chunks(
    lines: Iterable[tuple[int, str]],
    header: list[str] | None,
    contract: FileContract,
    location: str,
) -> Iterator[tuple[Chunk | None, list[dict[str, Any]]]]:
    """Parse CSV lines one by one; a line with the wrong column count is rejected alone."""
    rows: dict[str, list[Any]] = {}
    numbers: list[int] = []
    texts: list[str] = []
    rejected: list[dict[str, Any]] = []
    for number, line in lines:
        if header is None:
            header = next(csv.reader([_printable(line)]))
            rows = {name: [] for name in header}
            continue
        if not line.strip():
            continue
        undecodable = _undecodable(line)
        if undecodable:
            rejected.append(_reject(contract, location, number, _printable(line), undecodable))
            continue
        try:
            values = next(csv.reader([line], strict=True))
        except csv.Error as exc:
            rejected.append(_reject(contract, location, number, line, f"unparsable CSV ({exc})"))
            continue
        if len(values) != len(header):
            rejected.append(
                _reject(
                    contract,
                    location,
                    number,
                    line,
                    f"expected {len(header)} columns, got {len(values)}",
                )
            )
            continue
        if not rows:
            rows = {name: [] for name in header}
        for name, value in zip(header, values, strict=True):
            rows[name].append(value if value != "" else None)
        numbers.append(number)
        texts.append(line)
        if len(numbers) >= contract.line_batch_rows:
            yield _chunk_from_rows(rows, numbers, texts), rejected
            rows, numbers, texts, rejected = {n: [] for n in header}, [], [], []
    yield (_chunk_from_rows(rows, numbers, texts) if numbers else None), rejected


def jsonl_line_chunks(
    lines: Iterable[tuple[int, str]], contract: FileContract, location: str
) -> Iterator[tuple[Chunk | None, list[dict[str, Any]]]]:
    """Parse JSON lines one by one; a line that is not a JSON object is rejected alone."""
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    texts: list[str] = []
    rejected: list[dict[str, Any]] = []
    for number, line in lines:
        if not line.strip():
            continue
        undecodable = _undecodable(line)
        if undecodable:
            rejected.append(_reject(contract, location, number, _printable(line), undecodable))
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            rejected.append(_reject(contract, location, number, line, f"invalid JSON ({exc})"))
            continue
        if not isinstance(value, dict):
            rejected.append(_reject(contract, location, number, line, "line is not a JSON object"))
            continue
        records.append(value)
        numbers.append(number)
        texts.append(line)
        if len(numbers) >= contract.line_batch_rows:
            yield _chunk_from_records(records, numbers, texts), rejected
            records, numbers, texts, rejected = [], [], [], []
    yield (_chunk_from_records(records, numbers, texts) if numbers else None), rejected


def _reject(
    contract: FileContract, location: str, number: int, line: str | None, reason: str
) -> dict[str, Any]:
    return rejects.record(
        contract.source_name, contract.resource_name, location, number, line, reason
    )


def _chunk_from_rows(rows: dict[str, list[Any]], numbers: list[int], texts: list[str]) -> Chunk:
    table = pa.table({name: pa.array(values, type=pa.string()) for name, values in rows.items()})
    return Chunk(table, numbers, texts)


def _chunk_from_records(
    records: list[dict[str, Any]], numbers: list[int], texts: list[str]
) -> Chunk:
    names: list[str] = []
    for record in records:
        for key in record:
            if key not in names:
                names.append(key)
    columns = {name: [record.get(name) for record in records] for name in names}
    arrays = {}
    for name, values in columns.items():
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: keep every value's JSON
            arrays[name] = pa.array(
                [v if v is None or isinstance(v, str) else orjson.dumps(v).decode() for v in values]
            )
    return Chunk(pa.table(arrays) if arrays else pa.table({}), numbers, texts)


# ---------------------------------------------------------------- one file


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
    kind = file_format(name)
    if kind == "parquet":
        read = 0
        try:
            for part in _parquet_chunks(stream, contract.batch_rows):
                read += part.table.num_rows
                yield conform(part, contract, location)
        except (pa.ArrowInvalid, OSError) as exc:
            if read:  # damaged past the footer check: the rows before were loaded
                reason = f"unreadable Parquet data from row {read + 1} on; rest not loaded ({exc})"
                yield None, [_reject(contract, location, read + 1, None, reason)]
            else:  # position 0: the whole file
                reason = f"unreadable Parquet file, nothing loaded from it ({exc})"
                yield None, [_reject(contract, location, 0, None, reason)]
        return
    if kind == "jsonl":
        for chunk, rejected in jsonl_line_chunks(_text_lines(stream), contract, location):
            good, bad = conform(chunk, contract, location) if chunk else (None, [])
            yield good, rejected + bad
        return
    if kind == "csv":
        problem = header_problem(stream, contract)
        if problem:
            yield from _unusable_file_rows(stream, problem, contract, location)
            return
        delivered = 0
        try:
            for chunk in _csv_fast_chunks(stream, contract.csv_block_bytes):
                good, bad = conform(chunk, contract, location)
                delivered += chunk.table.num_rows
                yield good, bad
            return
        except (pa.ArrowInvalid, UnicodeDecodeError, StopIteration) as exc:
            logger.info("fast CSV read of %s failed (%s); reading line by line", location, exc)
        stream.seek(0)
        lines = _text_lines(stream, skip_data_lines=delivered)
        for chunk, rejected in csv_line_chunks(lines, None, contract, location):
            good, bad = conform(chunk, contract, location) if chunk else (None, [])
            yield good, rejected + bad
        return
    yield None, [_reject(contract, location, 0, None, f"unsupported file type: {name}")]
