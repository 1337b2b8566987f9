"""Generated event files with random corruptions, and what must become of each of their rows.

A generated file is a list of rows, each cell drawn good (with the value it must land as) or
bad (a value no warehouse may receive: out of range, not UTF-8, NUL, not strict JSON, an instant
outside years 1-9999 or without offset, ...), plus extra columns (some with names that collide
after dlt's normalisation or that dlt cannot land), written as Parquet, JSONL, JSONL.gz, CSV or
CSV.gz, and sometimes cut short, replaced by garbage, given a byte order mark or CRLF endings.
`check` compares what the readers (or the warehouse) made of it with the oracle.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

BAD = object()  # the cell's row must be rejected
COLUMNS = {
    "event_id": "string",
    "customer_id": "int64",
    "amount": "float64",
    "flag": "bool",
    "occurred_at": "timestamptz",
    "properties": "json_text",
    "note": "string",
}
REQUIRED = ["event_id", "occurred_at"]
FORMATS = ["parquet", "jsonl", "jsonl.gz", "csv", "csv.gz"]
EXTRA_NAMES = ["session_id", "Event ID", "eventId", "EVENT_ID", "_file_name", "", "_dlt_id",
               "x y", "Ünïcödé", "a__b", "utm", "Note"]  # fmt: skip


@dataclass
class Cell:
    """One value as each format writes it, and what it must land as (``BAD``: rejected)."""

    text: str | bytes | None  # CSV / Parquet text (None: empty); bytes: not UTF-8
    json: str | bytes  # a JSON fragment for JSONL; bytes: not UTF-8
    expected: Any
    native: Any = None  # the value in a typed Parquet column (see ``native_types``)


@dataclass
class GenFile:
    name: str
    fmt: str
    columns: list[str]  # declared column names written, in order
    rows: list[dict[str, Cell]]
    extras: dict[str, list[Any]] = field(default_factory=dict)
    native_types: dict[str, str] = field(default_factory=dict)  # Parquet typed columns
    cut: float | None = None  # truncate at this share of the bytes after the header
    garbage: bool = False
    bom: bool = False
    crlf: bool = False


def _cell(text: Any, fragment: str, expected: Any, native: Any = None) -> Cell:
    return Cell(text, fragment, expected, native)


SAFE_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n\x85\u2028\u2029"),
    max_size=12,
)


BAD_INTS = ["9223372036854775808", "-9223372036854775809", "99999999999999999999", "1.5", "abc",
            "0x10", "1_000", "\u0661\u0662", "1e3"]  # fmt: skip
# JSON fragments of the wrong type or past int64 (a JSON number past 64 bits changes value)
BAD_INT_JSON = ["1.5", "true", "9223372036854775808", '{"a": 1}', "[1]", "18446744073709551616"]


@st.composite
def int_cell(draw: Any, native: str, bad: bool) -> Cell:
    if native == "uint64":
        if not bad:
            value = draw(st.integers(0, 2**63 - 1))
            return _cell(str(value), str(value), value, value)
        value = draw(st.integers(2**63, 2**64 - 1))
        return _cell(str(value), str(value), BAD, value)
    if bad and native == "string":
        text = draw(st.sampled_from(BAD_INTS))
        return _cell(text, draw(st.sampled_from([json.dumps(text), *BAD_INT_JSON])), BAD)
    if native == "string" and draw(st.integers(0, 3)) == 0:
        return _cell(None, "null", None)
    value = draw(st.integers(-(2**63), 2**63 - 1))
    text = draw(
        st.sampled_from([str(value), f" {value} ", f"+{value}" if value >= 0 else str(value)])
    )
    return _cell(text, str(value), value, value)


@st.composite
def float_cell(draw: Any, native: str, bad: bool) -> Cell:
    finite = st.floats(allow_nan=False, allow_infinity=False)
    if native == "float64":
        value = draw(st.one_of(finite, st.sampled_from([math.nan, math.inf, -math.inf])))
        return _cell(repr(value), "null", value, value)
    if bad:
        text = draw(st.sampled_from(["1e400", "-1e999", "1e-400", "abc", "1,5", "0x1p3", "--1"]))
        fragment = json.dumps(text) if text[0].isalpha() or "," in text else text
        return _cell(text, draw(st.sampled_from([fragment, "true", '"1e999"'])), BAD)
    choice = draw(st.sampled_from(["float", "float", "special", "null"]))
    if choice == "float":
        value = draw(finite)
        return _cell(repr(value), repr(value), value)
    if choice == "special":
        text = draw(st.sampled_from(["nan", "NaN", "inf", "-Infinity"]))
        return _cell(text, json.dumps(text), float(text))
    return _cell(None, "null", None)


@st.composite
def bool_cell(draw: Any, native: str, bad: bool) -> Cell:
    if native == "bool":
        value = draw(st.booleans())
        return _cell(str(value).lower(), json.dumps(value), value, value)
    if bad:
        text = draw(st.sampled_from(["yes", "2", "t", "truth"]))
        return _cell(text, draw(st.sampled_from(["2", "0.5", json.dumps(text)])), BAD)
    if draw(st.integers(0, 3)) == 0:
        return _cell(None, "null", None)
    value = draw(st.booleans())
    text = draw(st.sampled_from(["true", "TRUE", " 1 "] if value else ["false", "False", "0"]))
    return _cell(text, json.dumps(value), value)


INSTANTS = st.datetimes(datetime(2, 1, 1), datetime(9998, 12, 31))
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
BAD_INSTANTS = [
    "0000-06-01T00:00:00+00:00", "10000-01-01T00:00:00+00:00", "2026-11-01T10:00:00",
    "2026-11-01T10:00:00.1234567+00:00", "2026-12-31T23:59:60Z", "yesterday",
    "2026-11-01T10:00:00+25:00", "0001-01-01T00:30:00+01:00", "",
]  # fmt: skip


@st.composite
def instant_cell(draw: Any, native: str, bad: bool) -> Cell:
    if native.startswith("timestamp"):
        low, high = (datetime(1678, 1, 1), datetime(2261, 12, 31)) if native.endswith("ns") else (
            datetime(2, 1, 1), datetime(9998, 12, 31))  # fmt: skip
        value = draw(st.datetimes(low, high)).replace(tzinfo=UTC)
        if native.endswith("ns") and bad:
            return _cell(None, "null", BAD, (value, 1))  # one nanosecond past a microsecond
        return _cell(value.isoformat(), json.dumps(value.isoformat()), value, (value, 0))
    if bad:
        text = draw(st.sampled_from(BAD_INSTANTS))
        return _cell(text, draw(st.sampled_from([json.dumps(text), "1700000000", "null"])), BAD)
    value = draw(INSTANTS).replace(tzinfo=draw(OFFSETS))
    text = value.isoformat()
    if value.utcoffset() == timedelta(0) and draw(st.booleans()):
        text = text.replace("+00:00", "Z")
    if draw(st.booleans()):
        text = text.replace("T", " ", 1)
    return _cell(text, json.dumps(text), value.astimezone(UTC))


JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), SAFE_TEXT,
    st.floats(allow_nan=False, allow_infinity=False),
)  # fmt: skip
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SAFE_TEXT, inner, max_size=3),
    max_leaves=6,
)
BAD_JSON = ['{"a": NaN}', '{"a": 1,}', "{a: 1}", "[1, 2", '{"a": "\\u0000"}', '{"a": Infinity}',
            "{'a': 1}"]  # fmt: skip
# Numbers a JSON lines parser would read as other values; as JSON text they are kept verbatim.
CHANGED_NUMBERS = ['{"a": 1e-400}', '{"a": 18446744073709551616}']


@st.composite
def json_cell(draw: Any, native: str, bad: bool) -> Cell:
    if bad:
        text = draw(st.sampled_from(BAD_JSON))
        # in JSON lines: as text, or as the object itself (the line is then not JSON)
        fragment = draw(st.sampled_from([json.dumps(text), text, *CHANGED_NUMBERS]))
        return _cell(text, fragment, BAD)
    if draw(st.integers(0, 3)) == 0:
        return _cell(None, "null", None)
    value = draw(st.dictionaries(SAFE_TEXT, JSON_VALUES, max_size=4))
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    return _cell(text, text, value)


@st.composite
def note_cell(draw: Any, native: str, bad: bool) -> Cell:
    if bad:
        if draw(st.booleans()):
            return _cell("a\x00b", json.dumps("a\x00b"), BAD)
        return _cell("caf\xe9".encode("latin-1"), b'"caf\xe9"', BAD)
    choice = draw(st.sampled_from(["text", "text", "text", "null", "number"]))
    if choice == "text":
        value = draw(SAFE_TEXT)
        return _cell(value, json.dumps(value, ensure_ascii=draw(st.booleans())), value)
    if choice == "number":  # a string column keeps a JSON number as its text
        value = draw(st.integers(-1000, 1000))
        return _cell(str(value), str(value), str(value))
    return _cell(None, "null", None)


CELLS = {
    "customer_id": int_cell,
    "amount": float_cell,
    "flag": bool_cell,
    "occurred_at": instant_cell,
    "properties": json_cell,
    "note": note_cell,
}
NATIVE = {
    "customer_id": ["string", "int64", "uint64"],
    "amount": ["string", "float64"],
    "flag": ["string", "bool"],
    "occurred_at": ["string", "timestamp_us", "timestamp_ns"],
}
