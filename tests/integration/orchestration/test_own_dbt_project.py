"""A team's own dbt project over sources nobody here wrote, run by ``python -m orchestration run``.

The helpdesk API (an API key header, ``Link``-header paging, a top-level list, an epoch-seconds
cursor) and a billing SQLite database (an ISO-text cursor) are declared in a sources file of the
test's own; ``[orchestration] dbt_project_dir`` and ``dbt_select`` point the dbt step at
``tests/support/helpdesk_dbt``. The run script builds the ops models itself (that project has
none), so ``status`` works on it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from orchestration import ops_models
from tests.support import recipe_api
from tests.support.cli import Cli, cli_env
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import dict_rows

HELPDESK_PROJECT = REPO_ROOT / "tests" / "support" / "helpdesk_dbt"
INVOICES = [(1, 1, 1250, "2026-03-01T09:00:00Z"), (2, 2, 990, "2026-03-02T10:30:00Z"),
            (3, 1, 4000, "2026-03-05T23:59:59Z"), (4, 4, 15, "2026-03-09T00:00:00Z")]  # fmt: skip
SOURCES = """\
helpdesk:
  type: rest_api
  client:
    base_url: ${HELPDESK_URL}/header_key/link/list/epoch_s/
    auth: {type: api_key, name: X-API-Key, location: header}
    paginator: {type: header_link}
  resource_defaults: {write_disposition: merge, primary_key: id}
  resources:
    - name: tickets
      endpoint:
        path: tickets
        params: {since: "{incremental.start_value}", limit: 7}
        incremental: {cursor_path: updated_at, initial_value: 0}
billing:
  type: sql_database
  credentials: sqlite:///${BILLING_DB}
  tables:
    invoices: {primary_key: invoice_id, cursor: issued_at}
"""


def billing_db(path: Path) -> Path:
    """The billing database: invoices with an ISO-text ``issued_at``."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "create table invoices (invoice_id integer primary key, customer_id integer, "
            "amount_cents integer, issued_at text)"
        )
        conn.executemany("insert into invoices values (?, ?, ?, ?)", INVOICES)
    conn.close()
    return path


@pytest.fixture
def helpdesk_cli(tmp_path: Path, warehouse_env: dict[str, str]) -> Cli:
    """The CLI with the helpdesk sources and dbt project (a copy) on a fresh warehouse."""
    project = shutil.copytree(HELPDESK_PROJECT, tmp_path / "helpdesk_dbt")
    sources = tmp_path / "sources.yml"
    sources.write_text(SOURCES)
    env = cli_env(tmp_path)
    env.update(warehouse_env)
    env.update(
        {
            "INGESTION_SOURCES": str(sources),
            "BILLING_DB": str(billing_db(tmp_path / "billing.sqlite")),
            "SOURCES__HELPDESK__API_KEY": recipe_api.API_KEY,
            "ORCHESTRATION__DBT_PROJECT_DIR": str(project),
            "ORCHESTRATION__DBT_SELECT": "+customer_support",
        }
    )
    return Cli(env)


# DuckDB only: the path is the same on PostgreSQL (the project's own profile, then the ops
# package with this repo's), and each case is a whole load and build
@pytest.mark.parametrize("warehouse_env", ["duckdb"], indirect=True)
def test_the_run_script_loads_other_sources_builds_their_own_dbt_project_and_status_reads_it(
    helpdesk_cli: Cli,
) -> None:
    with recipe_api.serving() as (url, _api):
        result = helpdesk_cli("run", HELPDESK_URL=url)

    assert result.returncode == 0, result.stderr
    env = helpdesk_cli.env
    (run,) = dict_rows(env, "select * from ops.runs")
    assert (run["status"], run["models_built"], run["tests_failed"]) == ("success", 3, 0)
    marts = dict_rows(env, "select * from helpdesk.customer_support order by customer_id")
    tickets = Counter(t.customer_id for t in recipe_api.tickets())
    invoiced = Counter[int]()
    for _, customer, cents, _ in INVOICES:
        invoiced[customer] += cents
    assert [(r["customer_id"], r["tickets"], r["invoiced_cents"]) for r in marts] == [
        (customer, tickets[customer], invoiced[customer]) for customer in sorted(tickets)
    ]
    built = {r["table_name"] for r in dict_rows(env, _tables("helpdesk"))}
    assert "scratch_numbers" not in built  # outside dbt_select
    assert {r["table_name"] for r in dict_rows(env, _tables("ops"))} >= set(
        ops_models_read_by_status()
    )

    status = helpdesk_cli("status")

    assert status.returncode == 0, status.stderr
    assert run["run_id"] in status.stdout
    assert "raw_helpdesk" in status.stdout and "raw_billing" in status.stdout
    assert "not built yet" not in status.stdout


