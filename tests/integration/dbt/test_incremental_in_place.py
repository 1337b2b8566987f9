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
{%- set rows = var('rows', []) -%}
{%- for row in rows %}
select
    cast({{ row[0] }} as integer) as id,
    cast('{{ row[1] }}' as varchar) as value,
    cast('{{ var('version', '') }}' as varchar) as version,
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


# a model whose whole select is given: for the edge cases of names, types and versions
FREE_MODEL = """\
{{ config(
    materialized='incremental_in_place',
    unique_key=var('unique_key', 'id'),
    meta={'version_column': var('version_column', 'version')},
    on_schema_change=var('on_schema_change', 'fail')
) }}
{{ var('select', 'select 1 as id') }}
"""

# a keyless model under an enforced contract, with a not-null constraint (as fct_sessions)
CONTRACTED_MODEL = """\
{{ config(materialized='incremental_in_place', on_schema_change='fail') }}
{{ var('select', 'select 1 as id') }}
"""
CONTRACT = """\
version: 2
models:
  - name: contracted
    config:
      contract: {enforced: true}
    columns:
      - name: id
        data_type: integer
        constraints: [{type: not_null, warn_unsupported: false}]
      - name: value
        data_type: varchar
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
        (project / "models" / "free.sql").write_text(FREE_MODEL)
        (project / "models" / "contracted.sql").write_text(CONTRACTED_MODEL)
        (project / "models" / "contracted.yml").write_text(CONTRACT)
        shutil.copyfile(MATERIALIZATION, project / "macros" / MATERIALIZATION.name)
        self.project = project
        self.dbt = DbtProject(folder / "dbt")
        self.version = 0
        # the profile's schema; DuckDB's catalog is named after the file, as the schema is
        self.schema = ("analytics." if env["WAREHOUSE"] == "duckdb" else "") + "analytics"
        self.relation = f"{self.schema}.keyed"

    def build(self, rows: list[tuple[int, str]], *args: str, **variables: Any) -> DbtRun:
        """``dbt run`` writing ``rows`` as the next version (zero-padded, so text order holds)."""
        self.version += 1
        variables = {"rows": [list(r) for r in rows], "version": f"{self.version:04d}", **variables}
        return self.dbt.invoke(
            "run",
            "--project-dir",
            str(self.project),
            "--select",
            "keyed",
            "--vars",
            json.dumps(variables),
            *args,
        )

    def build_free(self, select: str, model: str = "free", **variables: Any) -> DbtRun:
        """``dbt run`` of ``model`` (one whose select is given) selecting ``select``."""
        variables = {"select": select, **variables}
        return self.dbt.invoke(
            "run",
            "--project-dir",
            str(self.project),
            "--select",
            model,
            "--vars",
            json.dumps(variables),
        )

    def free_rows(self, columns: str, model: str = "free") -> list[tuple[Any, ...]]:
        return sorted(query(self.env, f"select {columns} from {self.schema}.{model}"))

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
    assert "2 of the 2 rows written have version null or at most 0001" in stale.output
    assert in_place.table() == [(1, "a", "0001", False), (2, "b", "0001", False)]
    _ok(in_place.build([(1, "c")]))
    assert in_place.table() == [(1, "c", "0003", True), (2, "b", "0001", False)]


def test_unit_tests_of_incremental_models_keep_dbts_rules(tmp_path: Path) -> None:
    """dbt checks these at parse time only for models calling its own is_incremental(); the
    project's override hides them, so they are checked here on the real project."""
    dbt = DbtProject(tmp_path / "dbt")
    _ok(dbt.invoke("parse"))
    manifest = json.loads((dbt.work_dir / "target" / "manifest.json").read_text())
    incremental = {
        node_id
        for node_id, node in manifest["nodes"].items()
        if any(m.endswith(".is_incremental") for m in node["depends_on"].get("macros", []))
    }
    checked, broken = 0, []
    for test in manifest["unit_tests"].values():
        if test["depends_on"]["nodes"][0] not in incremental:
            continue
        checked += 1
        override = ((test.get("overrides") or {}).get("macros") or {}).get("is_incremental")
        if not isinstance(override, bool):
            broken.append(f"{test['name']}: no boolean override for is_incremental")
        elif override and "this" not in [given["input"] for given in test["given"]]:
            broken.append(f"{test['name']}: is_incremental true without a 'this' input")
    assert checked > 0 and not broken, broken


