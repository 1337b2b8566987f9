"""The loaders against the real demo shop: HTTP API, SQLite/PostgreSQL database, event files.

Counts are compared with the demo's own ground truth (``demo.truth.compute``), computed from
the source system independently of the loaders.
"""

from __future__ import annotations

import json
from pathlib import Path

import ingestion
from tests.support.demo import demo_cli, truth_counts
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import count, query_current


def _run_ok(**kwargs: object) -> ingestion.LoadReport:
    summary = ingestion.load(**kwargs)  # type: ignore[arg-type]
    assert summary.ok, summary.errors
    return summary


def test_first_load_matches_the_demo_truth(warehouse_env, demo_dir, demo_api, raw_counts):
    summary = _run_ok()

    assert raw_counts() == truth_counts(demo_dir)
    assert summary.tables["raw_shop.orders"].new == count("raw_shop.orders")
    assert summary.tables["raw_events.events"].rejected == count("raw_events.rejected_records")
    # every raw row carries the load it came from, on the Arrow paths too
    for table in ("raw_events.events", "raw_shop.orders", "raw_crm.customers", "raw_fx.rates"):
        assert count(table, "_dlt_load_id is null") == 0, table
    # events are unique on event_id; nested CRM fields follow the documented shape
    assert query_current("select count(distinct event_id) from raw_events.events")[0][0] == count(
        "raw_events.events"
    )
    assert count("raw_crm.customers__tags") > 0
    assert count("raw_crm.customers", "address__country_code is not null") > 0
    assert count("raw_fx.rates", "base = 'USD'") == count("raw_fx.rates")
    # each source reports its load ids and dlt's trace (the run script stores them)
    assert [(s.name, s.ok) for s in summary.sources] == [
        ("crm", True), ("fx", True), ("shop", True), ("events", True)
    ]  # fmt: skip
    assert all(s.trace and s.load_ids for s in summary.sources)


def test_a_rerun_adds_nothing_and_a_run_after_advance_loads_only_new_and_changed_rows(
    warehouse_env, demo_dir, demo_api, raw_counts
):
    _run_ok()
    first = raw_counts()

    noop = _run_ok()

    assert raw_counts() == first
    assert noop.tables["raw_events.events"].loaded == 0
    # the CRM and the shop re-read their overlap window (late commits); it merges, adding nothing
    assert noop.tables["raw_crm.customers"].new == 0
    assert noop.tables["raw_crm.customers"].loaded <= first["customers"]
    assert noop.tables["raw_shop.orders"].new == 0

    demo_cli(demo_dir, "advance", "--days", "1")
    summary = _run_ok()

    after = truth_counts(demo_dir)
    assert raw_counts() == after
    assert summary.tables["raw_crm.customers"].new == after["customers"] - first["customers"]
    assert summary.tables["raw_shop.orders"].new == after["orders"] - first["orders"]
    assert summary.tables["raw_shop.orders"].updated > 0  # status changes of existing orders
    # only the new files were read: earlier event files were not loaded again
    assert 0 < summary.tables["raw_events.events"].loaded < after["events"]


def test_full_refresh_rereads_everything_once_and_reload_rebuilds_the_tables(
    demo_dir, demo_api, raw_counts, tmp_path, monkeypatch
):
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    _run_ok(sources=["shop", "events"])
    expected = truth_counts(demo_dir)

    for reload in (False, True):
        summary = _run_ok(sources=["shop", "events"], full_refresh=True, reload=reload)

        assert count("raw_shop.orders") == expected["orders"]
        assert count("raw_events.events") == expected["events"]
        assert count("raw_events.rejected_records") == expected["events_malformed"]
        # everything was read again: merged into the tables (full refresh) or onto emptied
        # tables (reload)
        assert summary.tables["raw_events.events"].loaded >= expected["events"]
        assert summary.tables["raw_shop.orders"].loaded == expected["orders"]
        orders = summary.tables["raw_shop.orders"]
        assert (orders.new, orders.updated) == (
            (expected["orders"], 0) if reload else (0, expected["orders"])
        )


