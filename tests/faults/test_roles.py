"""Least privilege on PostgreSQL: what each role may do, and the whole pipeline under the roles.

``python -m orchestration warehouse-roles`` (as the administrator) creates ``loader``,
``transformer`` and ``reader`` (here with non-default names, to show they are configurable). A
role x action matrix is then tried against a real, password-checking server, every action in a
transaction that is rolled back; each cell is allowed or denied as the design says. Finally the
real pipeline (loaders, then dbt) runs with the roles' credentials only, on a fresh database,
and the reader reads the marts. That run also counts the sentinel secrets it leaves behind (the
"success" scenario of the secrets area; the failures are in ``test_secrets.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.errors
import pytest

from ingestion import warehouse
from orchestration.ledger import Ledger
from tests.faults.role_world import LOADER, READER, TRANSFORMER, World, world
from tests.support.battery import full_battery

pytestmark = pytest.mark.xdist_group("least_privilege")

INSUFFICIENT_PRIVILEGE = "42501"
FAST_SELECTION = "+fct_orders +snap_customers"
ALL = {LOADER, TRANSFORMER, READER}
NOBODY: set[str] = set()
WRITERS = {LOADER, TRANSFORMER}


@dataclass(frozen=True)
class Action:
    """One thing a role may or may not do, and the roles allowed to do it."""

    name: str
    sql: str
    allowed: set[str]


ACTIONS = (
    Action("read raw", "select * from raw_crm.probe", WRITERS),
    Action("read the ledger's source traces", "select * from ops.run_sources", WRITERS),
    Action("write raw", "insert into raw_crm.probe values (2)", {LOADER}),
    Action("update raw", "update raw_crm.probe set id = 3", {LOADER}),
    Action("create table in raw", "create table raw_crm.new_table (id int)", {LOADER}),
    Action("create table in dlt staging", "create table raw_crm_staging.t (id int)", {LOADER}),
    Action("drop raw table", "drop table raw_crm.probe", {LOADER}),
    Action("read raw table created later", "select * from raw_shop.later", WRITERS),
    Action("read staging (dbt)", "select * from staging.probe", {TRANSFORMER}),
    Action("read quarantine", "select * from quarantine.probe", {TRANSFORMER}),
    Action("read marts", "select * from marts.probe", {TRANSFORMER, READER}),
    Action("read marts table created later", "select * from marts.later", {TRANSFORMER, READER}),
    Action("write marts", "insert into marts.probe values (2)", {TRANSFORMER}),
    Action("truncate marts", "truncate marts.probe", {TRANSFORMER}),
    Action("create table in marts", "create table marts.new_table (id int)", {TRANSFORMER}),
    Action("drop marts table", "drop table marts.probe", {TRANSFORMER}),
    Action("read ops ledger", "select * from ops.runs", WRITERS),
    Action(
        "write ops ledger",
        "insert into ops.runs (run_id, command, status, started_at) "
        "values ('x', 'run', 'running', now())",
        {LOADER},
    ),
    Action("create view in ops", "create view ops.new_view as select 1 as one", WRITERS),
    Action("read dbt view in ops", "select * from ops.probe_view", {TRANSFORMER}),
    Action("create temporary table", "create temporary table scratch (id int)", WRITERS),
    Action("create schema", "create schema new_schema", NOBODY),
    Action("create table in public", "create table public.new_table (id int)", NOBODY),
    Action("create role", "create role new_role", NOBODY),
    Action("drop schema raw_crm", "drop schema raw_crm cascade", {LOADER}),
    Action("drop schema marts", "drop schema marts cascade", {TRANSFORMER}),
)


def _set_up_probes(w: World, database: str) -> None:
    """A table in each kind of schema, created by its owner (committed)."""
    env = {"WAREHOUSE": "postgres", "PGHOST": w.server.host, "PGPORT": str(w.server.port)}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {**env, "PGDATABASE": database}.items():
            mp.setenv(key, value)
        mp.setenv("LOADER_PGUSER", LOADER)
        mp.setenv("LOADER_PGPASSWORD", w.secrets["loader_password"])
        Ledger(warehouse.current(warehouse.LOADER)).ensure()  # the ledger as the run writes it
    statements = {
        LOADER: (
            "create table raw_crm.probe (id int)",
            "insert into raw_crm.probe values (1)",
        ),
        TRANSFORMER: (
            "create table marts.probe (id int)",
            "insert into marts.probe values (1)",
            "create table staging.probe (id int)",
            "create table quarantine.probe (id int)",
            "create view ops.probe_view as select run_id from ops.runs",
        ),
    }
    for role, sqls in statements.items():
        _as(w, database, role, sqls)


def _password(w: World, role: str) -> str:
    key = {
        LOADER: "loader_password",
        TRANSFORMER: "transformer_password",
        READER: "reader_password",
    }
    return w.secrets[key[role]]


def _as(w: World, database: str, role: str, statements: tuple[str, ...]) -> None:
    conn = w.connect(database, role, _password(w, role))
    try:
        with conn, conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


def _try(conn: object, sql: str) -> bool:
    """True when the statement runs; False when refused for lack of privilege. Rolled back."""
    try:
        with conn.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute(sql)
        return True
    except psycopg2.Error as exc:
        if exc.pgcode != INSUFFICIENT_PRIVILEGE:
            raise AssertionError(f"{sql!r} failed for another reason: {exc}") from exc
        return False
    finally:
        conn.rollback()  # type: ignore[attr-defined]


def _can_log_in(w: World, database: str, role: str, password: str) -> bool:
    try:
        w.connect(database, role, password).close()
        return True
    except psycopg2.OperationalError as exc:
        assert "password authentication failed" in str(exc)
        return False


@pytest.fixture(scope="session")  # one world per worker, even if xdist interleaves modules
def roles_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("roles"), with_sources=True) as w:
        yield w


def test_each_role_may_do_exactly_what_its_job_needs(
    roles_world: World, figure: Callable[..., object]
) -> None:
    w = roles_world
    database = w.new_database("matrix")
    setup = w.warehouse_roles(database)
    assert setup.returncode == 0, setup.stderr
    _set_up_probes(w, database)
    # created after the grants: default privileges must cover them
    _as(w, database, LOADER, ("create table raw_shop.later (id int)",))
    _as(w, database, TRANSFORMER, ("create table marts.later (id int)",))

    cells: list[tuple[str, str, bool, bool]] = []
    for role in (LOADER, TRANSFORMER, READER):
        own = _password(w, role)
        other = _password(w, READER if role != READER else LOADER)
        cells.append((role, "log in with its password", True, _can_log_in(w, database, role, own)))
        cells.append(
            (
                role,
                "log in with another role's password",
                False,
                _can_log_in(w, database, role, other),
            )
        )
        conn = w.connect(database, role, own)
        try:
            for action in ACTIONS:
                cells.append((role, action.name, role in action.allowed, _try(conn, action.sql)))
        finally:
            conn.close()

    wrong = [
        f"{r} {a}: {'allowed' if got else 'denied'}" for r, a, want, got in cells if want != got
    ]
    as_expected = len(cells) - len(wrong)
    figure(
        "least privilege",
        "role x action cells as expected",
        f"{as_expected}/{len(cells)}",
        "all",
        not wrong,
        warehouse="postgres",
        detail="; ".join(wrong) or f"3 roles x {len(cells) // 3} actions",
    )
    assert not wrong, wrong


def test_the_pipeline_runs_under_the_roles_and_the_reader_reads_the_marts(
    roles_world: World, figure: Callable[..., object]
) -> None:
    w = roles_world
    database = w.new_database("pipeline")
    setup = w.warehouse_roles(database)
    assert setup.returncode == 0, setup.stderr
    scenario = w.tmp / "success"
    env = w.run_env(database, scenario)
    # The fast slice builds the orders chain and the snapshot (seeds, a table, an incremental
    # model and a snapshot: every kind of write dbt makes); the full battery builds everything.
    select = [] if full_battery() else ["--select", FAST_SELECTION]
    if select:  # only tests whose parents are all selected (dbt's default takes any parent)
        env["DBT_INDIRECT_SELECTION"] = "cautious"
    started = time.monotonic()
    result = w.orchestration(env, "run", *select)
    elapsed = time.monotonic() - started
    again = w.warehouse_roles(database)  # idempotent, now that every table exists

    reader = w.connect(database, READER, w.secrets["reader_password"])
    try:
        orders_read = _count(reader, "marts.fct_orders")
        reader_reads_raw = _try(reader, "select * from raw_shop.orders")
    finally:
        reader.close()
    owners = _owners(w, database)
    passed = (
        result.returncode == 0
        and again.returncode == 0
        and orders_read > 0
        and not reader_reads_raw
    )
    figure(
        "least privilege",
        "pipeline under the roles (loaders as loader, dbt as transformer), reader reads marts",
        "passes" if passed else "fails",
        "passes",
        passed,
        warehouse="postgres",
        detail=f"dbt build {'(all)' if not select else '--select ' + FAST_SELECTION}; "
        f"{elapsed:.0f} s; reader read {orders_read} fct_orders rows",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert again.returncode == 0, again.stderr
    assert orders_read > 0
    assert not reader_reads_raw
    assert owners["raw"] == {LOADER}, owners
    assert owners["dbt"] == {TRANSFORMER}, owners

    found = w.scan(
        database,
        {
            "stdout": result.stdout,
            "stderr": result.stderr,
            "warehouse-roles output": setup.stdout + setup.stderr + again.stdout + again.stderr,
        },
        [scenario],
    )
    figure(
        "secrets",
        "sentinel occurrences: successful run under the roles",
        sum(found.values()),
        "= 0",
        not found,
        warehouse="postgres",
        detail="; ".join(f"{k} x{n}" for k, n in found.items())
        or "stdout/stderr, dlt dir, dbt logs+target, alerts, warehouse tables, server log",
    )
    assert not found, found


def _count(conn: Any, table: str) -> int:
    """Rows in ``table``, or -1 when it does not exist (the run did not build it)."""
    try:
        with conn.cursor() as cur:
            cur.execute(f"select count(*) from {table}")
            return int(cur.fetchone()[0])
    except psycopg2.errors.UndefinedTable:
        conn.rollback()
        return -1


def _owners(w: World, database: str) -> dict[str, set[str]]:
    """Owners of the tables in the raw schemas and in dbt's schemas after the run."""
    conn = w.connect(database)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select case when schemaname like 'raw%%' then 'raw' else 'dbt' end, tableowner "
                "from pg_tables where schemaname in ('raw_crm', 'raw_fx', 'raw_shop', "
                "'raw_events', 'staging', 'intermediate', 'marts', 'quarantine', "
                "'reference', 'snapshots')"
            )
            owners: dict[str, set[str]] = {"raw": set(), "dbt": set()}
            for kind, owner in cur.fetchall():
                owners[kind].add(owner)
            return owners
    finally:
        conn.close()


