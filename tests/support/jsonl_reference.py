"""The JSON lines reader as it was before its fast path: the reference the fast one must equal.

A copy of ``ingestion/filesystem/jsonl_reader.py`` at commit 8d5fcc6 (one dict per line, the
number check by regular expression on the whole line), kept for the equivalence tests only,
with one change: its suspect pattern takes 19 digits in a row (it took 20), so an integer just
below -2**63 (19 digits) is rejected as a misread number instead of loading altered.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson
import pyarrow as pa

from ingestion.filesystem.contract import Chunk, FileContract, reject
from ingestion.filesystem.lines import printable, text_lines, undecodable
from ingestion.filesystem.values import json_text


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
        changed = _SUSPECT.search(line) and _number_problem(line)
        if changed:
            rejected.append(reject(contract, location, number, line, changed))
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


_SUSPECT = re.compile(r"[0-9][eE][-+]?[0-9]{3}|[0-9]{19}")


def _exact_float(text: str) -> float:
    value = float(text)
    mantissa = re.split("[eE]", text)[0]
    if math.isinf(value) or (value == 0.0 and mantissa.strip("-+0.")):
        raise ValueError(f"the number {text} is out of the float64 range")
    return value


def _exact_int(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**64:
        raise ValueError(f"the integer {text} does not fit 64 bits")
    return value


def _number_problem(line: str) -> str | None:
    """Why a JSON line holds a number orjson would read as another value, or None."""
    try:
        json.loads(line, parse_float=_exact_float, parse_int=_exact_int)
    except ValueError as exc:
        return f"invalid JSON ({exc}; it would load as a different value)"
    return None


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
    """One key's values: typed by Arrow when all are of one kind, else each value's JSON text.

    Objects and lists are kept as their JSON text, not as Arrow structs (which would add the
    keys of other rows as nulls and turn integers into floats); mixed kinds too (Arrow would
    read ``true`` next to ``1.5`` as 1.0).
    """
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) == 1 and not kinds & {dict, list}:
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