def test_backfill_window_loads_only_that_window_and_leaves_the_cursor(
    demo_dir, demo_api, raw_counts, tmp_path, monkeypatch
):
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    day = "2026-11-20"

    _run_ok(sources=["shop", "events"], start=day, end=day)

    window_orders = count("raw_shop.orders")
    assert window_orders > 0
    assert count("raw_shop.orders", f"updated_at < '{day}' or updated_at >= '2026-11-21'") == 0
    files = [r[0] for r in query_current("select distinct _file_name from raw_events.events")]
    assert files and all(f.startswith(f"date={day}/") for f in files)

    # the incremental cursor was not moved: a normal run still loads the whole history
    _run_ok()
    assert raw_counts() == truth_counts(demo_dir)


def test_malformed_lines_are_rejected_with_line_and_reason(
    demo_dir, demo_api, tmp_path, monkeypatch
):
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    _run_ok(sources=["events"])

    manifest = json.loads((demo_dir / "manifest.json").read_text())
    expected = {
        (entry["file"].split("landing/events/", 1)[1], line)
        for entry in manifest["files"]
        for line in entry["malformed_lines"]
    }
    rejected = query_current(
        "select location, position, reason, raw_text, source_name, resource_name, _dlt_load_id"
        " from raw_events.rejected_records"
    )
    assert expected, "the demo template must contain malformed lines"
    assert {(r[0], r[1]) for r in rejected} == expected
    assert all(r[2] and r[3] and r[4] == "events" and r[5] == "events" and r[6] for r in rejected)
    # loaded + rejected == lines the files held (duplicates across files merge on event_id)
    lines = sum(entry["rows"] for entry in manifest["files"])
    duplicates = sum(entry["duplicates"] for entry in manifest["files"])
    assert count("raw_events.events") + len(rejected) == lines - duplicates


def _events_declared_deduplicated() -> bool:
    """The hint of the newest stored dlt schema: did the last load skip dlt's ranking window?"""
    stored = query_current(
        "select schema from raw_events._dlt_version order by inserted_at desc, version desc limit 1"
    )[0][0]
    return bool(json.loads(stored)["tables"]["events"].get("x-stage-data-deduplicated"))


def test_an_event_repeated_within_a_run_loads_once_and_a_run_without_repeats_skips_the_ranking(
    warehouse_env, demo_dir
):
    # the template's second day re-sends events of the first in a late file: one run reads both
    _run_ok(sources=["events"])
    assert (
        query_current("select count(*) - count(distinct event_id) from raw_events.events")[0][0]
        == 0
    )
    assert not _events_declared_deduplicated()

    # the next day's late file re-sends events loaded by the first run (not by this one)
    demo_cli(demo_dir, "advance", "--days", "1")
    manifest = json.loads((demo_dir / "manifest.json").read_text())
    newest_day = max(entry["arrived_on"] for entry in manifest["files"])
    assert any(e["duplicates"] for e in manifest["files"] if e["arrived_on"] == newest_day)
    _run_ok(sources=["events"])

    assert _events_declared_deduplicated()
    lines = sum(entry["rows"] for entry in manifest["files"])
    duplicates = sum(entry["duplicates"] for entry in manifest["files"])
    rejected = count("raw_events.rejected_records")
    assert count("raw_events.events") + rejected == lines - duplicates
    assert (
        query_current("select count(*) - count(distinct event_id) from raw_events.events")[0][0]
        == 0
    )


def test_schema_drift_with_an_added_column_loads(
    demo_dir, demo_api, raw_counts, tmp_path, monkeypatch
):
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    _run_ok(sources=["events", "shop"])
    demo_cli(demo_dir, "advance", "--days", "1", "--drift", "added")

    _run_ok(sources=["events", "shop"])

    expected = truth_counts(demo_dir)
    assert count("raw_events.events") == expected["events"]
    assert count("raw_events.rejected_records") == expected["events_malformed"]
    assert count("raw_shop.orders") == expected["orders"]
    assert count("raw_events.events", "session_id is not null") > 0
    assert count("raw_shop.orders", "sales_channel is not null") > 0


