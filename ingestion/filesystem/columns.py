"""Typing of one declared column: the values a warehouse holds faithfully, the others by row.

A value is typed only when both warehouses can hold it unchanged; otherwise its row is reported
with the reason, never coerced: text must be UTF-8 without NUL (PostgreSQL refuses it), integers
fit int64, a float text that overflows or underflows to zero is refused (``nan`` and ``inf``
written as such are kept), an instant needs its UTC offset, whole microseconds and a year from
1 to 9999 (what every reader down the line, Python included, can hold), and JSON text must be
strict JSON that PostgreSQL's ``json`` parses (no ``NaN``, trailing commas or ``\\u0000``).
Text is checked against one grammar per kind first, so a value's fate never depends on the
other values of its batch; the casts themselves are vectorised.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
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
MIN_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z, microseconds since 1970
MAX_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT_TEXT = r"^\s*[+-]?[0-9]+\s*$"
FLOAT_TEXT = (
    r"^\s*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf|infinity|nan))\s*$"
)
ZERO_TEXT = r"^\s*[+-]?(?:0+\.?0*|\.0+)(?:[eE][+-]?[0-9]+)?\s*$"
BOOL_TEXT = r"^\s*(?i:true|false|1|0)\s*$"
LENIENT = r"(?i)nan|inf|,\s*[\]}]"  # what DuckDB's JSON check takes and strict JSON does not
NUL_ESCAPE = r"(?:^|[^\\])(?:\\\\)*\\u0000"  # a JSON \u0000 escape (not an escaped backslash)
_FRACTION = re.compile(r"T?\d{2}:\d{2}(?::\d{2})?[.,](\d+)")
MAX_SHOWN = 200
FINER = "finer than a microsecond, which the warehouses cannot hold"
TEXT_KINDS = ("string", "json_text")

Bad = dict[int, str]


def shown(value: Any) -> str:
    """A value as quoted in a reason, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def plain(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array: chunks combined, dictionaries decoded, large text as text."""
    if isinstance(array, pa.ChunkedArray):
        if array.num_chunks == 1:
            array = array.chunk(0)
        else:
            array = array.combine_chunks() if array.num_chunks else pa.array([], array.type)
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        array = array.cast(pa.string())
    return array


def as_text(array: pa.Array) -> pa.Array:
    """Binary values as text (checked for UTF-8 by ``text_problems``); other arrays unchanged."""
    if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
        return array.cast(pa.binary()).view(pa.string())
    if pa.types.is_fixed_size_binary(array.type):
        return array.cast(pa.binary()).view(pa.string())
    return array


def _null_where(array: pa.Array, rows: Bad) -> pa.Array:
    if not rows:
        return array
    mask = np.zeros(len(array), dtype=bool)
    mask[list(rows)] = True
    return pc.if_else(pa.array(mask), pa.scalar(None, array.type), array)


def _rows(mask: pa.Array) -> list[int]:
    return [int(i) for i in pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()]


def text_problems(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    """A text column without the values no warehouse holds: bytes not UTF-8, NUL characters.

    Returns:
        The column with those values as null, and ``{row: reason}`` for them.
    """
    bad: Bad = {}
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        for index, raw in enumerate(array.view(pa.binary()).to_pylist()):
            if raw is None:
                continue
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad[index] = (
                    f"column {name!r}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at byte "
                    f"{exc.start + 1}); text must be UTF-8"
                )
        array = _null_where(array, bad)
    for index in _rows(pc.match_substring(array, "\x00")):
        bad[index] = f"column {name!r}: holds a NUL character, which PostgreSQL cannot store"
    return _null_where(array, bad), bad


def _by_value(
    array: pa.Array, kind: str, name: str, parse: Callable[[Any], Any]
) -> tuple[pa.Array, Bad]:
    """Type value by value (the slow path), each bad value reported with its row."""
    values: list[Any] = []
    bad: Bad = {}
    try:
        items: list[Any] | None = array.to_pylist()
    except (ValueError, OverflowError, UnicodeDecodeError):  # a value past Python's range
        items = None
    for index in range(len(array)):
        try:
            value = items[index] if items is not None else array[index].as_py()
        except (ValueError, OverflowError, UnicodeDecodeError) as exc:
            values.append(None)
            bad[index] = f"column {name!r}: a value out of range for {kind} ({exc})"
            continue
        if value is None or (kind not in TEXT_KINDS and isinstance(value, str) and value == ""):
            values.append(None)
            continue
        try:
            values.append(parse(value))
        except (ValueError, TypeError, KeyError, OverflowError, orjson.JSONDecodeError) as exc:
            values.append(None)
            bad[index] = f"column {name!r}: cannot read {shown(value)} as {kind} ({exc})"
    return pa.array(values, type=ARROW_TYPES.get(kind, pa.string())), bad


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nan(v) for v in value)
    return False


def json_text(value: Any) -> str:
    """A value's JSON text; NaN, infinities and bytes have none and raise ValueError."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        raise ValueError("bytes have no JSON text")
    if _has_nan(value):
        raise ValueError("NaN and infinities have no JSON text")
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _as_string(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    if pa.types.is_string(array.type):
        return text_problems(array, name)
    if pa.types.is_null(array.type):
        return array.cast(pa.string()), {}
    typed, bad = _by_value(array, "string", name, json_text)
    checked, more = text_problems(typed, name)
    return checked, {**bad, **more}


def _duckdb_json_valid(array: pa.Array) -> pa.Array:
    """DuckDB's vectorised ``json_valid`` of each value (null stays null)."""
    con = duckdb.connect()
    try:
        con.register("t", pa.table({"v": array}))
        return con.sql("select json_valid(v) from t").to_arrow_table().column(0).combine_chunks()
    finally:
        con.close()


def _as_json_text(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    if pa.types.is_null(array.type):
        return array.cast(pa.string()), {}
    if not pa.types.is_string(array.type):
        return _by_value(array, "json_text", name, json_text)
    array, bad = text_problems(array, name)
    # DuckDB's check is vectorised but also takes NaN, Infinity and trailing commas: the rows
    # it refuses and the rows that might hold those are checked by orjson (strict RFC 8259)
    doubtful = pc.or_(
        pc.invert(_duckdb_json_valid(array)), pc.match_substring_regex(array, LENIENT)
    )
    for index in _rows(doubtful):
        value = array[index].as_py()
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            bad[index] = f"column {name!r}: {shown(value)} is not valid JSON ({exc})"
    escapes = _rows(pc.match_substring(array, "\\u0000"))  # checked as an escape below
    for index in escapes and _rows(pc.match_substring_regex(array, NUL_ESCAPE)):
        bad[index] = f"column {name!r}: JSON text holds \\u0000, which PostgreSQL cannot hold"
    return _null_where(array, bad), bad


def _grammar(array: pa.Array, pattern: str, kind: str, name: str) -> tuple[pa.Array, Bad]:
    """Text values outside a kind's grammar reported; the rest trimmed (empty text is null)."""
    array, bad = text_problems(array, name)
    array = pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)
    for index in _rows(pc.invert(pc.match_substring_regex(array, pattern))):
        value = array[index].as_py()
        bad[index] = f"column {name!r}: cannot read {shown(value)} as {kind}"
    return pc.utf8_trim_whitespace(_null_where(array, bad)), bad


def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not a whole number")
        value = int(value)
    elif isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise ValueError("not a whole number")
        value = int(value)
    elif isinstance(value, str):
        value = int(value)
    elif not isinstance(value, int):
        raise TypeError(f"a {type(value).__name__} is not an integer")
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("out of the int64 range")
    return value


def _as_int(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    bad: Bad = {}
    if pa.types.is_string(array.type):
        array, bad = _grammar(array, INT_TEXT, "int64", name)
        array = pc.replace_substring_regex(array, r"^\+", "")
    elif pa.types.is_unsigned_integer(array.type) and array.type.bit_width == 64:
        for index in _rows(pc.greater(array, pa.scalar(INT64_MAX, pa.uint64()))):
            bad[index] = f"column {name!r}: {array[index].as_py()} is out of the int64 range"
        return _null_where(array, bad).cast(pa.int64(), safe=False), bad
    elif not (pa.types.is_integer(array.type) or pa.types.is_null(array.type)):
        typed, more = _by_value(array, "int64", name, _parse_int)
        return typed, {**bad, **more}
    try:
        return array.cast(pa.int64()), bad
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # past int64: find which
        typed, more = _by_value(array, "int64", name, _parse_int)
        return typed, {**bad, **more}


def _as_float(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    if pa.types.is_floating(array.type) or pa.types.is_null(array.type):
        return array.cast(pa.float64()), {}
    if pa.types.is_integer(array.type) or pa.types.is_decimal(array.type):
        return array.cast(pa.float64(), safe=False), {}
    if not pa.types.is_string(array.type):
        return _by_value(array, "float64", name, _reject_type("float64"))
    text, bad = _grammar(array, FLOAT_TEXT, "float64", name)
    typed = text.cast(pa.float64())
    overflow = pc.and_(pc.is_inf(typed), pc.invert(pc.match_substring_regex(text, "(?i)inf")))
    underflow = pc.and_(pc.equal(typed, 0.0), pc.invert(pc.match_substring_regex(text, ZERO_TEXT)))
    for index in _rows(pc.or_(overflow, underflow)):
        bad[index] = f"column {name!r}: {shown(text[index].as_py())} is out of the float64 range"
    return _null_where(typed, bad), bad


def _reject_type(kind: str) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        raise TypeError(f"a {type(value).__name__} is not a {kind}")

    return parse


def _as_bool(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    if pa.types.is_boolean(array.type) or pa.types.is_null(array.type):
        return array.cast(pa.bool_()), {}
    if pa.types.is_string(array.type):
        text, bad = _grammar(array, BOOL_TEXT, "bool", name)
        return pc.utf8_lower(text).cast(pa.bool_()), bad
    return _by_value(array, "bool", name, lambda v: {0: False, 1: True}[_parse_int(v)])


def parse_instant(value: Any) -> datetime:
    """One instant from ISO 8601 text with its UTC offset, kept to the microsecond."""
    if not isinstance(value, str):
        raise TypeError(f"a {type(value).__name__} is not an instant")
    text = value.strip()
    fraction = _FRACTION.search(text)
    if fraction and fraction.group(1)[6:].strip("0"):
        raise ValueError(FINER)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("no UTC offset")
    return parsed.astimezone(UTC)


def instant_range(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    """A tz-aware timestamp column in microseconds UTC; instants outside years 1-9999 and
    values finer than a microsecond reported."""
    unit = array.type.unit
    per_us = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 1}[unit]
    raw = array.cast(pa.int64())
    bad: Bad = {}
    if unit != "ns":  # nanoseconds reach 1677-2262 only
        low, high = -(-MIN_US // per_us), MAX_US // per_us
        for index in _rows(pc.or_(pc.less(raw, low), pc.greater(raw, high))):
            bad[index] = f"column {name!r}: an instant outside the years 1-9999"
    else:
        fine = pc.not_equal(pc.multiply(pc.divide(raw, 1000), 1000), raw)
        for index in _rows(fine):
            bad[index] = f"column {name!r}: {FINER}"
    if unit != "us":
        raw = _null_where(raw, bad)
        raw = pc.divide(raw, 1000) if unit == "ns" else pc.multiply(raw, per_us)
    typed = raw.cast(pa.timestamp("us", tz="UTC"))
    return _null_where(typed, bad), bad


def _as_instant(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    if pa.types.is_timestamp(array.type):
        if array.type.tz is None:
            reason = f"column {name!r}: a timestamp without time zone (an instant needs its offset)"
            bad = {index: reason for index in _rows(pc.is_valid(array))}
            return pa.nulls(len(array), ARROW_TYPES["timestamptz"]), bad
        return instant_range(array.cast(pa.timestamp(array.type.unit, tz="UTC")), name)
    if pa.types.is_null(array.type):
        return array.cast(ARROW_TYPES["timestamptz"]), {}
    if not pa.types.is_string(array.type):
        return _by_value(array, "timestamptz", name, parse_instant)
    array, bad = text_problems(array, name)
    array = pc.utf8_trim_whitespace(array)
    try:
        typed = array.cast(ARROW_TYPES["timestamptz"])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        typed, more = _by_value(array, "timestamptz", name, parse_instant)
        bad.update(more)
    typed, outside = instant_range(typed, name)
    return typed, {**bad, **outside}


_CASTS: dict[str, Callable[[pa.Array, str], tuple[pa.Array, Bad]]] = {
    "string": _as_string,
    "json_text": _as_json_text,
    "int64": _as_int,
    "float64": _as_float,
    "bool": _as_bool,
    "timestamptz": _as_instant,
}


def cast_column(
    array: pa.Array | pa.ChunkedArray, kind: str, name: str
) -> tuple[pa.Array, dict[int, str]]:
    """Cast a column to its declared kind; values that cannot be typed are reported by index.

    Returns:
        The typed column (bad values as null) and ``{row_index: reason}`` for the bad values.
    """
    typed, bad = _CASTS[kind](as_text(plain(array)), name)
    return typed.cast(ARROW_TYPES[kind]), bad
