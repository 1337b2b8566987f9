"""A run reports the rows each table gained, counting only the tables it wrote."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import yaml

import ingestion
from ingestion import config, pipelines, rejects, warehouse
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


def test_a_package_a_killed_run_normalized_is_counted_when_the_next_run_loads_it(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "landing"
    use_landing(tmp_path, monkeypatch, root)
    write(root / DAY / "a.jsonl", text([jsonl_line(event(n)) for n in range(5)]))
    assert ingestion.load(sources=["events"]).ok
    lines = [jsonl_line(event(n)) for n in range(5, 9)] + ["{cut"]
    write(root / DAY / "b.jsonl", text(lines))
    cfg = config.select(config.load(), ["events"])[0]
    pipeline = pipelines.make_pipeline(cfg.name, cfg.dataset, warehouse.current(warehouse.LOADER))
    pipeline.extract(config.build_source(cfg, rejects.RejectCounter()))
    pipeline.normalize()  # then killed before its load step

    finished = ingestion.load(sources=["events"])

    assert finished.ok, finished.errors
    assert finished.tables["raw_events.events"].new == 4
    assert finished.tables["raw_events.rejected_records"].new == 1


class _Api:
    """A REST API of the test's own serving ``data[name]`` at ``/<name>``."""

    def __init__(self) -> None:
        self.data: dict[str, list[dict[str, Any]]] = {}
        data = self.data

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps({"data": data.get(self.path.strip("/"), [])}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Api]:
    server = _Api()
    resources = [
        {"name": "items", "write_disposition": "merge", "primary_key": "id",
         "endpoint": {"path": "items"}},
        {"name": "lookup", "write_disposition": "replace", "endpoint": {"path": "lookup"}},
    ]  # fmt: skip
    sources = {"tix": {
        "type": "rest_api", "dataset": "raw_tix",
        "client": {"base_url": server.url, "paginator": "single_page"},
        "resource_defaults": {"endpoint": {"data_selector": "data"}},
        "resources": resources,
    }}  # fmt: skip
    path = tmp_path / "sources_api.yml"
    path.write_text(yaml.safe_dump(sources, sort_keys=False))
    monkeypatch.setenv("INGESTION_SOURCES", str(path))
    yield server
    server.server.shutdown()


def test_a_replaced_table_counts_what_it_held_before_the_load(kind: str, api: _Api) -> None:
    api.data.update(items=[{"id": n} for n in range(3)], lookup=[{"k": n} for n in range(3)])
    assert ingestion.load(sources=["tix"]).ok
    api.data.update(items=[{"id": n} for n in range(1, 5)], lookup=[{"k": n} for n in range(4)])

    second = ingestion.load(sources=["tix"])

    assert second.ok, second.errors
    counts = {t: (c.loaded, c.new, c.updated) for t, c in second.tables.items()}
    assert counts["raw_tix.items"] == (4, 2, 2)
    assert counts["raw_tix.lookup"] == (4, 1, 3)  # PostgreSQL's TRUNCATE is not MVCC-safe