# ---------------------------------------------------------------- the plan, without a server


def test_the_plan_takes_raw_schemas_from_the_sources_and_dbt_schemas_from_the_project(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orchestration import roles

    for name in ("LOADER_PGUSER", "DBT_PGUSER", "READER_PGUSER", "INGESTION_SOURCES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DBT_PROJECT_DIR", raising=False)
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)

    plan = roles.make_plan("analytics")

    assert (plan.loader.name, plan.transformer.name, plan.reader.name) == (
        "loader",
        "transformer",
        "reader",
    )
    raw = ("raw_crm", "raw_events", "raw_fx", "raw_shop")
    assert plan.raw_schemas == raw
    assert set(plan.loader_schemas) == {*raw, *(s + "_staging" for s in raw)}
    assert plan.ledger_schema == "ops"
    assert plan.transformer_schemas == (
        "analytics",
        "intermediate",
        "marts",
        "quarantine",
        "reference",
        "snapshots",
        "staging",
    )
    assert plan.reader_schemas == ("marts",)


def test_the_plan_refuses_unset_passwords_and_unknown_reader_schemas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orchestration import roles

    monkeypatch.setenv("LOADER_PGPASSWORD", "x" * 8)
    monkeypatch.delenv("DBT_PGPASSWORD", raising=False)
    monkeypatch.delenv("READER_PGPASSWORD", raising=False)
    with pytest.raises(roles.RolesConfigError, match="DBT_PGPASSWORD, READER_PGPASSWORD"):
        roles.passwords(roles.make_plan("analytics"))
    with pytest.raises(roles.RolesConfigError, match="raw_crm"):
        roles.make_plan("analytics", reader_schemas=["raw_crm"])
    monkeypatch.setenv("READER_PGUSER", "loader")
    with pytest.raises(roles.RolesConfigError, match="three different roles"):
        roles.make_plan("analytics")
