"""Late commits, updates and soft deletes on demand: rows change, none disappear."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import numpy as np

from demo import crm
from demo.changes import common
from demo.customers import Draws, change

NEXT_STATUS = {"placed": "paid", "paid": "shipped", "shipped": "delivered", "delivered": "refunded"}


def _change_customers(
    conn: sqlite3.Connection, rng: np.random.Generator, ids: list[int], stamps: list[str]
) -> None:
    """Change opt-in, phone, city or country of each customer (crm's realistic changes)."""
    draws = Draws(rng, len(ids))
    kinds = rng.choice((0, 1, 3, 4), size=len(ids)).tolist()
    sets = ", ".join(f"{c} = ?" for c in crm.CUSTOMER_COLUMNS[1:])
    conn.row_factory = sqlite3.Row
    for i, (customer_id, stamp) in enumerate(zip(ids, stamps, strict=True)):
        row = dict(conn.execute("select * from customers where id = ?", (customer_id,)).fetchone())
        changed = change(draws, i, kinds[i], row, stamp)
        values = [changed[c] for c in crm.CUSTOMER_COLUMNS[1:]]
        conn.execute(f"update customers set {sets} where id = ?", (*values, customer_id))
    conn.row_factory = None


def commit_late(demo_dir: Path, count: int, age_seconds: int, seed: int = 1) -> dict[str, list]:
    """Commit `count` order and `count` customer changes stamped `age_seconds` in the past.

    The stamp is `age_seconds` (minus up to 10 %) before the newest `updated_at` of the table,
    and after the changed row's own `updated_at`, as a transaction that commits late would
    leave it. A loader cursor re-reading less than `age_seconds` misses these rows.

    Returns:
        `{"orders": [ids], "customers": [ids]}`.
    """
    rng = common.rng(seed, 1)
    db, api = common.open_shop(demo_dir), common.open_api(demo_dir)
    try:
        newest = common.newest(db, "orders", common.SHOP_FORMAT)
        ages = [age_seconds - int(rng.integers(0, max(1, age_seconds // 10))) for _ in range(count)]
        stamps = [(newest - timedelta(seconds=a)).strftime(common.SHOP_FORMAT) for a in ages]
        oldest = min(stamps) if stamps else newest.strftime(common.SHOP_FORMAT)
        candidates = common.live_orders(
            db, "status in ('placed', 'paid', 'shipped') and updated_at < ?", (oldest,)
        )
        orders = common.pick(rng, candidates, count)
        db.execute("begin")
        for order_id, stamp in zip(orders, stamps, strict=False):
            db.execute(
                "update orders set status = case status when 'placed' then 'paid'"
                " when 'paid' then 'shipped' else 'delivered' end, updated_at = ?"
                " where order_id = ?",
                (stamp, order_id),
            )
        db.execute("commit")
        newest = common.newest(api, "customers", common.API_FORMAT)
        stamps = [(newest - timedelta(seconds=a)).strftime(common.API_FORMAT) for a in ages]
        oldest = min(stamps) if stamps else newest.strftime(common.API_FORMAT)
        candidates = common.live_customers(api, "updated_at < ?", (oldest,))
        customers = common.pick(rng, candidates, count)
        api.execute("begin")
        _change_customers(api, rng, customers, stamps[: len(customers)])
        api.execute("commit")
    finally:
        db.close()
        api.close()
    return {"orders": orders, "customers": customers}


def update(demo_dir: Path, share: float, seed: int = 1) -> dict[str, list]:
    """Change `share` of the live orders (next status, or a new discount) and of the customers.

    A discount change keeps the order consistent: `total = subtotal - discount + shipping`.

    Returns:
        `{"orders": [ids], "customers": [ids]}`.
    """
    rng = common.rng(seed, 2)
    db, api = common.open_shop(demo_dir), common.open_api(demo_dir)
    try:
        live = common.live_orders(db, "status in ('placed', 'paid', 'shipped', 'delivered')")
        orders = common.pick(rng, live, common.count(share, len(live)))
        stamps = common.after(
            common.newest(db, "orders", common.SHOP_FORMAT), rng, len(orders), common.SHOP_FORMAT
        )
        db.execute("begin")
        for i, (order_id, stamp) in enumerate(zip(orders, stamps, strict=True)):
            if i % 2 == 0:
                status = db.execute(
                    "select status from orders where order_id = ?", (order_id,)
                ).fetchone()[0]
                db.execute(
                    "update orders set status = ?, updated_at = ? where order_id = ?",
                    (NEXT_STATUS[status], stamp, order_id),
                )
            else:  # a coupon applied afterwards: 15 % off (whole units for JPY)
                db.execute(
                    "update orders set discount_amount = case currency when 'JPY'"
                    " then round(subtotal * 0.15, 0) else round(subtotal * 0.15, 2) end,"
                    " updated_at = ? where order_id = ?",
                    (stamp, order_id),
                )
                db.execute(
                    "update orders set total_amount = round("
                    "subtotal - discount_amount + shipping_amount, 2) where order_id = ?",
                    (order_id,),
                )
        db.execute("commit")
        live = common.live_customers(api)
        customers = common.pick(rng, live, common.count(share, len(live)))
        stamps = common.after(
            common.newest(api, "customers", common.API_FORMAT),
            rng,
            len(customers),
            common.API_FORMAT,
        )
        api.execute("begin")
        _change_customers(api, rng, customers, stamps)
        api.execute("commit")
    finally:
        db.close()
        api.close()
    return {"orders": orders, "customers": customers}


def soft_delete(demo_dir: Path, share: float, seed: int = 1) -> dict[str, list]:
    """Soft-delete `share` of the live orders and customers: `deleted_at` set, `updated_at` bumped.

    Returns:
        `{"orders": [ids], "customers": [ids]}`.
    """
    rng = common.rng(seed, 3)
    db, api = common.open_shop(demo_dir), common.open_api(demo_dir)
    try:
        live = common.live_orders(db)
        orders = common.pick(rng, live, common.count(share, len(live)))
        stamps = common.after(
            common.newest(db, "orders", common.SHOP_FORMAT), rng, len(orders), common.SHOP_FORMAT
        )
        db.executemany(
            "update orders set deleted_at = ?, updated_at = ? where order_id = ?",
            [(s, s, o) for o, s in zip(orders, stamps, strict=True)],
        )
        live = common.live_customers(api)
        customers = common.pick(rng, live, common.count(share, len(live)))
        stamps = common.after(
            common.newest(api, "customers", common.API_FORMAT),
            rng,
            len(customers),
            common.API_FORMAT,
        )
        api.executemany(
            "update customers set deleted_at = ?, updated_at = ? where id = ?",
            [(s, s, c) for c, s in zip(customers, stamps, strict=True)],
        )
    finally:
        db.close()
        api.close()
    return {"orders": orders, "customers": customers}
