"""A run reports the rows each table gained, counting only the tables it wrote."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest

import ingestion
from ingestion import warehouse
from tests.faults.file_drop_support import (
    DAY,
    event,
    jsonl_line,
    text,
    use_landing,
    use_warehouse,
    write,
)


@pytest.fixture(params=["duckdb", "postgres"])
def kind(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    use_warehouse(request.param, tmp_path, monkeypatch, request)
    return str(request.param)


def _counts(report: ingestion.LoadReport, table: str) -> tuple[int, int, int]:
    counts = report.tables[f"raw_events.{table}"]
    return counts.loaded, counts.new, counts.updated


def test_new_and_updated_rows_are_counted_for_the_tables_a_run_wrote(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "landing"
    use_landing(tmp_path, monkeypatch, root)
    write(root / DAY / "a.jsonl", text([jsonl_line(event(n)) for n in range(5)]))
    first = ingestion.load(sources=["events"])

    # two events sent again (updated), three new, and the first rejected line of the dataset
    lines = [jsonl_line(event(n, device="tablet")) for n in (3, 4)]
    lines += [jsonl_line(event(n)) for n in range(5, 8)] + ["{cut"]
    write(root / DAY / "b.jsonl", text(lines))
    second = ingestion.load(sources=["events"])
    noop = ingestion.load(sources=["events"])

    assert first.ok and second.ok and noop.ok, (first.errors, second.errors, noop.errors)
    assert _counts(first, "events") == (5, 5, 0)
    assert _counts(second, "events") == (5, 3, 2)
    assert _counts(second, "rejected_records") == (1, 1, 0)  # a table this load created
    assert _counts(second, "file_registry") == (1, 1, 0)
    tables = ("events", "file_registry", "rejected_records")
    assert [_counts(noop, table) for table in tables] == [(0, 0, 0)] * 3


def test_a_run_that_writes_nothing_to_a_table_does_not_read_it(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if kind != "postgres":
        pytest.skip("a count is a scan on PostgreSQL only; DuckDB counts from its metadata")
    root = tmp_path / "landing"
    use_landing(tmp_path, monkeypatch, root)
    write(root / DAY / "a.jsonl", text([jsonl_line(event(n)) for n in range(5)]))
    assert ingestion.load(sources=["events"]).ok
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=5s")  # a read of the table would fail

    wh = warehouse.current(warehouse.LOADER)
    assert wh.pg is not None
    holder = psycopg2.connect(
        host=wh.pg["host"], port=wh.pg["port"], user=wh.pg["user"],
        password=wh.pg["password"], dbname=wh.pg["database"],
    )  # fmt: skip
    try:
        holder.cursor().execute('lock table "raw_events"."events" in access exclusive mode')
        noop = ingestion.load(sources=["events"])
    finally:
        holder.close()

    assert noop.ok, noop.errors
    assert _counts(noop, "events") == (0, 0, 0)
