"""PostgreSQL's text output of a value, typed: the Arrow type of a column and its parser.

Both the snapshot (read as ``::text``) and the change stream (pgoutput sends text) go through
here, so a value lands alike whichever way it came. A type not listed lands as text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa

Parser = Callable[[str], Any]

BOOL, INT8, INT2, INT4, OID = 16, 20, 21, 23, 26
FLOAT4, FLOAT8, NUMERIC = 700, 701, 1700
DATE, TIME, TIMESTAMP, TIMESTAMPTZ = 1082, 1083, 1114, 1184


def _bool(text: str) -> bool:
    return text in ("t", "true")


_SIMPLE: dict[int, tuple[pa.DataType, Parser]] = {
    BOOL: (pa.bool_(), _bool),
    INT2: (pa.int16(), int),
    INT4: (pa.int32(), int),
    INT8: (pa.int64(), int),
    OID: (pa.int64(), int),
    FLOAT4: (pa.float32(), float),
    FLOAT8: (pa.float64(), float),
    DATE: (pa.date32(), date.fromisoformat),
    TIME: (pa.time64("us"), time.fromisoformat),
    TIMESTAMP: (pa.timestamp("us"), datetime.fromisoformat),
    TIMESTAMPTZ: (pa.timestamp("us", tz="UTC"), datetime.fromisoformat),
}


def arrow_type(type_oid: int, type_modifier: int) -> tuple[pa.DataType, Parser]:
    """The Arrow type and text parser of a column (``numeric(p, s)`` keeps its precision)."""
    if type_oid == NUMERIC and type_modifier >= 4:
        precision, scale = (type_modifier - 4) >> 16, (type_modifier - 4) & 0xFFFF
        kind = (
            pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
        )
        return kind, Decimal
    return _SIMPLE.get(type_oid, (pa.string(), str))
