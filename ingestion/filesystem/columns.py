"""Typing of one declared column: the values a warehouse holds faithfully, the others by row.

A value is typed only when both warehouses can hold it unchanged; otherwise its row is reported
with the reason, never coerced: text must be UTF-8 without NUL (PostgreSQL refuses it), integers
fit int64, a float text that overflows or underflows to zero is refused (``nan`` and ``inf``
written as such are kept), an instant needs its UTC offset, whole microseconds and a year from
1 to 9999 (what every reader down the line, Python included, can hold), and JSON text must be
strict JSON that PostgreSQL's ``json`` parses (no ``NaN``, trailing commas or ``\\u0000``), and
a decimal is exact with at most 29 digits before the point and 9 after (never rounded).
Text is checked against one grammar per kind first, so a value's fate never depends on the
other values of its batch; the casts themselves are vectorised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.filesystem import scratch
from ingestion.filesystem.values import (
    FINER,
    INT64_MAX,
    INT64_MIN,
    Bad,
    as_text,
    buffer_holds,
    by_value,
    instant_range,
    json_text,
    null_where,
    plain,
    rows_where,
    shown,
    text_problems,
    unsigned_as_int64,
)

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "json_text": pa.string(),
    "decimal": pa.decimal128(38, 9),
}
DECIMAL_TEXT = r"^\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)\s*$"
# what decimal(38, 9) holds exactly: 29 digits before the point, 9 after (zeros aside)
DECIMAL_FITS = r"^[+-]?0*(?:[0-9]{1,29}(?:\.[0-9]{0,9}0*)?|\.[0-9]{0,9}0*)$"
DECIMAL_LIMITS = "more digits than decimal(38, 9) holds (29 before the point, 9 after)"
INT_TEXT = r"^\s*[+-]?[0-9]+\s*$"
FLOAT_TEXT = (
    r"^\s*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf|infinity|nan))\s*$"
)
ZERO_TEXT = r"^\s*[+-]?(?:0+\.?0*|\.0+)(?:[eE][+-]?[0-9]+)?\s*$"
BOOL_TEXT = r"^\s*(?i:true|false|1|0)\s*$"
LENIENT = r"(?i)nan|inf|,\s*[\]}]"  # what DuckDB's JSON check takes and strict JSON does not
NUL_ESCAPE = r"(?:^|[^\\])(?:\\\\)*\\u0000"  # a JSON \u0000 escape (not an escaped backslash)
_FRACTION = re.compile(r"T?\d{2}:\d{2}(?::\d{2})?[.,](\d+)")


def _as_string(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    if pa.types.is_string(array.type):
        return text_problems(array, name)
    if pa.types.is_null(array.type):
        return array.cast(pa.string()), {}
    typed, bad = by_value(array, "string", name, json_text, ARROW_TYPES["string"])
    checked, more = text_problems(typed, name)
    return checked, {**bad, **more}


def _duckdb_json_valid(array: pa.Array) -> pa.Array:
    """DuckDB's vectorised ``json_valid`` of each value (null stays null)."""
    with scratch.cursor() as con:
        con.register("t", pa.table({"v": array}))
        return con.sql("select json_valid(v) from t").to_arrow_table().column(0).combine_chunks()


def _as_json_text(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    if pa.types.is_null(array.type):
        return array.cast(pa.string()), {}
    if not pa.types.is_string(array.type):
        return by_value(array, "json_text", name, json_text, ARROW_TYPES["json_text"])
    array, bad = text_problems(array, name)
    # DuckDB's check is vectorised but also takes NaN, Infinity and trailing commas: the rows
    # it refuses and the rows that might hold those are checked by orjson (strict RFC 8259)
    doubtful = pc.or_(
        pc.invert(_duckdb_json_valid(array)), pc.match_substring_regex(array, LENIENT)
    )
    for index in rows_where(doubtful):
        value = array[index].as_py()
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            bad[index] = f"column {name!r}: {shown(value)} is not valid JSON ({exc})"
    escapes = []  # rows holding the text \u0000, checked as an escape below
    if buffer_holds(array, b"\\u0000"):
        escapes = rows_where(pc.match_substring(array, "\\u0000"))
    for index in escapes and rows_where(pc.match_substring_regex(array, NUL_ESCAPE)):
        bad[index] = f"column {name!r}: JSON text holds \\u0000, which PostgreSQL cannot hold"
    return null_where(array, bad), bad


def _grammar(array: pa.Array, pattern: str, kind: str, name: str) -> tuple[pa.Array, Bad]:
    """Text values outside a kind's grammar reported; the rest trimmed (empty text is null)."""
    array, bad = text_problems(array, name)
    array = pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)
    for index in rows_where(pc.invert(pc.match_substring_regex(array, pattern))):
        value = array[index].as_py()
        bad[index] = f"column {name!r}: cannot read {shown(value)} as {kind}"
    return pc.utf8_trim_whitespace(null_where(array, bad)), bad


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
        return unsigned_as_int64(array, name)
    elif not (pa.types.is_integer(array.type) or pa.types.is_null(array.type)):
        typed, more = by_value(array, "int64", name, _parse_int, ARROW_TYPES["int64"])
        return typed, {**bad, **more}
    try:
        return array.cast(pa.int64()), bad
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # past int64: find which
        typed, more = by_value(array, "int64", name, _parse_int, ARROW_TYPES["int64"])
        return typed, {**bad, **more}


