"""Arrow helpers shared by the typing of declared and extra columns.

A bad value is reported as ``{row: reason}`` and nulled in the column; text a warehouse cannot
hold (bytes that are not UTF-8, NUL) and instants outside what every reader holds (years
1-9999, whole microseconds) are found here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

MIN_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z, microseconds since 1970
MAX_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
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


def null_where(array: pa.Array, rows: Bad) -> pa.Array:
    if not rows:
        return array
    mask = np.zeros(len(array), dtype=bool)
    mask[list(rows)] = True
    return pc.if_else(pa.array(mask), pa.scalar(None, array.type), array)


def rows_where(mask: pa.Array) -> list[int]:
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
        array = null_where(array, bad)
    if buffer_holds(array, b"\x00"):
        for index in rows_where(pc.match_substring(array, "\x00")):
            bad[index] = f"column {name!r}: holds a NUL character, which PostgreSQL cannot store"
    return null_where(array, bad), bad


def buffer_holds(array: pa.Array, needle: bytes) -> bool:
    """Whether a text array's data buffer holds these bytes, in one pass over the buffer: False
    means no value holds them; True (and any other array) means a value may."""
    if not isinstance(array, pa.Array) or not pa.types.is_string(array.type):
        return True
    data = array.buffers()[2]
    if data is None or data.size == 0:
        return False
    if needle == b"\x00":  # the smallest byte: a vectorised minimum
        return bool(np.frombuffer(data, dtype=np.uint8).min() == 0)
    return re.search(re.escape(needle), memoryview(data)) is not None


def by_value(
    array: pa.Array, kind: str, name: str, parse: Callable[[Any], Any], target: pa.DataType
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
    return pa.array(values, type=target), bad


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


def instant_range(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    """A tz-aware timestamp column in microseconds UTC; instants outside years 1-9999 and
    values finer than a microsecond reported."""
    unit = array.type.unit
    per_us = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 1}[unit]
    raw = array.cast(pa.int64())
    bad: Bad = {}
    if unit != "ns":  # nanoseconds reach 1677-2262 only
        low, high = -(-MIN_US // per_us), MAX_US // per_us
        for index in rows_where(pc.or_(pc.less(raw, low), pc.greater(raw, high))):
            bad[index] = f"column {name!r}: an instant outside the years 1-9999"
    else:
        fine = pc.not_equal(pc.multiply(pc.divide(raw, 1000), 1000), raw)
        for index in rows_where(fine):
            bad[index] = f"column {name!r}: {FINER}"
    if unit != "us":
        raw = null_where(raw, bad)
        raw = pc.divide(raw, 1000) if unit == "ns" else pc.multiply(raw, per_us)
    typed = raw.cast(pa.timestamp("us", tz="UTC"))
    return null_where(typed, bad), bad


def unsigned_as_int64(array: pa.Array, name: str) -> tuple[pa.Array, Bad]:
    """A ``uint64`` column as int64; values past int64 reported."""
    past = pc.greater(array, pa.scalar(INT64_MAX, pa.uint64()))
    bad = {
        i: f"column {name!r}: {array[i].as_py()} is out of the int64 range"
        for i in rows_where(past)
    }
    return null_where(array, bad).cast(pa.int64(), safe=False), bad
