"""The late-and-changed-data lab: a demo shop, a warehouse, the loaders and dbt, and a yardstick.

`Lab` runs the real pieces (demo API on a free port, `ingestion.load`, `dbt` in a subprocess,
`python -m orchestration backfill`); `compare` measures the marts against `demo.truth` cell by
cell and counts duplicate keys in the raw tables and the marts.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from demo import pg_server
from tests.support.dbt import DbtProject, DbtRun
from tests.support.env import clean_env, environment
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import fresh_env, query

logger = logging.getLogger(__name__)
ORDER_COLUMNS = ("customer_id", "status", "currency", "subtotal", "discount_amount",
                 "shipping_amount", "total_amount")  # fmt: skip
CUSTOMER_COLUMNS = ("country_code", "city", "is_marketing_opt_in", "has_phone", "email_hash",
                    "is_deleted")  # fmt: skip
KEYS = {  # table -> key column, checked for duplicates
    "raw_crm.customers": "id",
    "raw_crm.deleted_customers": "id",
    "raw_shop.orders": "order_id",
    "raw_shop.order_items": "order_item_id",
    "raw_events.events": "event_id",
    "marts.dim_customers": "customer_id",
    "marts.fct_orders": "order_id",
    "marts.fct_order_items": "order_item_id",
    "staging.stg_events__events": "event_id",
}


@dataclass
class Comparison:
    """Marts against the truth: mismatched cells per mart, and duplicate keys per table."""

    mismatched: dict[str, int]
    duplicates: dict[str, int]
    examples: list[str] = field(default_factory=list)

    @property
    def cells(self) -> int:
        """Mismatched cells in all marts compared."""
        return sum(self.mismatched.values())

    @property
    def duplicate_keys(self) -> int:
        """Keys held more than once, over every table checked."""
        return sum(self.duplicates.values())

    def describe(self) -> str:
        """One line for a figure's detail."""
        parts = [f"{k}={v}" for k, v in self.mismatched.items() if v]
        parts += [f"dup {k}={v}" for k, v in self.duplicates.items() if v]
        return ", ".join(parts) or "all equal"


