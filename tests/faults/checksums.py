"""Source-vs-warehouse checksums for the kill tests: counts, keys and sums of numeric columns.

The source side is read straight from the demo's systems (``api.sqlite``, ``shop.sqlite`` and the
event files, skipping the lines the manifest lists as malformed), never from the loaders. The
marts side is compared with ``demo.truth``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from demo import truth
from tests.support.warehouse import query

# raw table -> (key columns, numeric columns summed); the key counts duplicates and missing rows
RAW_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "raw_crm.customers": ("id", ("id",)),
    "raw_crm.customers__tags": ("_dlt_parent_id, _dlt_list_idx", ()),
    "raw_crm.campaigns": ("id", ("id", "budget")),
    "raw_fx.rates": ("date, currency", ("rate",)),
    "raw_shop.products": ("product_id", ("product_id", "list_price")),
    "raw_shop.orders": ("order_id", ("order_id", "subtotal", "total_amount")),
    "raw_shop.order_items": ("order_item_id", ("order_item_id", "quantity", "unit_price")),
    "raw_events.events": ("event_id", ("customer_id",)),
    "raw_events.rejected_records": ("location, position", ()),
}

# mart -> primary key
MARTS: dict[str, str] = {
    "marts.dim_customers": "customer_id",
    "marts.fct_orders": "order_id",
    "marts.fct_order_items": "order_item_id",
    "marts.fct_daily_revenue": "order_date, country_code",
    "marts.fct_sessions": "session_id",
    "staging.stg_events__events": "event_id",
}


def _num(value: Any) -> Decimal:
    """A sum as a comparable number (floats summed in another order agree to 4 decimals)."""
    return Decimal(str(value or 0)).quantize(Decimal("0.0001"))


@dataclass(frozen=True)
class TableSum:
    """Rows, distinct keys and column sums of one table."""

    rows: int
    keys: int
    sums: tuple[Decimal, ...]


def _sqlite_sums(db: sqlite3.Connection, table: str, columns: tuple[str, ...]) -> TableSum:
    selects = ", ".join(["count(*)", *[f"sum({c})" for c in columns]])
    row = db.execute(f"select {selects} from {table}").fetchone()
    return TableSum(int(row[0]), int(row[0]), tuple(_num(v) for v in row[1:]))


def _event_rows(demo_dir: Path) -> dict[str, int | None]:
    """event_id -> customer_id of every valid event in the landing files (duplicates merged)."""
    events: dict[str, int | None] = {}
    manifest = json.loads((demo_dir / "manifest.json").read_text())
    for entry in manifest["files"]:
        path = demo_dir / entry["file"]
        bad = set(entry["malformed_lines"])
        if entry["format"] == "parquet":
            rows = pq.read_table(path, columns=["event_id", "customer_id"]).to_pylist()
        elif entry["format"] == "jsonl.gz":
            lines = gzip.decompress(path.read_bytes()).decode().splitlines()
            rows = [json.loads(line) for n, line in enumerate(lines, 1) if n not in bad and line]
        else:  # csv: line 1 is the header
            lines = path.read_text().splitlines()
            kept = [lines[0]] + [line for n, line in enumerate(lines, 1) if n > 1 and n not in bad]
            rows = list(csv.DictReader(io.StringIO("\n".join(kept))))
        for row in rows:
            customer = row.get("customer_id")
            events[str(row["event_id"])] = int(customer) if customer not in (None, "") else None
    return events


def source_checksums(demo_dir: Path) -> dict[str, TableSum]:
    """What each raw table must hold, computed from the demo's source systems."""
    api = sqlite3.connect(f"file:{demo_dir / 'api.sqlite'}?mode=ro", uri=True)
    shop = sqlite3.connect(f"file:{demo_dir / 'shop.sqlite'}?mode=ro", uri=True)
    try:
        sums = {
            "raw_crm.customers": _sqlite_sums(api, "customers", ("id",)),
            "raw_crm.campaigns": _sqlite_sums(api, "campaigns", ("id", "budget")),
            "raw_fx.rates": _sqlite_sums(api, "fx_rates", ("rate",)),
            "raw_shop.products": _sqlite_sums(shop, "products", ("product_id", "list_price")),
            "raw_shop.orders": _sqlite_sums(
                shop, "orders", ("order_id", "subtotal", "total_amount")
            ),
            "raw_shop.order_items": _sqlite_sums(
                shop, "order_items", ("order_item_id", "quantity", "unit_price")
            ),
        }
        tags = sum(len(json.loads(t)) for (t,) in api.execute("select tags from customers"))
    finally:
        api.close()
        shop.close()
    sums["raw_crm.customers__tags"] = TableSum(tags, tags, ())
    events = _event_rows(demo_dir)
    customers = sum(c for c in events.values() if c is not None)
    sums["raw_events.events"] = TableSum(len(events), len(events), (_num(customers),))
    malformed = truth.compute(demo_dir)["counts"]["events_malformed"]
    sums["raw_events.rejected_records"] = TableSum(malformed, malformed, ())
    return sums


