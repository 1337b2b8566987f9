"""Columns a file sends beyond the declared ones (schema drift): landed as sent, or refused.

A column is refused on its own (its values not loaded, one record naming it; the rows load
without it) when its name cannot be landed: dlt's normalised name is empty, is a declared or
loader column's (``Event ID`` and ``eventId`` become ``event_id``), belongs to another column
of the file, or starts with ``_dlt_``; or when its type cannot be landed: a type dlt does not
load (durations, intervals), a decimal wider than 38 digits, or a type other than the one the
table already holds for it (any type lands in a text column, as its JSON text).

Kept types are made canonical (int64, float64, microsecond timestamps, ...) so batches of
different files concatenate; values a warehouse cannot hold faithfully (text with NUL, an
unsigned integer past int64, an instant outside the years 1-9999) reject their row.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.filesystem.values import (
    Bad,
    by_value,
    instant_range,
    json_text,
    null_where,
    plain,
    rows_where,
    text_problems,
    unsigned_as_int64,
)

MAX_DECIMAL_DIGITS = 38  # DuckDB's widest decimal
FIRST_DAY, LAST_DAY = -719_162, 2_932_896  # 0001-01-01 and 9999-12-31, days since 1970


class ColumnRefused(ValueError):
    """A column that cannot be landed; the message says why."""


def _nested(arrow_type: pa.DataType) -> bool:
    return pa.types.is_nested(arrow_type)


def landing_type(arrow_type: pa.DataType) -> tuple[str, pa.DataType]:
    """The label and canonical Arrow type a column of ``arrow_type`` lands as.

    Raises:
        ColumnRefused: the type cannot be landed.
    """
    t = arrow_type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "text", pa.string()
    if _nested(t):
        return "text", pa.string()
    if pa.types.is_boolean(t):
        return "bool", pa.bool_()
    if pa.types.is_integer(t):
        return "bigint", pa.int64()
    if pa.types.is_floating(t):
        return "double", pa.float64()
    if pa.types.is_decimal(t):
        if t.precision > MAX_DECIMAL_DIGITS:
            raise ColumnRefused(f"a decimal of {t.precision} digits is wider than 38")
        return f"decimal({t.scale})", pa.decimal128(MAX_DECIMAL_DIGITS, t.scale)
    if pa.types.is_timestamp(t):
        if t.tz is None:
            return "timestamp", pa.timestamp("us")
        return "timestamptz", pa.timestamp("us", tz="UTC")
    if pa.types.is_date(t):
        return "date", pa.date32()
    if pa.types.is_time(t):
        return "time", pa.time64("us")
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary", pa.binary()
    raise ColumnRefused(f"its type {t} cannot be landed")


def stored_label(column: dict[str, Any]) -> str | None:
    """The label of a column as dlt's stored schema holds it (None: no type yet)."""
    data_type = column.get("data_type")
    if data_type == "timestamp":
        return "timestamptz" if column.get("timezone", True) else "timestamp"
    if data_type == "decimal":
        return f"decimal({column.get('scale', 0)})"
    return str(data_type) if data_type else None


def _canonical(array: pa.Array, label: str, target: pa.DataType, name: str) -> tuple[pa.Array, Bad]:
    t = array.type
    if label == "text":
        if _nested(t):
            typed, bad = by_value(array, "string", name, json_text, pa.string())
            checked, more = text_problems(typed, name)
            return checked, {**bad, **more}
        return text_problems(array.cast(pa.string()), name)
    if label == "bigint" and pa.types.is_unsigned_integer(t) and t.bit_width == 64:
        return unsigned_as_int64(array, name)
    if label == "timestamptz":
        return instant_range(array.cast(pa.timestamp(t.unit, tz="UTC")), name)
    if label == "timestamp":
        typed, bad = instant_range(array.cast(pa.timestamp(t.unit, tz="UTC")), name)
        return typed.cast(pa.timestamp("us")), bad
    if label == "date":
        days = array.cast(pa.date32(), safe=False).cast(pa.int32())
        outside = pc.or_(pc.less(days, FIRST_DAY), pc.greater(days, LAST_DAY))
        bad = {i: f"column {name!r}: a date outside the years 1-9999" for i in rows_where(outside)}
        return null_where(array.cast(pa.date32(), safe=False), bad), bad
    if label == "time" and t == pa.time64("ns"):
        raw = array.cast(pa.int64())
        fine = pc.not_equal(pc.multiply(pc.divide(raw, 1000), 1000), raw)
        bad = {i: f"column {name!r}: finer than a microsecond" for i in rows_where(fine)}
        return null_where(raw, bad).cast(pa.time64("ns")).cast(target, safe=False), bad
    return array.cast(target), {}


def to_text(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    """Any column as text: text as it is, other values as their JSON text."""
    if pa.types.is_string(array.type):
        return text_problems(array, name)
    if pa.types.is_null(array.type):
        return array.cast(pa.string()), {}
    typed, bad = by_value(array, "string", name, json_text, pa.string())
    checked, more = text_problems(typed, name)
    return checked, {**bad, **more}


class ExtraColumns:
    """The landed type of each extra column, as the table holds it or this run first sent it."""

    def __init__(self, stored: dict[str, str] | None = None) -> None:
        self.labels: dict[str, str] = dict(stored or {})
        self.types: dict[str, pa.DataType] = {}

    def land(
        self, array: pa.Array | pa.ChunkedArray, name: str, landed_name: str
    ) -> tuple[pa.Array | None, Bad]:
        """One extra column in its landed type, bad values reported by row; None when the
        column holds only nulls and has no type yet (nothing to land).

        Raises:
            ColumnRefused: the type cannot be landed, or differs from the table's.
        """
        array = plain(array)
        known = self.labels.get(landed_name)
        if pa.types.is_null(array.type):
            target = self.types.get(landed_name)
            if target is None and known == "text":
                target = pa.string()
            return (array.cast(target), {}) if target is not None else (None, {})
        label, target = landing_type(array.type)
        if known is not None and known != label:
            if known != "text":
                raise ColumnRefused(f"it arrives as {label}; the table holds it as {known}")
            return to_text(array, name)
        typed, bad = _canonical(array, label, target, name)
        self.labels[landed_name] = label
        self.types[landed_name] = target
        return typed, bad