def test_a_second_run_is_refused_while_another_holds_the_run_lock(
    warehouse_env, demo_dir, demo_api
):
    import os
    import subprocess
    import sys

    from ingestion import warehouse
    from orchestration import settings
    from orchestration.lock import run_lock

    wh = warehouse.current(warehouse.LOADER)
    with run_lock(wh, settings.lock_path(wh.duckdb_path), "holder", "run"):
        refused = subprocess.run(
            [sys.executable, "-m", "ingestion", "--source", "shop", "--source", "fx", "--quiet"],
            cwd=REPO_ROOT,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert refused.returncode == 3, refused.stderr[-2000:]
    assert "run refused: another run holds the" in refused.stderr
    loaded = "select count(*) from information_schema.tables where table_schema like 'raw_%'"
    assert query_current(loaded)[0][0] == 0  # refused as a whole: neither source loaded
    _run_ok(sources=["shop"])  # the lock is released with the first run


def test_a_source_pointed_at_a_dead_api_fails_with_one_clear_line(demo_dir, tmp_path, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    sources = (REPO_ROOT / "ingestion" / "sources.yml").read_text()
    sources = sources.replace("demo: true", "demo: false")
    (tmp_path / "sources.yml").write_text(sources)
    env = {
        **__import__("os").environ,
        "INGESTION_SOURCES": str(tmp_path / "sources.yml"),
        "DEMO_API_URL": "http://127.0.0.1:9",  # nothing listens on the discard port
        "SOURCES__CRM__TOKEN": "x",
        "RUNTIME__REQUEST_MAX_ATTEMPTS": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "ingestion", "--source", "crm", "--quiet"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert proc.returncode == 1
    failures = [line for line in proc.stderr.splitlines() if line.startswith("ingestion failed:")]
    assert len(failures) == 1
    assert "source 'crm' failed" in failures[0]


def test_a_shop_database_on_postgresql_loads_like_sqlite(
    demo_dir, pg_database, tmp_path, monkeypatch, raw_counts
):
    url = (
        f"postgresql://{pg_database['PGUSER']}@{pg_database['PGHOST']}:{pg_database['PGPORT']}"
        f"/{pg_database['PGDATABASE']}"
    )
    demo_cli(
        demo_dir, "load-postgres", "--url", url.replace("postgresql://", "postgresql+psycopg2://")
    )
    sources = (Path(ingestion.__file__).parent / "sources.yml").read_text()
    sources = sources.replace(
        "credentials: sqlite:///${DEMO_DIR:-demo_data}/shop.sqlite", f"credentials: {url}"
    )
    (tmp_path / "sources.yml").write_text(sources)
    monkeypatch.setenv("INGESTION_SOURCES", str(tmp_path / "sources.yml"))
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))

    _run_ok(sources=["shop"])

    expected = truth_counts(demo_dir)
    for table in ("products", "orders", "order_items"):
        assert count(f"raw_shop.{table}") == expected[table], table
    assert count("raw_shop.orders", "_dlt_load_id is null") == 0


def test_declared_nullable_api_fields_get_columns_even_when_every_value_is_null(
    warehouse_env, demo_dir, demo_api
):
    import sqlite3

    with sqlite3.connect(demo_dir / "api.sqlite") as api_store:
        api_store.execute("update campaigns set ended_at = null")
        api_store.execute(
            "update customers set phone = null, address_line1 = null, address_city = null,"
            " address_postal_code = null, address_country_code = null"
        )
    _run_ok(sources=["crm"])

    columns = {
        (table, column)
        for table, column in query_current(
            "select table_name, column_name from information_schema.columns"
            " where table_schema = 'raw_crm'"
        )
    }
    for table, column in [
        ("campaigns", "ended_at"),
        ("customers", "phone"),
        ("customers", "address__line1"),
        ("customers", "address__country_code"),
    ]:
        assert (table, column) in columns
        assert count(f"raw_crm.{table}", f"{column} is not null") == 0