def _as_float(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    if pa.types.is_floating(array.type) or pa.types.is_null(array.type):
        return array.cast(pa.float64()), {}
    if pa.types.is_integer(array.type) or pa.types.is_decimal(array.type):
        return array.cast(pa.float64(), safe=False), {}
    if not pa.types.is_string(array.type):
        return by_value(array, "float64", name, _reject_type("float64"), ARROW_TYPES["float64"])
    text, bad = _grammar(array, FLOAT_TEXT, "float64", name)
    typed = text.cast(pa.float64())
    overflow = pc.and_(pc.is_inf(typed), pc.invert(pc.match_substring_regex(text, "(?i)inf")))
    underflow = pc.and_(pc.equal(typed, 0.0), pc.invert(pc.match_substring_regex(text, ZERO_TEXT)))
    for index in rows_where(pc.or_(overflow, underflow)):
        bad[index] = f"column {name!r}: {shown(text[index].as_py())} is out of the float64 range"
    return null_where(typed, bad), bad


def _parse_decimal(value: Any) -> Decimal:
    """A number as written (a float by its shortest text) if decimal(38, 9) holds it exactly."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise TypeError(f"a {type(value).__name__} is not a decimal")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except ArithmeticError as exc:
        raise ValueError("not a decimal number") from exc
    if not number.is_finite():
        raise ValueError("not a finite number")
    try:
        exact = abs(number) < 10**29 and number == round(number, 9)
    except ArithmeticError:  # past what Decimal's context rounds
        exact = False
    if not exact:
        raise ValueError(DECIMAL_LIMITS)
    return number


def _as_decimal(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    target = ARROW_TYPES["decimal"]
    if pa.types.is_string(array.type):
        text, bad = _grammar(array, DECIMAL_TEXT, "decimal", name)
        for index in rows_where(pc.invert(pc.match_substring_regex(text, DECIMAL_FITS))):
            bad[index] = f"column {name!r}: {shown(text[index].as_py())} has {DECIMAL_LIMITS}"
        return null_where(text, bad).cast(target), bad
    if pa.types.is_integer(array.type) or pa.types.is_null(array.type):
        return array.cast(target), {}
    return by_value(array, "decimal", name, _parse_decimal, target)


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
    parse = lambda v: {0: False, 1: True}[_parse_int(v)]  # noqa: E731
    return by_value(array, "bool", name, parse, ARROW_TYPES["bool"])


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


def _as_instant(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    if pa.types.is_timestamp(array.type):
        if array.type.tz is None:
            reason = f"column {name!r}: a timestamp without time zone (an instant needs its offset)"
            bad = {index: reason for index in rows_where(pc.is_valid(array))}
            return pa.nulls(len(array), ARROW_TYPES["timestamptz"]), bad
        return instant_range(array.cast(pa.timestamp(array.type.unit, tz="UTC")), name)
    if pa.types.is_null(array.type):
        return array.cast(ARROW_TYPES["timestamptz"]), {}
    if not pa.types.is_string(array.type):
        return by_value(array, "timestamptz", name, parse_instant, ARROW_TYPES["timestamptz"])
    array, bad = text_problems(array, name)
    array = pc.utf8_trim_whitespace(array)
    try:
        typed = array.cast(ARROW_TYPES["timestamptz"])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        typed, more = by_value(
            array, "timestamptz", name, parse_instant, ARROW_TYPES["timestamptz"]
        )
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
    "decimal": _as_decimal,
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