def warehouse_checksums(
    env: Mapping[str, str], tables: Iterable[str] = tuple(RAW_TABLES)
) -> dict[str, TableSum]:
    """The same figures read from the warehouse's raw tables (one query per table)."""
    sums = {}
    for table in tables:
        key, columns = RAW_TABLES[table]
        selects = ", ".join(
            ["count(*)", f"count(distinct ({key}))", *[f"sum({c})" for c in columns]]
        )
        row = query(env, f"select {selects} from {table}")[0]
        sums[table] = TableSum(int(row[0]), int(row[1]), tuple(_num(v) for v in row[2:]))
    return sums


@dataclass
class RawComparison:
    """Missing rows, duplicated rows and checksum mismatches of the raw layer."""

    missing: int
    duplicates: int
    mismatches: list[str]


def compare_raw(source: Mapping[str, TableSum], loaded: Mapping[str, TableSum]) -> RawComparison:
    """Compare warehouse figures with the source's, table by table."""
    missing = duplicates = 0
    mismatches = []
    for table, want in source.items():
        got = loaded[table]
        missing += max(0, want.keys - got.keys)
        duplicates += got.rows - got.keys
        if (got.keys, got.sums) != (want.keys, want.sums):
            mismatches.append(f"{table}: {got} != source {want}")
    return RawComparison(missing, duplicates, mismatches)


def live_bad_orders(demo_dir: Path) -> set[int]:
    """Orders dbt must refuse that are still live (they never reach fct_orders)."""
    api = sqlite3.connect(f"file:{demo_dir / 'api.sqlite'}?mode=ro", uri=True)
    shop = sqlite3.connect(f"file:{demo_dir / 'shop.sqlite'}?mode=ro", uri=True)
    try:
        customers = {row[0] for row in api.execute("select id from customers")}
        bad = truth.bad_order_ids(shop, customers)
        live = {
            row[0] for row in shop.execute("select order_id from orders where deleted_at is null")
        }
    finally:
        api.close()
        shop.close()
    return bad & live


@dataclass
class MartsComparison:
    """Duplicated keys in the marts, rows missing against the truth, and truth mismatches."""

    duplicates: int
    missing: int
    mismatches: list[str]


def compare_marts(env: Mapping[str, str], demo_dir: Path) -> MartsComparison:
    """Marts against ``demo.truth``: unique keys, row counts, revenue per day and country."""
    expected = truth.compute(demo_dir)
    counts = expected["counts"]
    duplicates = 0
    rows = {}
    for mart, key in MARTS.items():
        total, distinct = query(env, f"select count(*), count(distinct ({key})) from {mart}")[0]
        duplicates += int(total) - int(distinct)
        rows[mart] = int(distinct)
    want = {
        "marts.dim_customers": counts["customers"],
        "marts.fct_orders": counts["orders_live"] - len(live_bad_orders(demo_dir)),
        "staging.stg_events__events": counts["events"],
    }
    mismatches = [
        f"{mart}: {rows[mart]} rows, truth {n}" for mart, n in want.items() if rows[mart] != n
    ]
    missing = sum(max(0, n - rows[mart]) for mart, n in want.items())
    revenue = {
        (str(day), country): (int(orders), Decimal(str(amount)))
        for day, country, orders, amount in query(
            env, "select order_date, country_code, orders, revenue from marts.fct_daily_revenue"
        )
    }
    truth_revenue = {
        (r["order_date"], r["country_code"]): (r["orders"], Decimal(r["revenue"]))
        for r in expected["revenue_by_day_country"]
    }
    for cell in sorted(set(revenue) | set(truth_revenue)):
        if revenue.get(cell) != truth_revenue.get(cell):
            mismatches.append(
                f"revenue {cell}: {revenue.get(cell)} != truth {truth_revenue.get(cell)}"
            )
    missing += sum(
        max(0, n - revenue.get(cell, (0, 0))[0]) for cell, (n, _) in truth_revenue.items()
    )
    return MartsComparison(duplicates, missing, mismatches)
