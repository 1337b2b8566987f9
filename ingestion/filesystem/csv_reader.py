"""CSV files: a streaming Arrow read with every column as text, line by line after a failure.

A file whose fast read fails is read on line by line from the first row the fast read did not
deliver, so each bad line is rejected on its own with its line number and reason.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv

from ingestion.filesystem.contract import Chunk, FileContract, reject
from ingestion.filesystem.lines import printable, text_lines, undecodable

logger = logging.getLogger(__name__)
HEADER_MAX_BYTES = 1 << 20  # a longer first line is not a header


def _read_header(stream: IO[bytes]) -> list[str]:
    """The CSV header's column names (a UTF-8 byte order mark is dropped, as pyarrow does);
    the stream is rewound to its start.

    Raises:
        pa.ArrowInvalid: the file has no header line.
        UnicodeDecodeError: the header line is not UTF-8.
    """
    first = stream.readline(HEADER_MAX_BYTES)
    stream.seek(0)
    lines = first.splitlines()  # a line may end in CR alone, as pyarrow reads it
    if not lines or not lines[0].strip():
        raise pa.ArrowInvalid("the file has no header line")
    return next(csv.reader([lines[0].decode("utf-8-sig")]))


def header_problem(stream: IO[bytes], contract: FileContract) -> str | None:
    """Why the CSV header cannot be used (a required column missing from it, bytes that are
    not UTF-8), or None.

    A file delivered without its header line would otherwise lose its first row unseen (read
    as the header). Empty or repeated names are refused as columns when the rows are typed.
    """
    try:
        header = _read_header(stream)
    except pa.ArrowInvalid:  # empty file: no header, no rows
        return None
    except UnicodeDecodeError as exc:
        return f"CSV header is not valid UTF-8 ({exc}); files must be UTF-8"
    missing = [name for name in contract.required if name not in header]
    if missing:
        return f"CSV header lacks required column(s) {missing} (is the header line missing?)"
    return None


def _unusable_file_rows(
    stream: IO[bytes], problem: str, contract: FileContract, location: str
) -> Iterator[tuple[None, list[dict[str, Any]]]]:
    """Reject every line of a CSV file whose header cannot be used: line 1 with the problem,
    each data line pointing at it (nothing of the file is loaded, nothing is dropped)."""
    batch: list[dict[str, Any]] = []
    for number, line in text_lines(stream):
        if number > 1 and not line.strip():
            continue
        reason = problem if number == 1 else f"unusable CSV header on line 1: {problem}"
        batch.append(reject(contract, location, number, printable(line), reason))
        if len(batch) >= contract.line_batch_rows:
            yield None, batch
            batch = []
    if batch:
        yield None, batch


def _csv_fast_chunks(stream: IO[bytes], block_bytes: int) -> Iterator[Chunk]:
    """Stream a CSV file in blocks with every column read as text (no type guessing)."""
    header = _read_header(stream)
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(use_threads=True, block_size=block_bytes),
        parse_options=pacsv.ParseOptions(newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            null_values=[""],  # only an empty field is null: "NA", "null" or "NaN" are values
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


def csv_line_chunks(
    lines: Iterable[tuple[int, str]],
    header: list[str] | None,
    contract: FileContract,
    location: str,
) -> Iterator[tuple[Chunk | None, list[dict[str, Any]]]]:
    """Parse CSV lines one by one; a line with the wrong column count is rejected alone."""
    rows: list[list[Any]] = [[] for _ in header or []]
    numbers: list[int] = []
    texts: list[str] = []
    rejected: list[dict[str, Any]] = []
    for number, line in lines:
        if header is None:
            header = next(csv.reader([printable(line)]), [])
            rows = [[] for _ in header]
            continue
        if not line.strip():
            continue
        not_utf8 = undecodable(line)
        if not_utf8:
            rejected.append(reject(contract, location, number, printable(line), not_utf8))
            continue
        try:
            values = next(csv.reader([line], strict=True))
        except csv.Error as exc:
            rejected.append(reject(contract, location, number, line, f"unparsable CSV ({exc})"))
            continue
        if len(values) != len(header):
            rejected.append(
                reject(
                    contract,
                    location,
                    number,
                    line,
                    f"expected {len(header)} columns, got {len(values)}",
                )
            )
            continue
        for column, value in zip(rows, values, strict=True):
            column.append(value if value != "" else None)
        numbers.append(number)
        texts.append(line)
        if len(numbers) >= contract.line_batch_rows:
            yield _chunk_from_rows(header, rows, numbers, texts), rejected
            rows, numbers, texts, rejected = [[] for _ in header], [], [], []
    if numbers and header is not None:
        yield _chunk_from_rows(header, rows, numbers, texts), rejected
    else:
        yield None, rejected


def _chunk_from_rows(
    header: list[str], rows: list[list[Any]], numbers: list[int], texts: list[str]
) -> Chunk:
    arrays = [pa.array(values, type=pa.string()) for values in rows]
    return Chunk(pa.Table.from_arrays(arrays, names=header), numbers, texts)


def read_csv(
    stream: IO[bytes], location: str, contract: FileContract
) -> Iterator[tuple[Chunk | None, list[dict[str, Any]]]]:
    """Read a CSV file into (rows, rejected records) pairs: streamed, then line by line."""
    problem = header_problem(stream, contract)
    if problem:
        yield from _unusable_file_rows(stream, problem, contract, location)
        return
    delivered = 0
    try:
        for block in _csv_fast_chunks(stream, contract.csv_block_bytes):
            delivered += block.table.num_rows
            yield block, []
        return
    except (pa.ArrowInvalid, UnicodeDecodeError, StopIteration) as exc:
        logger.info("fast CSV read of %s failed (%s); reading line by line", location, exc)
    stream.seek(0)
    lines = text_lines(stream, skip_data_lines=delivered)
    yield from csv_line_chunks(lines, None, contract, location)