@pytest.mark.parametrize("warehouse_env", ["duckdb"], indirect=True)
def test_a_compile_error_in_the_own_project_fails_at_once_without_a_retry(
    helpdesk_cli: Cli,
) -> None:
    project = Path(helpdesk_cli.env["ORCHESTRATION__DBT_PROJECT_DIR"])
    (project / "models" / "marts" / "customer_support.sql").write_text(
        "select * from {{ ref('no_such_model') }}\n"
    )
    retries = {"ORCHESTRATION__RETRIES": "2", "ORCHESTRATION__BACKOFF_S": "60"}

    with recipe_api.serving() as (url, _api):
        started = time.monotonic()
        result = helpdesk_cli("run", HELPDESK_URL=url, **retries)
        elapsed = time.monotonic() - started

    assert result.returncode == 1, result.stderr
    assert elapsed < 60  # a retry would first wait the 60 s backoff
    (failed,) = [line for line in result.stderr.splitlines() if line.startswith("FAILED")]
    assert failed.startswith("FAILED at step dbt_build after 1 attempt(s): ")
    assert "no_such_model" in failed
    assert "not retried: a retry would fail the same way" in result.stderr
    steps = dict_rows(helpdesk_cli.env, "select step, status from ops.run_steps order by step")
    assert [(s["step"], s["status"]) for s in steps] == [
        ("dbt_build", "failed"),
        ("ingest", "success"),
    ]


def _tables(schema: str) -> str:
    return f"select table_name from information_schema.tables where table_schema = '{schema}'"


def ops_models_read_by_status() -> tuple[str, ...]:
    from orchestration.status import OPS_MODELS

    return OPS_MODELS


def _dbt(project: Path, env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), *args, "--project-dir", str(project),
         "--profiles-dir", str(project)],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


PREFIXED_SCHEMAS = """\
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ target.schema }}_{{ custom_schema_name or 'main' }}
{%- endmacro %}
"""


def test_a_project_that_adds_the_ops_package_builds_them_itself_in_schema_ops(
    tmp_path: Path,
) -> None:
    project = shutil.copytree(HELPDESK_PROJECT, tmp_path / "helpdesk_dbt")
    (project / "packages.yml").write_text(f"packages:\n  - local: {ops_models.OPS_PACKAGE}\n")
    (project / "macros").mkdir()
    (project / "macros" / "generate_schema_name.sql").write_text(PREFIXED_SCHEMAS)
    env = {**cli_env(tmp_path), "DUCKDB_PATH": str(tmp_path / "w.duckdb")}
    env.pop("DBT_TARGET_PATH")
    never_parsed = ops_models.defined_in(project)

    _dbt(project, env, "deps")  # a local package installs offline
    _dbt(project, env, "parse")

    assert not never_parsed  # the run script would build them
    assert ops_models.defined_in(project)  # the package's own schema naming: ops
    nodes = json.loads(ops_models.manifest_path(project).read_text())["nodes"]
    assert nodes["model.helpdesk.stg_billing__invoices"]["schema"] == "helpdesk_main"
    assert ops_models.defined_in(REPO_ROOT)
