"""JSON lines: parsed line by line (``properties`` is an object there, kept as JSON text)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson
import pyarrow as pa

from ingestion.filesystem.contract import Chunk, FileContract, conform, reject
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
    arrays = {}
    for name, values in columns.items():
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: keep every value's JSON
            arrays[name] = pa.array(
                [v if v is None or isinstance(v, str) else orjson.dumps(v).decode() for v in values]
            )
    return Chunk(pa.table(arrays) if arrays else pa.table({}), numbers, texts)


def read_jsonl(
    stream: IO[bytes], location: str, contract: FileContract
) -> Iterator[tuple[pa.Table | None, list[dict[str, Any]]]]:
    """Read a JSON lines file into (good rows, rejected records) pairs."""
    for chunk, rejected in jsonl_line_chunks(text_lines(stream), contract, location):
        good, bad = conform(chunk, contract, location) if chunk else (None, [])
        yield good, rejected + bad
