"""A ``--start/--end`` backfill on every cursor kind (``window_format``) of every source type.

The same tickets (one every 7 hours from 2026-03-01, ``tests/support/recipe_api.py``) are served
by a real HTTP API, held in a real SQLite file and dropped as partitioned files, their cursor
written each way: an ISO date or time, epoch seconds or milliseconds, a strftime text. Each
backfill must land exactly the tickets of the window, whose first instant is a ticket's own.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import ingestion
from ingestion.typed_settings import SourceConfigError
from ingestion.window import render
from tests.support import recipe_api
from tests.support.warehouse import query_current

START, END = date(2026, 3, 8), date(2026, 3, 10)  # 2026-03-08 00:00 is ticket 25's instant
TEXT = "%Y-%m-%d %H:%M:%S"
Backfill = Callable[[dict[str, object]], None]
# window_format -> how the API writes the cursor (recipe_api's path segment)
API_KINDS = {"date": "iso", "datetime": "iso", "epoch_s": "epoch_s", "epoch_ms": "epoch_ms",
             TEXT: "text"}  # fmt: skip
KIND_NAMES = {"date": "date", "datetime": "datetime", "epoch_s": "epoch_s",
              "epoch_ms": "epoch_ms", TEXT: "text"}  # fmt: skip


def in_window() -> set[int]:
    """The tickets of the window, computed from the dataset alone."""
    first = datetime.combine(START, datetime.min.time(), UTC)
    after = datetime.combine(END + timedelta(days=1), datetime.min.time(), UTC)
    return {t.id for t in recipe_api.tickets() if first <= t.updated < after}


@pytest.fixture
def backfill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Backfill:
    """Write a sources file, then backfill it into a fresh DuckDB file."""
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("WAREHOUSE", "duckdb")
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))

    def run(sources: dict[str, object]) -> None:
        path = tmp_path / "sources.yml"
        path.write_text(json.dumps(sources))  # JSON is YAML
        monkeypatch.setenv("INGESTION_SOURCES", str(path))
        report = ingestion.load(start=START, end=END)
        assert report.ok, report.errors

    return run


def landed(table: str) -> set[int]:
    return {row[0] for row in query_current(f"select id from {table}")}


def test_a_rest_backfill_sends_and_keeps_the_window_in_each_cursor_format(
    backfill: Backfill,
) -> None:
    resources = []
    for window_format, api_kind in API_KINDS.items():
        endpoint: dict[str, object] = {
            "path": f"open/none/list/{api_kind}/tickets",
            "params": {"since": "{incremental.start_value}"},
            "incremental": {"cursor_path": "updated_at", "initial_value": 0},
            "window_format": window_format,
        }
        if window_format in ("epoch_ms", TEXT):  # the others are cut by the cursor alone
            endpoint["end_param"] = "until"
        resources.append({"name": f"t_{KIND_NAMES[window_format]}", "endpoint": endpoint})
    with recipe_api.serving() as (url, api):
        backfill({"helpdesk": {"type": "rest_api", "client": {"base_url": f"{url}/"},
                               "resource_defaults": {"primary_key": "id"},
                               "resources": resources}})  # fmt: skip

    for window_format, api_kind in API_KINDS.items():
        name = KIND_NAMES[window_format]
        assert landed(f"raw_helpdesk.t_{name}") == in_window(), name
        sent = {q.get("since") for p, q in api.requests if f"/{api_kind}/" in p}
        first = datetime.combine(START, datetime.min.time(), UTC)
        assert str(render(first, window_format)) in sent, name


def test_a_database_backfill_reads_the_window_of_text_and_number_cursors(
    backfill: Backfill, tmp_path: Path
) -> None:
    database = tmp_path / "helpdesk.sqlite"
    with sqlite3.connect(database) as conn:
        for window_format, name in KIND_NAMES.items():
            column = "integer" if window_format.startswith("epoch") else "text"
            conn.execute(f"create table t_{name} (id integer primary key, updated_at {column})")
            conn.executemany(
                f"insert into t_{name} values (?, ?)",
                [(t.id, render(t.updated, window_format)) for t in recipe_api.tickets()],
            )
    conn.close()
    tables = {
        f"t_{name}": {"primary_key": "id", "cursor": "updated_at", "window_format": kind}
        for kind, name in KIND_NAMES.items()
    }

    backfill({"billing": {"type": "sql_database", "credentials": f"sqlite:///{database}",
                          "tables": tables}})  # fmt: skip

    for name in KIND_NAMES.values():
        assert landed(f"raw_billing.t_{name}") == in_window(), name


# window_format -> (partition_pattern, folder of a ticket's file)
PARTITIONS = {
    "date": (r"date=(\d{4}-\d{2}-\d{2})/", "date={}"),
    "datetime": (r"at=([0-9TZ:-]+)/", "at={}"),
    "epoch_s": (r"ts=(\d+)/", "ts={}"),
    "epoch_ms": (r"ms=(\d+)/", "ms={}"),
    "%Y/%m/%d": (r"(\d{4}/\d{2}/\d{2})/", "{}"),
}


def test_a_file_backfill_reads_the_partitions_of_the_window_in_each_format(
    backfill: Backfill, tmp_path: Path
) -> None:
    sources: dict[str, object] = {}
    for index, (window_format, (pattern, folder)) in enumerate(PARTITIONS.items()):
        zone = tmp_path / f"drop{index}"
        for ticket in recipe_api.tickets():
            part = (
                zone / folder.format(render(ticket.updated, window_format)) / f"{ticket.id}.jsonl"
            )
            part.parent.mkdir(parents=True, exist_ok=True)
            part.write_text(json.dumps(ticket.as_json("iso")) + "\n")
        sources[f"drop{index}"] = {
            "type": "filesystem", "bucket_url": str(zone), "table": "tickets", "primary_key": "id",
            "columns": {"id": "int64", "subject": "string", "updated_at": "string"},
            "globs": ["**/*.jsonl"], "partition_pattern": pattern, "window_format": window_format,
        }  # fmt: skip

    backfill(sources)

    for index, window_format in enumerate(PARTITIONS):
        assert landed(f"raw_drop{index}.tickets") == in_window(), window_format


def test_an_unknown_window_format_is_refused_naming_the_key(backfill: Backfill) -> None:
    with pytest.raises(SourceConfigError, match=r"tables\.t\.window_format"):
        tables = {"t": {"cursor": "c", "window_format": "unix"}}
        backfill({"b": {"type": "sql_database", "credentials": "sqlite:///x", "tables": tables}})