def utc_text(value: Any) -> str:
    """A timestamp (datetime, or ISO text with or without `Z`) as UTC `YYYY-MM-DD HH:MM:SS`."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S")


class Lab:
    """One demo shop and one warehouse (DuckDB file or PostgreSQL database)."""

    def __init__(self, kind: str, tmp: Path, server: pg_server.PostgresServer | None) -> None:
        self.kind = kind
        self.tmp = tmp
        self.demo_dir = tmp / "demo"
        self.env = {"DLT_DATA_DIR": str(tmp / "dlt"), "RUNTIME__LOG_LEVEL": "WARNING",
                    "DEMO_DIR": str(self.demo_dir), **fresh_env(kind, tmp, server)}  # fmt: skip
        self.dbt = DbtProject(tmp / "dbt")
        self.timings: list[tuple[str, float]] = []

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Time a step (kept in `timings`, logged)."""
        start = time.monotonic()
        yield
        self.timings.append((step, time.monotonic() - start))
        logger.info("%s: %s took %.1f s", self.kind, step, self.timings[-1][1])

    def ingest(self, sources: list[str] | None = None, **window: Any) -> Any:
        """`ingestion.load` through the demo API on a free port; fails the test on errors."""
        import ingestion
        from demo.server import running_server

        with (
            self.timed(f"ingest {sources or 'all'} {window or ''}"),
            running_server(self.demo_dir, port=0) as url,
            environment({**self.env, "DEMO_API_URL": url}),
        ):
            summary = ingestion.load(sources=sources, **window)
        assert summary.ok, f"ingestion failed: {summary.errors}"
        return summary

    def build(self, *select: str) -> DbtRun:
        """`dbt build` (of `select`, else everything); fails the test when a node fails."""
        args = ["build", *(["--select", *select] if select else [])]
        with environment(self.env), self.timed(" ".join(args)[:60]):
            run = self.dbt.invoke(*args)
        assert run.failures() == [], run.failures()
        return run

    def orchestrate(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        """`python -m orchestration <args>` in a subprocess, the demo API on a free port; fails
        the test unless it exits with ``expect``."""
        from demo.server import running_server

        env = clean_env("PG", "DUCKDB", "DBT_")
        env.update(self.env)
        env.update(
            DBT_PROFILES_DIR=str(self.dbt.work_dir),
            DBT_TARGET_PATH=str(self.tmp / "orchestration_target"),
            DBT_LOG_PATH=str(self.tmp / "orchestration_logs"),
            ORCHESTRATION__RETRIES="0",
        )
        with running_server(self.demo_dir, port=0) as url:
            env["DEMO_API_URL"] = url
            done = subprocess.run(
                [sys.executable, "-m", "orchestration", *args],
                cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900,
            )  # fmt: skip
        assert done.returncode == expect, (done.stdout + done.stderr)[-3000:]
        return done

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of one query on the warehouse."""
        return query(self.env, sql)

    def raw_updated_at(self, table: str, key: str, ids: list[int]) -> dict[int, str]:
        """`updated_at` of the given rows of a raw table, as UTC text."""
        if not ids:
            return {}
        rows = self.query(
            f"select {key}, updated_at from {table} where {key} in ({', '.join(map(str, ids))})"
        )
        return {int(k): utc_text(v) for k, v in rows}


def source_updated_at(demo_dir: Path, system: str, ids: list[int]) -> dict[int, str]:
    """`updated_at` the source holds for the given orders (`shop`) or customers (`crm`)."""
    import sqlite3

    db, table, key = {
        "shop": ("shop.sqlite", "orders", "order_id"),
        "crm": ("api.sqlite", "customers", "id"),
    }[system]
    conn = sqlite3.connect(demo_dir / db)
    try:
        marks = ", ".join("?" * len(ids))
        sql = f"select {key}, updated_at from {table} where {key} in ({marks})"
        return {k: utc_text(v) for k, v in conn.execute(sql, ids)}
    finally:
        conn.close()


def recovered(lab: Lab, late: dict[str, list[int]]) -> tuple[int, int]:
    """Late rows whose raw `updated_at` equals the source's, and the number of late rows."""
    found = 0
    for system, table, key, ids in (
        ("shop", "raw_shop.orders", "order_id", late["orders"]),
        ("crm", "raw_crm.customers", "id", late["customers"]),
    ):
        source = source_updated_at(lab.demo_dir, system, ids)
        landed = lab.raw_updated_at(table, key, ids)
        found += sum(1 for i in ids if landed.get(i) == source[i])
    return found, len(late["orders"]) + len(late["customers"])


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _diff(
    name: str, expected: dict[Any, tuple], actual: dict[Any, tuple], width: int, out: list[str]
) -> int:
    """Cells that differ between two keyed tables (a missing or extra row counts all cells)."""
    cells = 0
    for key in expected.keys() | actual.keys():
        want, got = expected.get(key), actual.get(key)
        if want is None or got is None:
            cells += width
        else:
            cells += sum(1 for a, b in zip(want, got, strict=True) if a != b)
        if want != got and len(out) < 10:
            out.append(f"{name}[{key}]: truth {want} vs mart {got}")
    return cells


def compare(lab: Lab, events: bool = True) -> Comparison:
    """The marts against `demo.truth`, cell by cell, and duplicate keys in raw and marts.

    `events=False` leaves out the event tables (when they were neither loaded nor built).
    """
    from demo import truth

    examples: list[str] = []
    expected_orders = {
        k: (v["customer_id"], v["status"], v["currency"],
            *(_money(v[c]) for c in ORDER_COLUMNS[3:]))
        for k, v in truth.order_rows(lab.demo_dir).items()
    }  # fmt: skip
    actual_orders = {
        row[0]: (row[1], row[2], row[3], *(_money(v) for v in row[4:]))
        for row in lab.query(f"select order_id, {', '.join(ORDER_COLUMNS)} from marts.fct_orders")
    }
    expected_customers = {
        k: tuple(v[c] for c in CUSTOMER_COLUMNS)
        for k, v in truth.customer_rows(lab.demo_dir).items()
    }
    actual_customers = {
        row[0]: (row[1], row[2], bool(row[3]), bool(row[4]), row[5], bool(row[6]))
        for row in lab.query(
            f"select customer_id, {', '.join(CUSTOMER_COLUMNS)} from marts.dim_customers"
        )
    }
    facts = truth.compute(lab.demo_dir)
    expected_revenue = {
        (r["order_date"], r["country_code"]): (r["orders"], _money(r["revenue"]))
        for r in facts["revenue_by_day_country"]
    }
    actual_revenue = {
        (str(day), country): (orders, _money(revenue))
        for day, country, orders, revenue in lab.query(
            "select order_date, country_code, orders, revenue from marts.fct_daily_revenue"
        )
    }
    expected_items = {i: () for i in truth.order_item_ids(lab.demo_dir)}
    actual_items = {r[0]: () for r in lab.query("select order_item_id from marts.fct_order_items")}
    mismatched = {
        "fct_orders": _diff("fct_orders", expected_orders, actual_orders, 7, examples),
        "dim_customers": _diff("dim_customers", expected_customers, actual_customers, 6, examples),
        "fct_daily_revenue": _diff("revenue", expected_revenue, actual_revenue, 2, examples),
        "fct_order_items": _diff("fct_order_items", expected_items, actual_items, 1, examples),
    }
    if events:
        (staged,) = lab.query("select count(*) from staging.stg_events__events")[0]
        mismatched["stg_events__events rows"] = abs(staged - facts["counts"]["events"])
    duplicates = {
        table: lab.query(
            f"select count(*) from (select {key} from {table} group by {key} "
            f"having count(*) > 1) as repeated"
        )[0][0]
        for table, key in KEYS.items()
        if events or "events" not in table
    }
    return Comparison(mismatched, duplicates, examples)


def day_of(text: str) -> date:
    """The UTC day of a source timestamp."""
    return datetime.fromisoformat(utc_text(text)).date()
