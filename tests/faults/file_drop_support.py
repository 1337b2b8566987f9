"""A private landing zone for the events source: write files, load them, read what landed.

The events system of `ingestion/sources.yml` is copied into a sources file of the test's own,
pointing at a folder under the test's tmp dir; `use_warehouse` points the process at a fresh
DuckDB file or PostgreSQL database.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from ingestion import config
from tests.support.warehouse import query_current

DAY = "date=2026-11-01"
EVENTS = yaml.safe_load(config.DEFAULT_SOURCES_FILE.read_text())["events"]
COLUMNS: list[str] = list(EVENTS["columns"])
# A fixed, long-past modification time, so a test sets every file's time itself.
EPOCH = 1_700_000_000


def use_warehouse(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Point this process at a fresh warehouse of ``kind``."""
    if kind == "duckdb":
        monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
        return
    monkeypatch.setenv("WAREHOUSE", "postgres")
    for key, value in request.getfixturevalue("pg_database").items():
        monkeypatch.setenv(key, value)


def use_landing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bucket: Path, **overrides: Any
) -> Path:
    """Write a sources file holding only the events system, reading ``bucket``."""
    events = dict(EVENTS, demo=False, bucket_url=str(bucket), **overrides)
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump({"events": events}, sort_keys=False))
    monkeypatch.setenv("INGESTION_SOURCES", str(path))
    return path


def event(number: int, **override: Any) -> dict[str, Any]:
    """One valid event row (as a producer writes it), with fields overridden."""
    row: dict[str, Any] = {
        "event_id": f"evt-{number:06d}",
        "anonymous_id": f"anon-{number % 7}",
        "customer_id": number % 50 + 1,
        "event_type": "page_view",
        "url": f"/products/{number}",
        "referrer": None,
        "utm_source": None,
        "utm_medium": None,
        "utm_campaign": None,
        "device": "mobile",
        "occurred_at": "2026-11-01T10:00:00+02:00",
        "properties": {"product_id": number},
    }
    row.update(override)
    return row


def jsonl_line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False)


def csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(["" if v is None else v for v in values])
    return out.getvalue()


def csv_row(row: dict[str, Any], columns: list[str] | None = None) -> str:
    names = columns or COLUMNS
    return csv_line([json.dumps(row[c]) if c == "properties" else row.get(c) for c in names])


def write(path: Path, data: bytes, mtime: float | None = None) -> Path:
    """Write a file (folders made), with the given modification time if any."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def text(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def loaded_events() -> dict[str, tuple[Any, ...]]:
    """``event_id`` -> (file, line, device, customer_id) of every landed event."""
    rows = query_current(
        "select event_id, _file_name, _file_line, device, customer_id from raw_events.events"
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def event_count() -> int:
    return int(query_current("select count(*) from raw_events.events")[0][0])


def rejects() -> list[tuple[str, int, str]]:
    """(file, position, reason) of every rejected record, sorted."""
    rows = query_current("select location, position, reason from raw_events.rejected_records")
    return sorted((str(r[0]), int(r[1]), str(r[2])) for r in rows)
