"""dbt on DuckDB runs in bounded memory: the profile's limits reach every model's connection, a
build that spilled to disk goes on with its next models, and dbt still opens the file beside
another connection of its process (the run script runs dbt in-process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from tests.support.dbt import write_profiles
from tests.support.env import clean_env

PROJECT = 'name: settings_probe\nversion: "1.0"\nprofile: customer_analytics\n'
# a sort of ~3M hashed rows: it spills under a 150MB limit
BIG_SORT = (
    "{{ config(materialized='table') }}\n"
    "select i, md5(cast(i as varchar)) as h from range(3000000) as t(i) order by h\n"
)
MODEL = (
    "{{ config(materialized='table') }}\n"
    "select current_setting('memory_limit') as memory_limit,\n"
    "    current_setting('threads') as threads,\n"
    "    current_setting('temp_directory') as temp_directory,\n"
    "    (select count(*) from {{ ref('big_sort') }}) as sorted_rows\n"
)
# dbt in-process while the same process holds a connection to the file, as the run script may
IN_PROCESS = """
import sys, duckdb
from dbt.cli.main import dbtRunner
held = duckdb.connect(sys.argv[1])
held.execute("create table if not exists held (i integer)")
result = dbtRunner().invoke(["run", "--profiles-dir", sys.argv[2], "--project-dir", sys.argv[2]])
held.close()
sys.exit(0 if result.success else 1)
"""


def _settings_seen_by_a_model(tmp_path: Path, **env: str) -> tuple[str, int, str]:
    """Build a big sort, then a model that stores the settings its own connection had."""
    project = tmp_path / "probe"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(PROJECT)
    (project / "models" / "big_sort.sql").write_text(BIG_SORT)
    (project / "models" / "settings.sql").write_text(MODEL)
    write_profiles(project)
    db = tmp_path / "probe.duckdb"
    run_env = clean_env("DUCKDB_", "DBT_")
    run_env.update(WAREHOUSE="duckdb", DUCKDB_PATH=str(db), **env)
    done = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, str(db), str(project)],
        cwd=project,
        env=run_env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with duckdb.connect(str(db), read_only=True) as conn:
        row = conn.execute("select * from analytics.settings").fetchone()
    assert row is not None and row[3] == 3_000_000
    return str(row[0]), int(row[1]), str(row[2])


def test_the_profile_bounds_duckdb_memory_and_spills_beside_the_database(tmp_path: Path) -> None:
    limit, threads, temp = _settings_seen_by_a_model(tmp_path)
    assert limit == "2.7 GiB"  # 3GB, as DuckDB prints it
    assert threads == 2
    assert temp == str(tmp_path / "probe.duckdb.tmp")


def test_the_limits_are_overridable_and_a_build_that_spilled_goes_on(tmp_path: Path) -> None:
    limit, threads, temp = _settings_seen_by_a_model(
        tmp_path, DUCKDB_MEMORY_LIMIT="150MB", DUCKDB_THREADS="1"
    )
    # the sort spilled; setting temp_directory on every cursor failed the next model then
    assert (limit, threads, temp) == ("143.0 MiB", 1, str(tmp_path / "probe.duckdb.tmp"))
