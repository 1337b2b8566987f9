"""JSON lines: parsed line by line (``properties`` is an object there, kept as JSON text).

Lines are taken in blocks: a block whose every line is a JSON object with no misread number
(``jsonl_numbers.py``) is parsed in one pass; any other block is read line by line, each bad
line rejected alone with its number and reason. Each batch is built with the cyclic garbage
collector paused: parsed lines hold no cycles, and each collection would walk them all.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain, islice
from operator import itemgetter
from typing import IO, Any

import orjson
import pyarrow as pa

from ingestion.filesystem.contract import Chunk, FileContract, reject
from ingestion.filesystem.jsonl_numbers import marked_lines, number_problem, suspect
from ingestion.filesystem.lines import printable, text_lines, undecodable

BLOCK_LINES = 1024


class _Batch:
    """The JSON objects of a batch with their line numbers and texts, and the lines rejected."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.numbers: list[int] = []
        self.texts: list[str] = []
        self.rejected: list[dict[str, Any]] = []


def jsonl_line_chunks(
    lines: Iterable[tuple[int, str]], contract: FileContract, location: str
) -> Iterator[tuple[Chunk | None, list[dict[str, Any]]]]:
    """Parse JSON lines into batches; a line that is not a JSON object is rejected alone."""
    rows = iter(lines)
    size = contract.line_batch_rows
    while True:
        with _collector_paused():
            batch = _Batch()
            while len(batch.numbers) < size:  # a block never takes more lines than the batch holds
                block = list(islice(rows, min(BLOCK_LINES, size - len(batch.numbers))))
                if not block:
                    break
                if not _whole_block(block, batch):
                    _line_by_line(block, batch, contract, location)
            full = len(batch.numbers) >= size
            chunk = _chunk_from_records(batch) if batch.numbers else None
            rejected = batch.rejected
            del batch  # its objects freed while paused, not walked by the next collection
        yield chunk, rejected
        if not full:
            return


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block (as it was before afterwards)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _whole_block(block: list[tuple[int, str]], batch: _Batch) -> bool:
    """Add a block whose every line is a JSON object with no misread number; False otherwise
    (nothing added)."""
    texts = [line for _, line in block]
    try:
        values = list(map(orjson.loads, texts))  # raises for blank lines and lines not UTF-8 too
    except orjson.JSONDecodeError:
        return False
    if set(map(type, values)) != {dict}:
        return False
    marked = marked_lines(texts)
    if marked is None:
        return False
    for index in marked:
        if suspect(texts[index]) and number_problem(texts[index]):
            return False
    batch.records += values
    batch.numbers += [number for number, _ in block]
    batch.texts += texts
    return True


def _line_by_line(
    block: list[tuple[int, str]], batch: _Batch, contract: FileContract, location: str
) -> None:
    for number, line in block:
        if not line.strip():
            continue
        not_utf8 = undecodable(line)
        if not_utf8:
            batch.rejected.append(reject(contract, location, number, printable(line), not_utf8))
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            reason = f"invalid JSON ({exc})"
            batch.rejected.append(reject(contract, location, number, line, reason))
            continue
        changed = suspect(line) and number_problem(line)
        if changed:
            batch.rejected.append(reject(contract, location, number, line, changed))
            continue
        if not isinstance(value, dict):
            reason = "line is not a JSON object"
            batch.rejected.append(reject(contract, location, number, line, reason))
            continue
        batch.records.append(value)
        batch.numbers.append(number)
        batch.texts.append(line)


def _chunk_from_records(batch: _Batch) -> Chunk:
    records = batch.records
    names = list(dict.fromkeys(chain.from_iterable(records)))  # every key, first seen first
    columns: Iterable[Sequence[Any]]
    if len(names) > 1 and len(names) == min(map(len, records)):  # every record has every key
        columns = zip(*map(itemgetter(*names), records), strict=True)
    else:
        columns = ([record.get(name) for record in records] for name in names)
    arrays = {name: _column(values) for name, values in zip(names, columns, strict=True)}
    return Chunk(pa.table(arrays) if arrays else pa.table({}), batch.numbers, batch.texts)


_NESTED = frozenset({dict, list})


def _column(values: Sequence[Any]) -> pa.Array:
    """One key's values: typed by Arrow when all are of one kind, else each value's JSON text.

    Objects and lists are kept as their JSON text, not as Arrow structs (which would add the
    keys of other rows as nulls and turn integers into floats); mixed kinds too (Arrow would
    read ``true`` next to ``1.5`` as 1.0).
    """
    try:  # the common case first: text (orjson parses no bytes, the other input Arrow takes)
        array = pa.array(values, type=pa.string())
        if array.null_count < len(array):
            return array
    except pa.ArrowTypeError:
        pass
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if len(kinds) == 1 and not kinds & _NESTED:
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    dumps, option = orjson.dumps, orjson.OPT_NON_STR_KEYS  # orjson parses no NaN: no check
    return pa.array(
        [v if v is None or type(v) is str else dumps(v, option=option).decode() for v in values]
    )


def read_jsonl(
    stream: IO[bytes], location: str, contract: FileContract
) -> Iterator[tuple[Chunk | None, list[dict[str, Any]]]]:
    """Read a JSON lines file into (rows, rejected records) pairs."""
    yield from jsonl_line_chunks(text_lines(stream), contract, location)
