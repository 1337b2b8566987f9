"""Rows of a rejected Parquet batch as text: what ``raw_text`` keeps of a row with no line."""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa


def _values(column: pa.Array | pa.ChunkedArray) -> list[Any]:
    """A column's values as Python objects; values Python cannot hold as their Arrow text."""
    try:
        return column.to_pylist()
    except (ValueError, OverflowError, UnicodeDecodeError):
        pass
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        as_bytes = column.cast(pa.large_binary()).to_pylist()
        return [None if v is None else v.decode("utf-8", "backslashreplace") for v in as_bytes]
    try:
        return column.cast(pa.string()).to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return [f"<unreadable {column.type} value>"] * len(column)


def raw_rows(table: pa.Table, rows: list[int]) -> list[str]:
    """The JSON text of some rows of a table (NUL kept as the escape ``\\u0000``)."""
    picked = table.take(pa.array(rows, pa.int64()))
    names = picked.column_names
    columns = [_values(picked.column(i)) for i in range(picked.num_columns)]
    out = []
    for index in range(picked.num_rows):
        record = {name: columns[i][index] for i, name in enumerate(names)}
        out.append(orjson.dumps(record, default=str, option=orjson.OPT_NON_STR_KEYS).decode())
    return out
