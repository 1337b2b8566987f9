"""Ground truth, computed independently from what the source systems hold.

Reads only `shop.sqlite`, `api.sqlite`, `manifest.json` and `deletions.json` (never the
generator's memory), so a test can compare the warehouse with it. The revenue rule is the one in
docs/interfaces.md.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from demo import settings
from demo.state import API_DB, DELETIONS_FILE, SHOP_DB, load_manifest

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


def _has(conn: sqlite3.Connection, table: str, column: str | None = None) -> bool:
    """Whether a store (possibly from an older demo version) has the table (and column)."""
    columns = {r[1] for r in conn.execute(f"pragma table_info({table})")}
    return bool(columns) and (column is None or column in columns)


def hard_deleted_customers(api: sqlite3.Connection) -> dict[int, dict[str, Any]]:
    """Customers the CRM hard-deleted: their last row plus `deleted_at`, by id."""
    if not _has(api, "deleted_customers"):
        return {}
    return {
        customer_id: {**json.loads(record), "deleted_at": deleted_at}
        for customer_id, deleted_at, record in api.execute(
            "select id, deleted_at, record from deleted_customers"
        )
    }


def _countries(api: sqlite3.Connection) -> dict[int, str]:
    """Current country of every customer ever created; hard-deleted ones keep their last one.

    Deleted customers stay a valid reference for their orders (their revenue counts, under
    their last known country): the rule in docs/interfaces.md.
    """
    country = {cid: row["country_code"] for cid, row in hard_deleted_customers(api).items()}
    country.update(api.execute("select id, country_code from customers"))
    return country


def _open(demo_dir: Path) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    api = sqlite3.connect(f"file:{demo_dir / API_DB}?mode=ro", uri=True)
    db = sqlite3.connect(f"file:{demo_dir / SHOP_DB}?mode=ro", uri=True)
    return api, db


def _hard_deletes(demo_dir: Path) -> dict[str, list[int]]:
    path = demo_dir / DELETIONS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def order_rows(demo_dir: str | Path) -> dict[int, dict[str, Any]]:
    """The orders the marts must hold (`fct_orders`): live, not bad; money as 2-decimal text."""
    api, db = _open(Path(demo_dir))
    try:
        bad = bad_order_ids(db, set(_countries(api)))
        rows = db.execute(
            "select order_id, customer_id, status, currency, cast(subtotal as text),"
            " cast(discount_amount as text), cast(shipping_amount as text),"
            " cast(total_amount as text) from orders where deleted_at is null"
        ).fetchall()
    finally:
        api.close()
        db.close()
    names = ("customer_id", "status", "currency", "subtotal", "discount_amount",
             "shipping_amount", "total_amount")  # fmt: skip
    return {
        row[0]: dict(zip(names, (*row[1:4], *(_cents(v) for v in row[4:])), strict=True))
        for row in rows
        if row[0] not in bad
    }


def order_item_ids(demo_dir: str | Path) -> set[int]:
    """The order lines the marts must hold (`fct_order_items`): lines of `order_rows` orders."""
    orders = order_rows(demo_dir)
    _, db = _open(Path(demo_dir))
    try:
        return {
            i
            for i, o in db.execute("select order_item_id, order_id from order_items")
            if o in orders
        }
    finally:
        db.close()


def _cents(value: str) -> str:
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def customer_rows(demo_dir: str | Path) -> dict[int, dict[str, Any]]:
    """Every customer the CRM ever served, as `dim_customers` must show them.

    Soft- and hard-deleted customers are included with `is_deleted` true (flagged, not
    dropped: their orders still reference them). `email_hash` is md5 of the trimmed,
    lower-cased e-mail.
    """
    api, _ = _open(Path(demo_dir))
    api.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in api.execute("select * from customers")]
        deleted = hard_deleted_customers(api)
    finally:
        api.close()
    out = {}
    for row in [*rows, *deleted.values()]:
        email = row["email"].strip().lower()
        out[row["id"]] = {
            "country_code": row["country_code"],
            "city": row["city"],
            "is_marketing_opt_in": bool(row["marketing_opt_in"]),
            "has_phone": row["phone"] is not None,
            "email_hash": hashlib.md5(email.encode()).hexdigest(),
            "is_deleted": row.get("deleted_at") is not None,
        }
    return out


def compute(demo_dir: str | Path) -> dict[str, Any]:
    """Ground truth of the demo in `demo_dir` (see docs/interfaces.md for the shape).

    Money values are strings with two decimals. `counts.orders_bad` counts the orders a
    warehouse must quarantine; they are included in `orders`/`orders_live` (the source holds
    them) but never in revenue.
    """
    demo_dir = Path(demo_dir)
    api, db = _open(demo_dir)
    hard = _hard_deletes(demo_dir)
    try:
        country = _countries(api)
        rates = _rate_lookup(api)
        bad = bad_order_ids(db, set(country))
        soft_deleted = (
            api.execute("select count(*) from customers where deleted_at is not null").fetchone()[0]
            if _has(api, "customers", "deleted_at")
            else 0
        )
        hard_deleted = len(hard_deleted_customers(api))
        counts = {
            "customers": api.execute("select count(*) from customers").fetchone()[0],
            "customers_deleted": soft_deleted + hard_deleted,
            "customers_hard_deleted": hard_deleted,
            "orders_hard_deleted": len(hard.get("orders", [])),
            "order_items_hard_deleted": len(hard.get("order_items", [])),
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
