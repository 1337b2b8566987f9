"""Event files: one chunk of rendered rows written per format, some lines made malformed.

Files are written byte-for-byte the same for the same seed (no name or time in gzip headers).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from demo import settings

if TYPE_CHECKING:
    from demo.events import EventContext

FORMATS = ("parquet", "jsonl.gz", "csv")
FORMAT_WEIGHTS = (
    1 - settings.JSONL_SHARE - settings.CSV_SHARE,
    settings.JSONL_SHARE,
    settings.CSV_SHARE,
)
LOW_CARDINALITY = (
    "event_type", "url", "referrer", "utm_source", "utm_medium", "utm_campaign", "device",
    "device_type",
)  # fmt: skip


def _corrupt_json(rng: np.random.Generator, line: str) -> str:
    kind = int(rng.integers(3))
    if kind == 0:  # bad JSON: the line is cut off
        return line[: max(1, len(line) // 2)]
    record = json.loads(line)
    if kind == 1:  # wrong types
        record["customer_id"] = "not-a-number"
        record["occurred_at"] = "31/02/2026 25:61"
        return json.dumps(record, ensure_ascii=False)
    record.pop("event_id")  # a required field missing
    return json.dumps(record, ensure_ascii=False) + " trailing garbage"


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(["" if v is None else v for v in values])
    return buffer.getvalue()


def _corrupt_csv(rng: np.random.Generator, values: list[Any], names: list[str]) -> str:
    kind = int(rng.integers(3))
    if kind == 0:  # wrong column count: an extra field
        return _csv_line([*values, "unexpected"])
    if kind == 1:  # wrong column count: fields missing
        return _csv_line(values[: len(values) // 2])
    broken = dict(zip(names, values, strict=True))  # wrong types
    broken["customer_id"] = "n/a"
    broken["occurred_at"] = "yesterday at noon"
    return _csv_line(list(broken.values()))


def _write_text(
    path: Path, rng: np.random.Generator, table: pa.Table, fmt: str, malformed_rate: float
) -> list[int]:
    """Write a JSONL gzip or CSV file; returns the (1-based) numbers of the malformed lines."""
    names = table.column_names
    bad = np.flatnonzero(rng.random(table.num_rows) < malformed_rate).tolist()
    if fmt == "jsonl.gz":
        con = duckdb.connect()
        con.register("t", table)
        struct = ", ".join(
            f"{n} := {n}::JSON" if n == "properties" else f"{n} := {n}" for n in names
        )
        lines = con.sql(f"select to_json(struct_pack({struct})) as line from t").to_arrow_table()
        con.close()
        text = lines["line"].to_pylist()
        for i in bad:
            text[i] = _corrupt_json(rng, text[i])
        with (  # no name or time in the gzip header: same seed, same bytes
            path.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as out,
        ):
            out.write(("\n".join(text) + "\n").encode())
        return [i + 1 for i in bad]
    buffer = pa.BufferOutputStream()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(quoting_style="needed"))
    data = buffer.getvalue().to_pybytes()
    if bad:  # CSV values never hold a newline, so lines are rows (header first)
        lines = data.split(b"\n")
        for i, row in zip(bad, table.take(bad).to_pylist(), strict=True):
            lines[i + 1] = _corrupt_csv(rng, list(row.values()), names).encode()
        data = b"\n".join(lines)
    path.write_bytes(data)
    return [i + 2 for i in bad]


def write_chunk(
    ctx: EventContext,
    rng: np.random.Generator,
    rendered: pa.Table,
    folder: Path,
    stem: str,
    day: date,
    arrival: date,
    only_format: str | None = None,
    duplicates: pa.Table | None = None,
) -> list[dict[str, Any]]:
    """Write one rendered chunk as one file per format; returns their manifest entries."""
    folder.mkdir(parents=True, exist_ok=True)
    fmt = rendered["fmt"].to_numpy()
    data = rendered.drop_columns(["fmt"])
    entries = []
    for index, name in enumerate(FORMATS):
        part = data if only_format == name else data.filter(pa.array(fmt == index))
        if only_format not in (None, name) or part.num_rows == 0:
            continue
        dup_rows = 0
        if duplicates is not None and name == "parquet" and duplicates.schema == part.schema:
            part = pa.concat_tables([part, duplicates])
            dup_rows = duplicates.num_rows
        path = folder / f"{stem}.{name}"
        bad_lines: list[int] = []
        if name == "parquet":
            dictionary = [c for c in part.column_names if c in LOW_CARDINALITY]
            pq.write_table(
                part, path, row_group_size=settings.EVENT_CHUNK_ROWS, use_dictionary=dictionary
            )
        else:
            bad_lines = _write_text(path, rng, part, name, ctx.malformed_rate)
        entries.append(
            {
                "file": path.relative_to(ctx.demo_dir).as_posix(),
                "date": day.isoformat(),
                "format": name,
                "rows": part.num_rows,
                "malformed": len(bad_lines),
                "malformed_lines": bad_lines,
                "duplicates": dup_rows,
                "late": arrival != day,
                "arrived_on": arrival.isoformat(),
                "columns": part.column_names,
            }
        )
    return entries
