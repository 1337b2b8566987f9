"""On PostgreSQL the loader keeps a BRIN index on every raw table's ``_dlt_load_id``, and the
schema drift test finds the latest load through it (``latest_load``) with the same answer as
``max(_dlt_load_id)``: when the newest recorded load touched the table, when the 20 newest did
not, when rows carry a load id newer than any recorded (a package not yet completed), and when
load ids hold quotes. The index never waits on a writer nor fails a load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingestion import load_id_index, warehouse
from tests.support.dbt import DbtProject, ingest
from tests.support.env import environment
from tests.support.warehouse import fresh_env, of_env, query

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
DRIFT = ("test", "--select", "events_schema_drift")
DRIFTED_ROWS = """insert into raw_events.events (event_id, anonymous_id, event_type, url, device,
    occurred_at, properties, _file_name, _file_line, _dlt_load_id)
select event_id || '-{load}', anonymous_id, event_type, null, device, occurred_at, properties,
    _file_name, _file_line, '{load}'
from raw_events.events
order by event_id
limit 5"""
RECORDED_LOAD = """insert into raw_events._dlt_loads
select '{load}', schema_name, status, inserted_at, schema_version_hash
from raw_events._dlt_loads
limit 1"""

INDEXED_TABLES = """select tablename from pg_indexes
where schemaname = 'raw_events' and indexdef like '% USING brin (_dlt_load_id)'"""


def _drift_errors(dbt: DbtProject) -> list[str]:
    run = dbt.invoke(*DRIFT)
    return [message for message in run.failures() if "schema drift" in message]


def test_the_drift_test_finds_the_latest_load_through_the_index_like_max_would(
    tiny_demo: Path, tmp_path: Path, postgres
):
    env = fresh_env("postgres", tmp_path, postgres)
    env.update(DLT_DATA_DIR=str(tmp_path / "dlt"), DEMO_DIR=str(tmp_path / "demo"))
    shutil.copytree(tiny_demo, tmp_path / "demo")
    dbt, wh = DbtProject(tmp_path / "dbt"), of_env(env)
    with environment(env):
        ingest(tmp_path / "demo", sources=["events"])
        indexed = {row[0] for row in query(env, INDEXED_TABLES)}
        assert {"events", "file_registry", "rejected_records"} <= indexed
        assert load_id_index.ensure(wh, "raw_events") == []  # nothing left to index
        assert _drift_errors(dbt) == []

        warehouse.execute(wh, DRIFTED_ROWS.format(load="9000000000.000001"))
        warehouse.execute(wh, RECORDED_LOAD.format(load="9000000000.000001"))
        first = _drift_errors(dbt)
        assert len(first) == 1 and "url is null in all 5 rows of the latest load" in first[0]

        for number in range(1, 22):  # newer loads that touched other tables only
            warehouse.execute(wh, RECORDED_LOAD.format(load=f"9000000001.{number:06d}"))
        assert len(_drift_errors(dbt)) == 1

        warehouse.execute(wh, "delete from raw_events.events where _dlt_load_id >= '9'")
        warehouse.execute(wh, DRIFTED_ROWS.format(load="9000000002.000001"))  # not recorded
        unrecorded = _drift_errors(dbt)
        assert len(unrecorded) == 1 and "url is null in all 5 rows" in unrecorded[0]

        warehouse.execute(wh, "delete from raw_events.events where _dlt_load_id >= '9'")
        assert _drift_errors(dbt) == []

        quoted = "9400000000.1'' or url is not null or ''a''=''a"  # doubled: a SQL literal
        warehouse.execute(wh, RECORDED_LOAD.format(load="~'' union all select ''zzz'' --"))
        warehouse.execute(wh, DRIFTED_ROWS.format(load=quoted))
        injected = _drift_errors(dbt)
        assert len(injected) == 1 and "url is null in all 5 rows" in injected[0]


def test_the_index_is_skipped_never_waited_for_nor_failing_the_load(
    tiny_demo: Path, tmp_path: Path, postgres, monkeypatch, caplog
):
    env = fresh_env("postgres", tmp_path, postgres)
    env.update(DLT_DATA_DIR=str(tmp_path / "dlt"), DEMO_DIR=str(tmp_path / "demo"))
    shutil.copytree(tiny_demo, tmp_path / "demo")
    wh = of_env(env)
    monkeypatch.setattr(load_id_index, "LOCK_TIMEOUT", "200ms")
    with environment(env):
        ingest(tmp_path / "demo", sources=["events"])
        warehouse.execute(wh, "create table raw_events.held (_dlt_load_id text)")
        warehouse.execute(wh, "create table raw_events.clash (_dlt_load_id text)")
        warehouse.execute(wh, "create table raw_events.clash__load_id_brin (x int)")
        writer = warehouse.connect(wh)
        try:
            writer.cursor().execute("insert into raw_events.held values ('1')")  # open, uncommitted
            assert load_id_index.ensure(wh, "raw_events") == []
        finally:
            writer.rollback()
            writer.close()
        assert load_id_index.ensure(wh, "raw_events") == ["held"]
        assert "raw_events.clash: no load-id index yet" in caplog.text

        gone = of_env({**env, "PGDATABASE": "no_such_database"})
        assert load_id_index.ensure(gone, "raw_events") == []
        assert "raw_events: load-id indexes not checked" in caplog.text
