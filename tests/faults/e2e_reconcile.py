"""Reconcile a warehouse built by the whole job with the demo's ground truth (demo/truth.py).

Every comparison returns a count of mismatches, so the battery can record it as a figure:
revenue cells per day and country (to the cent), the order ids in `fct_orders`, customers in
`dim_customers`, events in staging, quarantined orders and loader rejections, and duplicated
keys in the marts.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.warehouse import dict_rows

# mart -> its primary key
MART_KEYS = {
    "marts.fct_orders": "order_id",
    "marts.fct_order_items": "order_item_id",
    "marts.dim_customers": "customer_id",
    "marts.fct_daily_revenue": "order_date, country_code",
    "marts.fct_sessions": "session_id",
}


@dataclass
class Reconciliation:
    """Mismatches between the warehouse and the truth; every figure must be 0."""

    revenue_cells: int = 0  # (day, country) cells whose orders or revenue differ, or are missing
    revenue_cells_total: int = 0
    orders: int = 0  # order ids in fct_orders but not in the truth, or the other way round
    customers_missing: int = 0  # CRM customers absent from dim_customers
    events: int = 0  # |events in staging - truth's distinct well-formed events|
    quarantined_orders: int = 0  # live bad orders not quarantined + good orders quarantined
    loader_rejections: int = 0  # |rejected event lines - truth's malformed lines|
    duplicated_keys: dict[str, int] = field(default_factory=dict)
    detail: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> int:
        """Everything that differs from the truth, in one number."""
        return (
            self.revenue_cells
            + self.orders
            + self.customers_missing
            + self.events
            + self.quarantined_orders
            + self.loader_rejections
        )


def _one(env: dict[str, str], sql: str) -> Any:
    return next(iter(dict_rows(env, sql)[0].values()))


def _source_ids(demo_dir: Path) -> tuple[set[int], set[int], set[int]]:
    """Live order ids, bad order ids (demo.truth's rule) and CRM customer ids."""
    from demo import truth

    api = sqlite3.connect(f"file:{demo_dir / 'api.sqlite'}?mode=ro", uri=True)
    shop = sqlite3.connect(f"file:{demo_dir / 'shop.sqlite'}?mode=ro", uri=True)
    try:
        customers = {r[0] for r in api.execute("select id from customers")}
        bad = truth.bad_order_ids(shop, customers)
        live = {r[0] for r in shop.execute("select order_id from orders where deleted_at is null")}
    finally:
        api.close()
        shop.close()
    return live, bad, customers


def reconcile(env: dict[str, str], demo_dir: Path) -> Reconciliation:
    """Compare the marts of the warehouse in `env` with `demo.truth.compute(demo_dir)`."""
    from demo import truth

    expected = truth.compute(demo_dir)
    counts = expected["counts"]
    out = Reconciliation()

    want = {
        (r["order_date"], r["country_code"]): (int(r["orders"]), Decimal(r["revenue"]))
        for r in expected["revenue_by_day_country"]
    }
    got = {
        (str(r["order_date"]), r["country_code"]): (int(r["orders"]), Decimal(str(r["revenue"])))
        for r in dict_rows(
            env, "select order_date, country_code, orders, revenue from marts.fct_daily_revenue"
        )
    }
    wrong = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
    out.revenue_cells, out.revenue_cells_total = len(wrong), len(want)
    out.detail += [f"revenue {k}: truth {want.get(k)} marts {got.get(k)}" for k in wrong[:5]]

    live, bad, customers = _source_ids(demo_dir)
    fct = {int(r["order_id"]) for r in dict_rows(env, "select order_id from marts.fct_orders")}
    out.orders = len(fct ^ (live - bad))
    if out.orders:
        out.detail.append(f"fct_orders differs on {sorted(fct ^ (live - bad))[:10]}")

    dim = {
        int(r["customer_id"]) for r in dict_rows(env, "select customer_id from marts.dim_customers")
    }
    out.customers_missing = len(customers - dim)

    staged = int(_one(env, "select count(*) as n from staging.stg_events__events"))
    out.events = abs(staged - int(counts["events"]))
    if out.events:
        out.detail.append(f"stg_events__events {staged}, truth {counts['events']}")

    quarantined = {
        int(r["record_key"])
        for r in dict_rows(
            env,
            "select distinct record_key from quarantine.quarantine_rows "
            "where layer = 'staging' and source_table = 'raw_shop.orders'",
        )
    }
    live_bad = live & bad
    out.quarantined_orders = len(live_bad ^ (quarantined & live)) + len(quarantined - bad)
    if out.quarantined_orders:
        out.detail.append(f"quarantined {sorted(quarantined)[:10]} vs live bad {sorted(live_bad)}")

    rejected = int(_one(env, "select count(*) as n from raw_events.rejected_records"))
    in_quarantine = int(
        _one(env, "select count(*) as n from quarantine.quarantine_rows where layer = 'load'")
    )
    malformed = int(counts["events_malformed"])
    out.loader_rejections = abs(rejected - malformed) + abs(in_quarantine - malformed)
    if out.loader_rejections:
        out.detail.append(f"rejected {rejected}, in quarantine {in_quarantine}, truth {malformed}")

    for mart, key in MART_KEYS.items():
        sql = (
            f"select coalesce(sum(n - 1), 0) as extra from "
            f"(select count(*) as n from {mart} group by {key}) as per_key"
        )
        out.duplicated_keys[mart] = int(_one(env, sql))
    return out
