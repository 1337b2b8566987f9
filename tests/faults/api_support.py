"""Helpers of the API-fault battery: the loaders as a process, the source's and the raw layer's
counts, and the incremental cursors dlt stored in the warehouse."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.env import clean_env
from tests.support.paths import REPO_ROOT, SOURCES_FILE
from tests.support.warehouse import dict_rows

# raw table -> its primary key (the merge key the loaders declare in ingestion/sources.yml)
KEYS = {
    "raw_crm.customers": "id",
    "raw_crm.campaigns": "id",
    "raw_fx.rates": "date, currency",
}
# (pipeline, resource, cursor field) of each incremental REST resource
CURSORS = (
    ("crm", "customers", "updated_at"),
    ("crm", "campaigns", "updated_at"),
    ("fx", "rates", "date"),
)


@dataclass(frozen=True)
class LoaderRun:
    """One `python -m ingestion` process: exit code, combined output, wall time."""

    returncode: int
    output: str
    seconds: float


def small_pages(tmp: Path, limit: int) -> Path:
    """A copy of ingestion/sources.yml asking the CRM for `limit` records a page."""
    text = SOURCES_FILE.read_text(encoding="utf-8")
    assert "limit: 1000" in text, "the CRM page size is no longer declared as `limit: 1000`"
    path = tmp / "sources.yml"
    path.write_text(text.replace("limit: 1000", f"limit: {limit}"), encoding="utf-8")
    return path


def loader_env(
    tmp: Path, demo_dir: Path, api_url: str, warehouse: dict[str, str], fast_retries: bool = True
) -> dict[str, str]:
    """Environment of a loader process: this demo, this API, this warehouse; fast retries
    unless `fast_retries` is False (then the project's own settings in .dlt/config.toml)."""
    env = clean_env("PG", "WAREHOUSE", "DUCKDB_PATH", "SOURCES__", "RUNTIME__")
    env.update(warehouse)
    env.update(
        {
            "DEMO_DIR": str(demo_dir),
            "DEMO_API_URL": api_url,
            "DLT_DATA_DIR": str(tmp / "dlt_data"),
            "INGESTION_SOURCES": str(small_pages(tmp, 3)),
            "RUNTIME__LOG_LEVEL": "WARNING",
        }
    )
    if fast_retries:
        env["RUNTIME__REQUEST_MAX_ATTEMPTS"] = "12"
        env["RUNTIME__REQUEST_BACKOFF_FACTOR"] = "0.05"
        env["RUNTIME__REQUEST_MAX_RETRY_DELAY"] = "2"
    return env


def run_loaders(
    env: dict[str, str],
    sources: tuple[str, ...] = ("crm", "fx"),
    timeout: float = 300,
    args: tuple[str, ...] = (),
) -> LoaderRun:
    """`python -m ingestion --source crm --source fx` (or other sources, more `args`) in a
    subprocess."""
    started = time.monotonic()
    selected = [arg for name in sources for arg in ("--source", name)]
    proc = subprocess.run(
        [sys.executable, "-m", "ingestion", *selected, "--quiet", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return LoaderRun(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


def fault_report(api_url: str) -> dict[str, dict[str, int]]:
    """How many of each fault the demo API injected and of each status it answered
    (`GET /faults`: `injected`, `answered`)."""
    with urllib.request.urlopen(f"{api_url}/faults", timeout=10) as response:
        report = json.load(response)
    return {"injected": report["injected"], "answered": report["answered"]}


def source_truth(demo_dir: Path) -> dict[str, Any]:
    """What the CRM and FX APIs hold: rows per table, tag rows, and the newest cursor values."""
    conn = sqlite3.connect(f"file:{demo_dir / 'api.sqlite'}?mode=ro", uri=True)
    try:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        tags = sum(len(json.loads(t)) for (t,) in conn.execute("select tags from customers"))
        return {
            "rows": {
                "raw_crm.customers": one("select count(*) from customers"),
                "raw_crm.campaigns": one("select count(*) from campaigns"),
                "raw_fx.rates": one("select count(*) from fx_rates"),
                "raw_crm.customers__tags": tags,
            },
            "cursors": {
                ("crm", "customers"): one("select max(updated_at) from customers"),
                ("crm", "campaigns"): one("select max(updated_at) from campaigns"),
                ("fx", "rates"): one("select max(date) from fx_rates"),
            },
        }
    finally:
        conn.close()


def _tables(env: dict[str, str]) -> set[str]:
    rows = dict_rows(
        env,
        "select table_schema || '.' || table_name as name from information_schema.tables "
        "where table_schema in ('raw_crm', 'raw_fx')",
    )
    return {r["name"] for r in rows}


def raw_rows(env: dict[str, str]) -> dict[str, int]:
    """Rows of each CRM/FX raw table (0 when the table does not exist)."""
    present = _tables(env)
    counts = {}
    for table in [*KEYS, "raw_crm.customers__tags"]:
        counts[table] = (
            int(dict_rows(env, f"select count(*) as n from {table}")[0]["n"])
            if table in present
            else 0
        )
    return counts


def duplicate_keys(env: dict[str, str]) -> dict[str, int]:
    """Rows beyond the first per primary key, per raw table."""
    present = _tables(env)
    out = {}
    for table, key in KEYS.items():
        if table not in present:
            out[table] = 0
            continue
        sql = (
            f"select coalesce(sum(n - 1), 0) as extra from "
            f"(select count(*) as n from {table} group by {key}) as per_key"
        )
        out[table] = int(dict_rows(env, sql)[0]["extra"])
    return out


def stored_cursors(env: dict[str, str]) -> dict[tuple[str, str], Any]:
    """The incremental cursors dlt stored in the warehouse (`_dlt_pipeline_state`), newest
    state per pipeline; a pipeline without stored state is absent."""
    from dlt.common.versioned_state import decompress_state

    present = {
        r["name"]
        for r in dict_rows(
            env,
            "select table_schema || '.' || table_name as name from information_schema.tables "
            "where table_name = '_dlt_pipeline_state'",
        )
    }
    out: dict[tuple[str, str], Any] = {}
    for pipeline, resource, field in CURSORS:
        table = f"raw_{pipeline}._dlt_pipeline_state"
        if table not in present:
            continue
        rows = dict_rows(
            env,
            f"select state from {table} where pipeline_name = '{pipeline}' "
            "order by version desc limit 1",
        )
        if not rows:
            continue
        state = decompress_state(rows[0]["state"])
        resources = state.get("sources", {}).get(pipeline, {}).get("resources", {})
        value = resources.get(resource, {}).get("incremental", {}).get(field, {})
        if "last_value" in value:
            out[(pipeline, resource)] = str(value["last_value"])
    return out


def pending_packages(tmp: Path) -> list[str]:
    """Load packages left in dlt's local working folders (extracted or normalized, not loaded)."""
    root = tmp / "dlt_data" / "pipelines"
    found = []
    for stage in ("normalize/extracted", "load/new", "load/normalized"):
        found += [str(p) for p in root.glob(f"*/*/{stage}/*") if p.is_dir()]
    return found


def source_seconds(env: dict[str, str], pipeline: str) -> float:
    """How long the last run of one source took (`ops.run_sources`, start-up excluded)."""
    rows = dict_rows(
        env,
        "select duration_s from ops.run_sources "
        f"where source_name = '{pipeline}' order by started_at desc limit 1",
    )
    return float(rows[0]["duration_s"])