def test_columns_that_need_quotes_are_written(in_place: InPlace) -> None:
    row = "select {id} as id, '{v}' as \"order\", '{v}' as \"my value\", '{ver}' as version"
    _ok(in_place.build_free(row.format(id=1, v="a", ver="0001")))
    _ok(in_place.build_free(row.format(id=1, v="b", ver="0002")))
    assert in_place.free_rows('id, "order", "my value", version') == [(1, "b", "b", "0002")]


def test_a_type_change_fails_under_fail_naming_the_column(in_place: InPlace) -> None:
    _ok(in_place.build_free("select 1 as id, cast('a' as varchar) as value, '0001' as version"))
    changed = in_place.build_free("select 1 as id, cast(5 as integer) as value, '0002' as version")
    assert not changed.success and "new types: value" in changed.output
    assert in_place.free_rows("id, value, version") == [(1, "a", "0001")]


def test_versions_of_any_type_and_null_kept_versions_are_replaced(in_place: InPlace) -> None:
    _ok(in_place.build_free("select 1 as id, 'a' as value, 1 as version where false"))
    _ok(in_place.build_free("select 1 as id, 'a' as value, 9 as version"))
    _ok(in_place.build_free("select 1 as id, 'b' as value, 10 as version"))
    assert in_place.free_rows("id, value, version") == [(1, "b", 10)]
    _ok(in_place.build_free("select 2 as id, 'c' as value, 11 as version", unique_key=None))
    _ok(
        in_place.build_free(
            "select 3 as id, 'a' as value, cast(null as integer) as version", unique_key=None
        )
    )
    refused = in_place.build_free("select 3 as id, 'b' as value, cast(null as integer) as version")
    assert not refused.success and "null or at most 11" in refused.output


def test_a_kept_row_without_a_version_is_replaced(in_place: InPlace) -> None:
    _ok(in_place.build_free("select 1 as id, 'a' as value, cast(null as varchar) as version"))
    _ok(in_place.build_free("select 1 as id, 'b' as value, cast('0002' as varchar) as version"))
    assert in_place.free_rows("id, value, version") == [(1, "b", "0002")]


def test_a_unique_key_of_comma_separated_columns(in_place: InPlace) -> None:
    rows = "select 1 as id, 'a' as value, '{v}' as version{more}"
    more = " union all select 1, 'b', '0001'"
    _ok(in_place.build_free(rows.format(v="0001", more=more), unique_key="id, value"))
    _ok(in_place.build_free(rows.format(v="0002", more=""), unique_key="id, value"))
    assert in_place.free_rows("id, value, version") == [(1, "a", "0002"), (1, "b", "0001")]


def test_under_ignore_a_missing_column_fails_by_name(in_place: InPlace) -> None:
    _ok(in_place.build_free("select 1 as id, 'a' as value, '0001' as version"))
    lacking = in_place.build_free(
        "select 2 as id, '0002' as version, 5 as extra", on_schema_change="ignore"
    )
    assert not lacking.success and "lacks columns" in lacking.output and "value" in lacking.output
    _ok(
        in_place.build_free(
            "select 2 as id, 'b' as value, '0002' as version, 5 as extra", on_schema_change="ignore"
        )
    )
    assert in_place.free_rows("id, value, version") == [(1, "a", "0001"), (2, "b", "0002")]


def test_an_enforced_contract_and_its_constraints_hold_on_incremental_builds(
    in_place: InPlace,
) -> None:
    row = "select cast({id} as integer) as id, cast('{v}' as varchar) as value"
    _ok(in_place.build_free(row.format(id=1, v="a"), model="contracted"))
    _ok(in_place.build_free(row.format(id=2, v="b"), model="contracted"))
    null_id = in_place.build_free(row.format(id="null", v="c"), model="contracted")
    refusal = null_id.output.lower()
    assert not null_id.success and ("not null constraint" in refusal or "not-null" in refusal)
    retyped = in_place.build_free(
        "select cast(3 as integer) as id, cast(5 as integer) as value", model="contracted"
    )
    assert not retyped.success and "enforced contract that failed" in retyped.output
    assert in_place.free_rows("id, value", model="contracted") == [(1, "a"), (2, "b")]
