"""Typing of one column: a declared kind applied to Arrow values, bad values reported by row.

Vectorised casts first; a column whose cast fails is typed value by value so each bad value is
reported with its row and reason, and JSON text is checked vectorised by DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "json_text": pa.string(),
}


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
