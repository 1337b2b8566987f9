"""Ground truth, computed independently from what the source systems hold.

Reads only `shop.sqlite`, `api.sqlite` and `manifest.json` (never the generator's memory), so a
test can compare the warehouse with it. The revenue rule is the one in docs/interfaces.md.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from demo import settings
from demo.state import API_DB, SHOP_DB, load_manifest

CENT = Decimal("0.01")


def _rate_lookup(api: sqlite3.Connection) -> dict[str, list[tuple[str, Decimal]]]:
    """Published rates per currency, ordered by date."""
    rates: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for day, currency, rate in api.execute(
        "select date, currency, rate from fx_rates order by currency, date"
    ):
        rates[currency].append((day, Decimal(repr(rate)).quantize(Decimal("0.000001"))))
    return rates


def _rate_on(history: list[tuple[str, Decimal]], day: str, cache: dict) -> Decimal | None:
    """The latest rate published on or before `day` (None when none was published yet)."""
    key = (id(history), day)
    if key not in cache:
        found = None
        for published, rate in history:  # short lists; fine for a truth oracle
            if published > day:
                break
            found = rate
        cache[key] = found
    return cache[key]


def bad_order_ids(db: sqlite3.Connection, known_customers: set[int]) -> set[int]:
    """Orders a warehouse must quarantine: unknown currency, a non-positive quantity, or no
    (known) customer."""
    currencies = tuple(settings.FX_START)
    marks = ", ".join("?" * len(currencies))
    bad = {
        r[0]
        for r in db.execute(
            f"select order_id from orders where currency not in ({marks}) or customer_id is null",
            currencies,
        )
    }
    bad |= {
        r[0] for r in db.execute("select distinct order_id from order_items where quantity <= 0")
    }
    bad |= {
        order_id
        for order_id, customer_id in db.execute(
            "select order_id, customer_id from orders where customer_id is not null"
        )
        if customer_id not in known_customers
    }
    return bad


def compute(demo_dir: str | Path) -> dict[str, Any]:
    """Ground truth of the demo in `demo_dir` (see docs/interfaces.md for the shape).

    Money values are strings with two decimals. `counts.orders_bad` counts the orders a
    warehouse must quarantine; they are included in `orders`/`orders_live` (the source holds
    them) but never in revenue.
    """
    demo_dir = Path(demo_dir)
    api = sqlite3.connect(f"file:{demo_dir / API_DB}?mode=ro", uri=True)
    db = sqlite3.connect(f"file:{demo_dir / SHOP_DB}?mode=ro", uri=True)
    try:
        country = dict(api.execute("select id, country_code from customers"))
        rates = _rate_lookup(api)
        bad = bad_order_ids(db, set(country))
        counts = {
            "customers": len(country),
            "campaigns": api.execute("select count(*) from campaigns").fetchone()[0],
            "products": db.execute("select count(*) from products").fetchone()[0],
            "orders": db.execute("select count(*) from orders").fetchone()[0],
            "orders_live": db.execute(
                "select count(*) from orders where deleted_at is null"
            ).fetchone()[0],
            "orders_bad": len(bad),
            "order_items": db.execute("select count(*) from order_items").fetchone()[0],
            "fx_rates": api.execute("select count(*) from fx_rates").fetchone()[0],
        }
        revenue: dict[tuple[str, str], list] = defaultdict(lambda: [0, Decimal(0)])
        marks = ", ".join("?" * len(settings.REVENUE_STATUSES))
        cache: dict = {}
        base_history = rates[settings.BASE_CURRENCY]
        rows = db.execute(
            f"select order_id, customer_id, currency, cast(subtotal as text),"
            f" cast(discount_amount as text), substr(created_at, 1, 10) from orders"
            f" where status in ({marks}) and deleted_at is null",
            settings.REVENUE_STATUSES,
        )
        for order_id, customer_id, currency, subtotal, discount, day in rows:
            if order_id in bad:
                continue
            rate = _rate_on(rates[currency], day, cache)
            base_rate = _rate_on(base_history, day, cache)
            if rate is None or base_rate is None:
                raise ValueError(f"no {currency} rate on or before {day} for order {order_id}")
            amount = Decimal(subtotal) - Decimal(discount)
            converted = (amount / rate * base_rate).quantize(CENT, rounding=ROUND_HALF_UP)
            cell = revenue[(day, country[customer_id])]
            cell[0] += 1
            cell[1] += converted
    finally:
        api.close()
        db.close()
    files = load_manifest(demo_dir)["files"]
    counts["events"] = sum(f["rows"] - f["malformed"] - f["duplicates"] for f in files)
    counts["events_malformed"] = sum(f["malformed"] for f in files)
    return {
        "counts": counts,
        "revenue_by_day_country": [
            {"order_date": day, "country_code": cc, "orders": n, "revenue": str(total)}
            for (day, cc), (n, total) in sorted(revenue.items())
        ],
        "base_currency": settings.BASE_CURRENCY,
    }
