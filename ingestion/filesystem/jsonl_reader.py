"""JSON lines: parsed line by line (``properties`` is an object there, kept as JSON text)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson
import pyarrow as pa

from ingestion.filesystem.columns import json_text
from ingestion.filesystem.contract import Chunk, FileContract, reject
from ingestion.filesystem.lines import printable, text_lines, undecodable


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
        not_utf8 = undecodable(line)
        if not_utf8:
            rejected.append(reject(contract, location, number, printable(line), not_utf8))
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            rejected.append(reject(contract, location, number, line, f"invalid JSON ({exc})"))
            continue
        if not isinstance(value, dict):
            rejected.append(reject(contract, location, number, line, "line is not a JSON object"))
            continue
        records.append(value)
        numbers.append(number)
        texts.append(line)
        if len(numbers) >= contract.line_batch_rows:
            yield _chunk_from_records(records, numbers, texts), rejected
            records, numbers, texts, rejected = [], [], [], []
    yield (_chunk_from_records(records, numbers, texts) if numbers else None), rejected


def _chunk_from_records(
    records: list[dict[str, Any]], numbers: list[int], texts: list[str]
) -> Chunk:
    names: list[str] = []
    for record in records:
        for key in record:
            if key not in names:
                names.append(key)
    columns = {name: [record.get(name) for record in records] for name in names}
    arrays = {name: _column(values) for name, values in columns.items()}
    return Chunk(pa.table(arrays) if arrays else pa.table({}), numbers, texts)


def _column(values: list[Any]) -> pa.Array:
    """One key's values: typed by Arrow when they agree, else each value's JSON text.

    Objects and lists are kept as their JSON text, not as Arrow structs (which would add the
    keys of other rows as nulls and turn integers into floats).
    """
    if not any(isinstance(v, dict | list) for v in values):
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    return pa.array([v if v is None or isinstance(v, str) else json_text(v) for v in values])


def read_jsonl(
    stream: IO[bytes], location: str, contract: FileContract
) -> Iterator[tuple[Chunk | None, list[dict[str, Any]]]]:
    """Read a JSON lines file into (rows, rejected records) pairs."""
    yield from jsonl_line_chunks(text_lines(stream), contract, location)
