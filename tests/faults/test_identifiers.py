"""Identifiers from configuration: bad schema/table/column names are refused before any SQL.

Every name in `ingestion/sources.yml` that becomes a schema, table or column (and the
environment variables expanded into them) is checked by `ingestion.config.load`. A bad value is
refused with the file and the key named, and the warehouse is never touched: the DuckDB file is
not created, PostgreSQL sees no connection and no new schema.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

import ingestion
from ingestion import config
from ingestion.identifiers import RESERVED_WORDS, identifier_problem
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import connect

AREA = "identifiers"

BAD_VALUES = [
    'raw"; drop schema raw_shop cascade; --',  # quote + statement separator
    "raw_shop; select 1",
    "raw shop",  # space
    "rå_shop",  # unicode
    "a" * 64,  # over PostgreSQL's 63 bytes
    "é" * 32,  # 64 bytes in UTF-8 although 32 characters
    "select",  # reserved
    "order",
    "RawShop",  # dlt would rewrite it to raw_shop
    "1st_table",  # leading digit
    "raw-shop",
    "",
]

# (description, function placing a value at one identifier setting of the shipped sources.yml)
Setter = Any


def _set(path: list[Any]) -> Setter:
    def place(doc: dict[str, Any], value: str) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return place


def _rename_key(path: list[Any], old: str) -> Setter:
    def place(doc: dict[str, Any], value: str) -> None:
        node = doc
        for key in path:
            node = node[key]
        node[value] = node.pop(old)

    return place


SETTINGS: dict[str, Setter] = {
    "crm.dataset": _set(["crm", "dataset"]),
    "crm.resources[0].name": _set(["crm", "resources", 0, "name"]),
    "crm.resource_defaults.primary_key": _set(["crm", "resource_defaults", "primary_key"]),
    "crm.resources[0].columns": _rename_key(["crm", "resources", 0, "columns"], "phone"),
    "fx.resources[0].primary_key": _set(["fx", "resources", 0, "primary_key", 1]),
    "fx.resources[0].endpoint.copy_body_fields": _set(
        ["fx", "resources", 0, "endpoint", "copy_body_fields", 0]
    ),
    "shop.tables": _rename_key(["shop", "tables"], "orders"),
    "shop.tables.orders.primary_key": _set(["shop", "tables", "orders", "primary_key"]),
    "shop.tables.orders.cursor": _set(["shop", "tables", "orders", "cursor"]),
    "shop.tables.orders.schema": _set(["shop", "tables", "orders", "schema"]),
    "events.table": _set(["events", "table"]),
    "events.primary_key": _set(["events", "primary_key"]),
    "events.columns": _rename_key(["events", "columns"], "device"),
    "events.required": _set(["events", "required", 0]),
}


_SHIPPED: dict[str, Any] = yaml.safe_load(config.DEFAULT_SOURCES_FILE.read_text())
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _shipped() -> dict[str, Any]:
    return copy.deepcopy(_SHIPPED)


def _write(doc: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, allow_unicode=True))
    return path


# ---------------------------------------------------------------- the pure check


@pytest.mark.parametrize(
    "name",
    ["raw_crm", "order_items", "date", "customers__tags", "_file_line", "a" * 63, "x1"],
)
def test_names_already_in_dlt_form_are_accepted(name: str) -> None:
    assert identifier_problem(name) is None


@pytest.mark.parametrize("name", BAD_VALUES)
def test_unsafe_or_ambiguous_names_are_refused_with_a_reason(name: str) -> None:
    problem = identifier_problem(name)
    assert problem, name


def _module(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m <args>`` from the repository root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


def test_a_name_dlt_would_rewrite_is_refused_with_the_name_dlt_would_use() -> None:
    problem = identifier_problem("Order ID")
    assert problem is not None and "'order_id'" in problem


def test_the_reserved_words_cover_both_engines(postgres: Any) -> None:
    duck = {
        r[0]
        for r in duckdb.sql(
            "select keyword_name from duckdb_keywords() where keyword_category = 'reserved'"
        ).fetchall()
    }
    conn = connect(postgres.env("postgres"))
    try:
        with conn.cursor() as cur:
            cur.execute("select word from pg_get_keywords() where catcode = 'R'")
            pg = {r[0] for r in cur.fetchall()}
    finally:
        conn.close()
    assert duck and pg
    assert duck | pg <= RESERVED_WORDS, sorted((duck | pg) - RESERVED_WORDS)


def test_every_bad_identifier_in_any_setting_is_refused_naming_file_and_key(
    tmp_path: Path, figure: Any
) -> None:
    assert config.load(_write(_shipped(), tmp_path / "ok.yml"))  # the shipped names pass
    tried = rejected = 0
    misses: list[str] = []
    for key, place in SETTINGS.items():
        for value in BAD_VALUES:
            doc = _shipped()
            place(doc, value)
            path = _write(doc, tmp_path / "sources.yml")
            tried += 1
            try:
                config.load(path)
            except config.SourceConfigError as exc:
                message = str(exc)
                if str(path) in message and key in message and repr(value) in message:
                    rejected += 1
                    continue
                misses.append(f"{key}={value!r}: message lacks file/key/value: {message}")
            else:
                misses.append(f"{key}={value!r}: accepted")
    figure(
        AREA,
        "bad identifiers rejected / tried (sources.yml settings)",
        f"{rejected}/{tried}",
        "all",
        rejected == tried,
        detail=f"{len(SETTINGS)} settings x {len(BAD_VALUES)} values",
    )
    assert rejected == tried, misses[:5]


def test_an_environment_variable_expanded_into_a_dataset_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _shipped()
    doc["shop"]["dataset"] = "${SHOP_SCHEMA:-raw_shop}"
    path = _write(doc, tmp_path / "sources.yml")
    assert config.load(path)["shop"].dataset == "raw_shop"

    monkeypatch.setenv("SHOP_SCHEMA", "raw_shop; drop table x")
    with pytest.raises(config.SourceConfigError, match=r"shop\.dataset = 'raw_shop; drop table x'"):
        config.load(path)


# ---------------------------------------------------------------- no SQL ran


def _bad_sources(tmp_path: Path) -> Path:
    doc = _shipped()
    doc["shop"]["tables"]["orders"]["cursor"] = 'updated_at"; drop schema raw_shop cascade; --'
    doc["events"]["dataset"] = "raw events"
    return _write(doc, tmp_path / "bad_sources.yml")


def _sessions(env: dict[str, str]) -> int:
    """Sessions ever opened on the test database, read from the server's statistics (through
    the `postgres` database, so reading them opens none); they are flushed asynchronously, so
    wait until two reads a second apart agree."""
    last = -1
    for _ in range(10):
        admin = connect(env, "postgres")
        admin.autocommit = True
        try:
            with admin.cursor() as cur:
                cur.execute(
                    "select coalesce(sessions, 0) from pg_stat_database where datname = %s",
                    (env["PGDATABASE"],),
                )
                row = cur.fetchone()
        finally:
            admin.close()
        now = int(row[0]) if row else 0
        if now == last:
            return now
        last = now
        time.sleep(1)
    return last


def _schemas(env: dict[str, str]) -> set[str]:
    conn = connect(env, env["PGDATABASE"])
    try:
        with conn.cursor() as cur:
            cur.execute("select schema_name from information_schema.schemata")
            return {r[0] for r in cur.fetchall()}
    finally:
        conn.close()


def test_a_bad_identifier_stops_the_run_before_duckdb_is_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figure: Any
) -> None:
    warehouse_file = tmp_path / "wh" / "analytics.duckdb"
    monkeypatch.setenv("DUCKDB_PATH", str(warehouse_file))
    monkeypatch.setenv("INGESTION_SOURCES", str(_bad_sources(tmp_path)))

    with pytest.raises(config.SourceConfigError) as caught:
        ingestion.load()

    folder = warehouse_file.parent
    created = sorted(p.name for p in folder.glob("*")) if folder.exists() else []
    figure(
        AREA,
        "warehouse files created before rejection",
        len(created),
        "= 0",
        not created,
        warehouse="duckdb",
        detail=", ".join(created),
    )
    assert "shop.tables.orders.cursor" in str(caught.value)
    assert not created

    # the CLI says the same in one line and exits 2 (a configuration error)
    proc = _module("ingestion", "--quiet")
    assert proc.returncode == 2, proc.stderr
    assert "bad_sources.yml" in proc.stderr and "events.dataset = 'raw events'" in proc.stderr
    assert not warehouse_file.exists()

    # the run script too: refused before its lock or its ledger touch the warehouse
    proc = _module("orchestration", "run")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "events.dataset = 'raw events'" in output
    assert not warehouse_file.exists()


def test_a_bad_identifier_stops_the_run_before_postgres_sees_a_connection(
    pg_database: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figure: Any
) -> None:
    for key, value in pg_database.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WAREHOUSE", "postgres")
    monkeypatch.setenv("INGESTION_SOURCES", str(_bad_sources(tmp_path)))
    schemas_before = _schemas(pg_database)
    before = _sessions(pg_database)

    with pytest.raises(config.SourceConfigError):
        ingestion.load()

    loader_sessions = _sessions(pg_database) - before
    schemas_after = _schemas(pg_database)
    # the measure can see a session: the schema read above opened exactly one
    control = _sessions(pg_database) - before - loader_sessions
    figure(
        AREA,
        "warehouse sessions opened before rejection",
        loader_sessions,
        "= 0",
        loader_sessions == 0 and schemas_after == schemas_before and control == 1,
        warehouse="postgres",
        detail=f"new schemas: {sorted(schemas_after - schemas_before)}; control: {control}",
    )
    assert control == 1, "pg_stat_database.sessions did not count a real session"
    assert schemas_after == schemas_before
    assert loader_sessions == 0
