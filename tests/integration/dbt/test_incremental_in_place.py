"""The project's incremental_in_place materialization, on a tiny dbt project of one model.

Each build writes the rows the test passes in ``--vars``, as a new version. Whatever the
generated sequence of builds, the table must hold every key once, at its newest version, as
dbt's delete+insert would leave it; an incremental build writes no temp table; a schema change
fails with the columns named; a view in the way and ``--full-refresh`` rebuild the table whole.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.dbt import DbtProject, DbtRun
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import query

pytestmark = pytest.mark.slow
MATERIALIZATION = REPO_ROOT / "dbt_project" / "materializations" / "incremental_in_place.sql"
PROJECT = """\
name: in_place
version: "1.0"
profile: customer_analytics
model-paths: ["models"]
macro-paths: ["macros"]
"""
MODEL = """\
{{ config(
    materialized=var('materialized', 'incremental_in_place'),
    unique_key=var('unique_key', 'id'),
    meta=var('meta', {'version_column': 'version'}),
    on_schema_change='fail'
) }}
{%- set rows = var('rows') -%}
{%- for row in rows %}
select
    cast({{ row[0] }} as integer) as id,
    cast('{{ row[1] }}' as varchar) as value,
    cast('{{ var('version') }}' as varchar) as version,
    {{ 'true' if is_incremental() else 'false' }} as built_incrementally
    {%- if var('extra_column', false) %}, 1 as extra{% endif %}
{{ 'union all' if not loop.last }}
{%- endfor %}
{%- if not rows %}
select
    cast(null as integer) as id,
    cast(null as varchar) as value,
    cast(null as varchar) as version,
    false as built_incrementally
where false
{%- endif %}
"""


class InPlace:
    """The tiny project on one warehouse: build it with given rows, read its table."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        project = folder / "project"
        (project / "models").mkdir(parents=True)
        (project / "macros").mkdir()
        (project / "dbt_project.yml").write_text(PROJECT)
        (project / "models" / "keyed.sql").write_text(MODEL)
        shutil.copyfile(MATERIALIZATION, project / "macros" / MATERIALIZATION.name)
        self.project = project
        self.dbt = DbtProject(folder / "dbt")
        self.version = 0
        # the profile's schema; DuckDB's catalog is named after the file, as the schema is
        self.relation = ("analytics." if env["WAREHOUSE"] == "duckdb" else "") + "analytics.keyed"

    def build(self, rows: list[tuple[int, str]], *args: str, **variables: Any) -> DbtRun:
        """``dbt run`` writing ``rows`` as the next version (zero-padded, so text order holds)."""
        self.version += 1
        variables = {"rows": [list(r) for r in rows], "version": f"{self.version:04d}", **variables}
        return self.dbt.invoke(
            "run", "--project-dir", str(self.project), "--vars", json.dumps(variables), *args
        )

    def table(self) -> list[tuple[Any, ...]]:
        return sorted(
            query(self.env, f"select id, value, version, built_incrementally from {self.relation}")
        )

    def log_of_last_run(self) -> str:
        return (self.dbt.work_dir / "logs" / "dbt.log").read_text(encoding="utf-8")


@pytest.fixture
def in_place(warehouse_env: dict[str, str], tmp_path: Path) -> InPlace:
    if warehouse_env["WAREHOUSE"] == "duckdb":
        Path(warehouse_env["DUCKDB_PATH"]).parent.mkdir(parents=True, exist_ok=True)
    return InPlace(warehouse_env, tmp_path)


def _ok(run: DbtRun) -> DbtRun:
    assert run.success, run.output[-3000:]
    return run


@pytest.mark.parametrize("unique_key", ["id", ["id", "value"]], ids=["key", "composite key"])
def test_generated_builds_keep_each_key_once_at_its_newest_version(
    in_place: InPlace, unique_key: str | list[str]
) -> None:
    rng = random.Random(20261204)
    key_of = (lambda row: row[:1]) if unique_key == "id" else (lambda row: row[:2])
    expected: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for build in range(8):
        ids = rng.sample(range(40), rng.choice([0, 1, 5, 17, 40]))
        rows = [(row_id, rng.choice("abc")) for row_id in ids]
        full_refresh = build > 0 and rng.random() < 0.2
        flags = ["--full-refresh"] if full_refresh else []
        _ok(in_place.build(rows, *flags, unique_key=unique_key))
        if full_refresh:
            expected = {}
        version, incremental = f"{in_place.version:04d}", build > 0 and not full_refresh
        expected.update({key_of(row): (*row, version, incremental) for row in rows})
        assert in_place.table() == sorted(expected.values()), (
            f"build {build} ({'full refresh' if full_refresh else 'incremental'}): "
            f"{len(rows)} rows written"
        )


def test_an_incremental_build_writes_no_temp_table(in_place: InPlace) -> None:
    _ok(in_place.build([(1, "a"), (2, "b")]))
    _ok(in_place.build([(2, "c"), (3, "d")]))
    log = in_place.log_of_last_run()
    last_run = log[log.rindex("Running with dbt") :]
    assert "insert into" in last_run
    assert "__dbt_tmp" not in last_run
    assert in_place.table() == [
        (1, "a", "0001", False),
        (2, "c", "0002", True),
        (3, "d", "0002", True),
    ]


def test_a_schema_change_fails_naming_the_column_until_a_full_refresh(in_place: InPlace) -> None:
    _ok(in_place.build([(1, "a")]))
    changed = in_place.build([(2, "b")], extra_column=True)
    assert not changed.success
    assert "new: extra" in changed.output and "--full-refresh" in changed.output
    assert in_place.table() == [(1, "a", "0001", False)]
    _ok(in_place.build([(2, "b")], "--full-refresh", extra_column=True))
    assert query(in_place.env, f"select id, extra from {in_place.relation}") == [(2, 1)]


def test_a_view_in_the_way_is_replaced_by_the_table(in_place: InPlace) -> None:
    _ok(in_place.build([(1, "a")], materialized="view"))
    _ok(in_place.build([(1, "b"), (2, "c")]))
    assert in_place.table() == [(1, "b", "0002", False), (2, "c", "0002", False)]


def test_a_unique_key_without_a_version_column_is_refused_by_name(in_place: InPlace) -> None:
    _ok(in_place.build([(1, "a")], meta={}))
    refused = in_place.build([(1, "b")], meta={})
    assert not refused.success
    assert "keyed" in refused.output and "meta.version_column" in refused.output
    assert in_place.table() == [(1, "a", "0001", False)]


def test_without_a_unique_key_rows_are_appended(in_place: InPlace) -> None:
    _ok(in_place.build([(1, "a")], unique_key=None))
    _ok(in_place.build([(1, "b")], unique_key=None))
    assert in_place.table() == [(1, "a", "0001", False), (1, "b", "0002", True)]


def test_rows_not_newer_than_the_kept_are_refused_and_nothing_is_kept(in_place: InPlace) -> None:
    _ok(in_place.build([(1, "a"), (2, "b")]))
    stale = in_place.build([(1, "c"), (3, "d")], version="0000")
    assert not stale.success
    assert "2 of the 2 rows written have version at most '0001'" in stale.output
    assert in_place.table() == [(1, "a", "0001", False), (2, "b", "0001", False)]
    _ok(in_place.build([(1, "c")]))
    assert in_place.table() == [(1, "c", "0003", True), (2, "b", "0001", False)]
