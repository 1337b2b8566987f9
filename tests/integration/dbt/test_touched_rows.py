"""Tests on incremental models read the rows the build touched; the whole history otherwise.

A real demo's events go through the loaders and ``dbt build`` of ``stg_events__events``; a null
``anonymous_id`` is then planted in an old row. The next day's build tests only its new rows
(the old fault is not seen, the window holds exactly the new load), while ``dbt test`` alone and
the weekly ``--vars '{full_history_tests: true}'`` build read every row and fail on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from ingestion import warehouse
from tests.support.dbt import DbtProject, DbtRun, ingest
from tests.support.env import environment
from tests.support.warehouse import fresh_env, query

pytestmark = pytest.mark.slow
WAREHOUSES = [
    pytest.param("duckdb", marks=pytest.mark.xdist_group("touched_duckdb")),
    pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.xdist_group("touched_pg")]),
]
MODEL = "stg_events__events"
NOT_NULL = "not_null_stg_events__events_anonymous_id"


@dataclass
class Runs:
    kind: str
    indexes: list[str]
    daily: DbtRun
    alone: DbtRun
    weekly: DbtRun
    window: list[tuple[object, ...]]
    newest_load_rows: int
    rows_past_window: int


@pytest.fixture(scope="module", params=WAREHOUSES)
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    from demo import generator

    kind = request.param
    tmp = tmp_path_factory.mktemp(f"touched_{kind}")
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    env = {"DLT_DATA_DIR": str(tmp / "dlt"), "RUNTIME__LOG_LEVEL": "WARNING"}
    env.update(fresh_env(kind, tmp, server), DEMO_DIR=str(tmp / "demo"))
    dbt = DbtProject(tmp / "dbt")
    with environment(env):
        generator.generate(tmp / "demo", days=2, scale=0.02, end_date=date(2026, 10, 20))
        ingest(tmp / "demo", sources=["events"])
        assert dbt.invoke("build", "--select", f"+{MODEL}").success
        with warehouse.cursor(warehouse.current()) as cur:  # an old row goes bad
            cur.execute(
                f"update staging.{MODEL} set anonymous_id = null "
                f"where event_id = (select min(event_id) from staging.{MODEL})"
            )
        generator.advance(tmp / "demo", days=1)
        ingest(tmp / "demo", sources=["events"])
        daily = dbt.invoke("build", "--select", MODEL)
        window = query(env, "select model_name, column_name, watermark from staging.build_windows")
        newest = f"(select max(_dlt_load_id) from staging.{MODEL})"
        newest_rows = query(
            env, f"select count(*) from staging.{MODEL} where _dlt_load_id = {newest}"
        )
        past = query(
            env, f"select count(*) from staging.{MODEL} where _dlt_load_id > '{window[0][2]}'"
        )
        alone = dbt.invoke("test", "--select", MODEL)
        weekly = dbt.invoke("build", "--select", MODEL, "--vars", "{full_history_tests: true}")
        indexes = []
        if kind == "postgres":
            found = query(env, f"select indexdef from pg_indexes where tablename = '{MODEL}'")
            indexes = [str(r[0]) for r in found]
    return Runs(kind, indexes, daily, alone, weekly, window, newest_rows[0][0], past[0][0])


def _failed(run: DbtRun) -> set[str]:
    return {str(r["unique_id"]).split(".")[2] for r in run.results if r["status"] == "fail"}


def test_the_daily_build_tests_only_the_rows_it_wrote(runs: Runs) -> None:
    assert runs.daily.failures() == []
    assert [(m, c) for m, c, _ in runs.window] == [(MODEL, "_dlt_load_id")]
    assert runs.rows_past_window == runs.newest_load_rows > 0


def test_dbt_test_alone_and_the_weekly_build_read_the_whole_history(runs: Runs) -> None:
    assert _failed(runs.alone) == {NOT_NULL}
    assert _failed(runs.weekly) == {NOT_NULL}


def test_postgresql_finds_the_window_through_a_load_id_index(runs: Runs) -> None:
    if runs.kind != "postgres":
        pytest.skip("DuckDB prunes by its zone maps: load_id_indexes adds no index there")
    assert any("(_dlt_load_id)" in definition for definition in runs.indexes), runs.indexes
