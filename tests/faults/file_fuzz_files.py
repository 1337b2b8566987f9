"""Generated files: drawn, written in their format, and the fate the oracle expects per line."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

from tests.faults.file_fuzz_support import (
    BAD,
    CELLS,
    COLUMNS,
    EXTRA_NAMES,
    FORMATS,
    NATIVE,
    REQUIRED,
    SAFE_TEXT,
    Cell,
    GenFile,
)

PLACEHOLDER = "\x01{}\x01"


@st.composite
def gen_file(draw: Any, index: int, formats: list[str] = FORMATS) -> GenFile:
    """One generated file (``index`` keeps its event ids apart from other files')."""
    fmt = draw(st.sampled_from(formats))
    optional = [c for c in COLUMNS if c not in REQUIRED and draw(st.booleans())]
    columns = draw(st.permutations([*REQUIRED, *optional]))
    native = {c: draw(st.sampled_from(NATIVE[c])) for c in columns if c in NATIVE}
    native = native if fmt == "parquet" else {}
    rows = []
    for i in range(draw(st.integers(0, 8))):
        # a third of the rows carry one bad value (or lack their event id)
        spoilt = draw(st.sampled_from(columns)) if draw(st.integers(0, 2)) == 0 else None
        row = {}
        for name in columns:
            if name == "event_id":
                eid = f"f{index}r{i}-{draw(SAFE_TEXT)}"
                row[name] = Cell(None, "null", BAD) if spoilt == name else Cell(
                    eid, json.dumps(eid), eid)  # fmt: skip
            else:
                row[name] = draw(CELLS[name](native.get(name, "string"), spoilt == name))
        rows.append(row)
    names = draw(st.lists(st.sampled_from(EXTRA_NAMES), max_size=2, unique=True))
    extras = {}
    for name in names:
        values = st.integers(-1000, 1000) if draw(st.booleans()) else st.from_regex(
            r"[a-z0-9 ]{0,6}", fullmatch=True)  # fmt: skip
        extras[name] = [draw(values) for _ in rows]
    text = fmt in ("csv", "jsonl", "csv.gz", "jsonl.gz")
    damage = draw(st.sampled_from(["none"] * 6 + ["cut", "garbage"]))
    return GenFile(
        name=f"f{index}.{fmt}",
        fmt=fmt,
        columns=list(columns),
        rows=rows,
        extras=extras,
        native_types=native,
        cut=draw(st.floats(0, 1)) if damage == "cut" and rows else None,
        garbage=damage == "garbage" and fmt not in ("csv", "jsonl"),
        bom=text and draw(st.integers(0, 5)) == 0,
        crlf=text and draw(st.integers(0, 5)) == 0,
    )


def _csv_line(values: list[str | bytes | None]) -> bytes:
    texts = [PLACEHOLDER.format(i) if isinstance(v, bytes) else (v or "") for i, v in
             enumerate(values)]  # fmt: skip
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(texts)
    line = out.getvalue().encode()
    for i, v in enumerate(values):
        if isinstance(v, bytes):
            line = line.replace(PLACEHOLDER.format(i).encode(), v)
    return line


def _jsonl_line(row: dict[str, Cell], extras: dict[str, Any]) -> bytes:
    parts = [json.dumps(name).encode() + b": " + (cell.json if isinstance(cell.json, bytes)
             else cell.json.encode()) for name, cell in row.items()]  # fmt: skip
    parts += [json.dumps(name).encode() + b": " + json.dumps(v).encode() for name, v in
              extras.items()]  # fmt: skip
    return b"{" + b", ".join(parts) + b"}"


def _parquet_column(gen: GenFile, name: str) -> pa.Array:
    cells = [row[name] for row in gen.rows]
    kind = gen.native_types.get(name, "string")
    if kind == "string":
        raw = [c.text if isinstance(c.text, bytes) or c.text is None else c.text.encode()
               for c in cells]  # fmt: skip
        return pa.array(raw, pa.binary()).view(pa.string())
    if kind.startswith("timestamp"):
        scale = 1000 if kind.endswith("ns") else 1
        micros = [_epoch_us(c.native[0]) * scale + c.native[1] for c in cells]
        unit = "ns" if kind.endswith("ns") else "us"
        return pa.array(micros, pa.int64()).cast(pa.timestamp(unit, tz="UTC"))
    return pa.array([c.native for c in cells], {"int64": pa.int64(), "uint64": pa.uint64(),
                    "float64": pa.float64(), "bool": pa.bool_()}[kind])  # fmt: skip


def _epoch_us(moment: Any) -> int:
    from datetime import UTC, datetime

    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass
class Expect:
    """The fate of each data line: its expected values, or ``BAD``; or the whole file."""

    whole: bool = False
    lines: dict[int, Any] = field(default_factory=dict)
    partial: int | None = None  # a cut line: loaded or rejected, either is fine


def write(gen: GenFile) -> tuple[bytes, Expect]:
    """The file's bytes and what must become of it."""
    header = b""
    body: list[bytes] = []
    first = 1
    if gen.fmt.startswith("parquet"):
        arrays = {name: _parquet_column(gen, name) for name in gen.columns}
        arrays.update({name: pa.array(values) for name, values in gen.extras.items()})
        buffer = io.BytesIO()
        pq.write_table(pa.table(arrays) if arrays else pa.table({}), buffer)
        data = buffer.getvalue()
    else:
        newline = b"\r\n" if gen.crlf else b"\n"
        if gen.fmt.startswith("csv"):
            header = _csv_line([*gen.columns, *gen.extras]) + newline
            first = 2
            body = [_csv_line([row[c].text for c in gen.columns] + [str(v[i]) for v in
                    gen.extras.values()]) + newline for i, row in enumerate(gen.rows)]  # fmt: skip
        else:
            body = [_jsonl_line(row, {k: v[i] for k, v in gen.extras.items()}) + newline
                    for i, row in enumerate(gen.rows)]  # fmt: skip
        header = (b"\xef\xbb\xbf" if gen.bom else b"") + header
        data = header + b"".join(body)
    expect = Expect(lines={first + i: _expected(gen, row) for i, row in enumerate(gen.rows)})
    if gen.garbage:
        return b"\x00garbage" + data[:7], Expect(whole=True)
    if gen.fmt.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    if gen.cut is not None:
        if gen.fmt == "parquet" or gen.fmt.endswith(".gz"):
            return data[: max(1, int(gen.cut * (len(data) - 1)))], Expect(whole=True)
        at = len(header) + int(gen.cut * (len(data) - len(header)))
        data = data[:at]
        complete, ended = 0, len(header)
        for line in body:
            if ended + len(line) > at:
                break
            ended += len(line)
            complete += 1
        partial = first + complete if at > ended else None
        expect.lines = {n: v for n, v in expect.lines.items() if n < first + complete}
        expect.partial = partial
    return data, expect


def _expected(gen: GenFile, row: dict[str, Cell]) -> Any:
    values = {}
    for name, cell in row.items():
        if cell.expected is BAD:
            return BAD
        value = cell.expected
        if gen.fmt.startswith("csv") and value == "":
            value = None  # an empty CSV field is null
        values[name] = value
    return values


def same(kind: str, loaded: Any, expected: Any) -> bool:
    """Whether a loaded value is the expected one (JSON by value, NaN equal to NaN)."""
    if expected is None or loaded is None:
        return expected is None and loaded is None
    if kind == "float64":
        return (math.isnan(expected) and math.isnan(loaded)) or loaded == expected
    if kind == "json_text":
        return bool(json.loads(loaded) == expected)
    if kind == "timestamptz":
        return bool(loaded == expected)
    return bool(loaded == expected) and type(loaded) is type(expected)
