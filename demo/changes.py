"""Late and changed data on demand: late commits, updates, soft and hard deletes, a rewritten file.

`advance` already brings a few of each kind a day; these functions make them happen now, at a
chosen share and age, so a test (or `python -m demo change`) can check that the warehouse
follows. Every change is stamped on the simulated clock: just after the newest `updated_at` of
its table (late commits: `age_seconds` before it). Hard deletes are logged in
`$DEMO_DIR/deletions.json` for the ground truth (the shop database itself keeps no trace).
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from demo import crm, shop
from demo.customers import Draws, change
from demo.state import DELETIONS_FILE, load_manifest, save_manifest

STREAM_CHANGES = 70
SHOP_FORMAT = "%Y-%m-%d %H:%M:%S"
API_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
NEXT_STATUS = {"placed": "paid", "paid": "shipped", "shipped": "delivered", "delivered": "refunded"}
DEVICES = ("desktop", "mobile", "tablet")


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, STREAM_CHANGES, salt])


def _pick(rng: np.random.Generator, ids: list[int], count: int) -> list[int]:
    count = min(count, len(ids))
    return sorted(rng.choice(ids, size=count, replace=False).tolist()) if count else []


def _count(share: float, total: int) -> int:
    return max(1, round(share * total)) if share > 0 and total else 0


def _newest(conn: sqlite3.Connection, table: str, fmt: str) -> datetime:
    return datetime.strptime(
        conn.execute(f"select max(updated_at) from {table}").fetchone()[0], fmt
    )


def _shop(demo_dir: Path) -> sqlite3.Connection:
    conn = shop.connect(Path(demo_dir))
    conn.execute("pragma journal_mode = wal")
    return conn


def _api(demo_dir: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(Path(demo_dir) / "api.sqlite", isolation_level=None)
    conn.execute("pragma journal_mode = wal")
    crm.create_schema(conn)
    return conn


def _live_orders(conn: sqlite3.Connection, where: str = "1 = 1", params: tuple = ()) -> list[int]:
    sql = f"select order_id from orders where deleted_at is null and {where} order by order_id"
    return [r[0] for r in conn.execute(sql, params)]


def _live_customers(
    conn: sqlite3.Connection, where: str = "1 = 1", params: tuple = ()
) -> list[int]:
    sql = f"select id from customers where deleted_at is null and {where} order by id"
    return [r[0] for r in conn.execute(sql, params)]


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
    rng = _rng(seed, 1)
    db, api = _shop(demo_dir), _api(demo_dir)
    try:
        newest = _newest(db, "orders", SHOP_FORMAT)
        ages = [age_seconds - int(rng.integers(0, max(1, age_seconds // 10))) for _ in range(count)]
        stamps = [(newest - timedelta(seconds=a)).strftime(SHOP_FORMAT) for a in ages]
        oldest = min(stamps) if stamps else newest.strftime(SHOP_FORMAT)
        candidates = _live_orders(
            db, "status in ('placed', 'paid', 'shipped') and updated_at < ?", (oldest,)
        )
        orders = _pick(rng, candidates, count)
        db.execute("begin")
        for order_id, stamp in zip(orders, stamps, strict=False):
            db.execute(
                "update orders set status = case status when 'placed' then 'paid'"
                " when 'paid' then 'shipped' else 'delivered' end, updated_at = ?"
                " where order_id = ?",
                (stamp, order_id),
            )
        db.execute("commit")
        newest = _newest(api, "customers", API_FORMAT)
        stamps = [(newest - timedelta(seconds=a)).strftime(API_FORMAT) for a in ages]
        oldest = min(stamps) if stamps else newest.strftime(API_FORMAT)
        candidates = _live_customers(api, "updated_at < ?", (oldest,))
        customers = _pick(rng, candidates, count)
        api.execute("begin")
        _change_customers(api, rng, customers, stamps[: len(customers)])
        api.execute("commit")
    finally:
        db.close()
        api.close()
    return {"orders": orders, "customers": customers}


def _after(newest: datetime, rng: np.random.Generator, count: int, fmt: str) -> list[str]:
    """Stamps within ten minutes after `newest` (the changes happen now, on the demo clock)."""
    seconds = rng.integers(1, 600, count).tolist() if count else []
    return [(newest + timedelta(seconds=s)).strftime(fmt) for s in seconds]


def update(demo_dir: Path, share: float, seed: int = 1) -> dict[str, list]:
    """Change `share` of the live orders (next status, or a new discount) and of the customers.

    A discount change keeps the order consistent: `total = subtotal - discount + shipping`.

    Returns:
        `{"orders": [ids], "customers": [ids]}`.
    """
    rng = _rng(seed, 2)
    db, api = _shop(demo_dir), _api(demo_dir)
    try:
        live = _live_orders(db, "status in ('placed', 'paid', 'shipped', 'delivered')")
        orders = _pick(rng, live, _count(share, len(live)))
        stamps = _after(_newest(db, "orders", SHOP_FORMAT), rng, len(orders), SHOP_FORMAT)
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
        live = _live_customers(api)
        customers = _pick(rng, live, _count(share, len(live)))
        stamps = _after(_newest(api, "customers", API_FORMAT), rng, len(customers), API_FORMAT)
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
    rng = _rng(seed, 3)
    db, api = _shop(demo_dir), _api(demo_dir)
    try:
        live = _live_orders(db)
        orders = _pick(rng, live, _count(share, len(live)))
        stamps = _after(_newest(db, "orders", SHOP_FORMAT), rng, len(orders), SHOP_FORMAT)
        db.executemany(
            "update orders set deleted_at = ?, updated_at = ? where order_id = ?",
            [(s, s, o) for o, s in zip(orders, stamps, strict=True)],
        )
        live = _live_customers(api)
        customers = _pick(rng, live, _count(share, len(live)))
        stamps = _after(_newest(api, "customers", API_FORMAT), rng, len(customers), API_FORMAT)
        api.executemany(
            "update customers set deleted_at = ?, updated_at = ? where id = ?",
            [(s, s, c) for c, s in zip(customers, stamps, strict=True)],
        )
    finally:
        db.close()
        api.close()
    return {"orders": orders, "customers": customers}


def load_deletions(demo_dir: Path) -> dict[str, list[int]]:
    """Hard deletes made so far: `{"orders": [...], "order_items": [...], "customers": [...]}`."""
    path = Path(demo_dir) / DELETIONS_FILE
    empty: dict[str, list[int]] = {"orders": [], "order_items": [], "customers": []}
    if not path.exists():
        return empty
    return {**empty, **json.loads(path.read_text(encoding="utf-8"))}


def _log_deletions(demo_dir: Path, deleted: dict[str, list[int]]) -> None:
    log = load_deletions(demo_dir)
    for key, ids in deleted.items():
        log[key] = sorted(set(log[key]) | set(ids))
    path = Path(demo_dir) / DELETIONS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(log) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def hard_delete(demo_dir: Path, share: float, seed: int = 1) -> dict[str, list]:
    """Hard-delete `share` of the orders (with their items) and of the customers who never ordered.

    Shop rows are simply gone. The CRM moves a deleted customer to `deleted_customers`, which
    the API serves as `GET /crm/v1/deleted_customers` (`id`, `deleted_at`), as CRMs with a
    deleted-records endpoint do.

    Returns:
        `{"orders": [ids], "order_items": [ids], "customers": [ids]}`.
    """
    rng = _rng(seed, 4)
    db, api = _shop(demo_dir), _api(demo_dir)
    try:
        every = [r[0] for r in db.execute("select order_id from orders order by order_id")]
        orders = _pick(rng, every, _count(share, len(every)))
        items: list[int] = []
        db.execute("begin")
        for order_id in orders:
            items += [
                r[0]
                for r in db.execute(
                    "select order_item_id from order_items where order_id = ?", (order_id,)
                )
            ]
            db.execute("delete from order_items where order_id = ?", (order_id,))
            db.execute("delete from orders where order_id = ?", (order_id,))
        db.execute("commit")
        # Customers who never ordered (test or spam sign-ups): a full refresh of the CRM forgets
        # hard-deleted customers (the API no longer serves them), see ingestion/README.md.
        buyers = {r[0] for r in db.execute("select distinct customer_id from orders")}
        every = [r[0] for r in api.execute("select id from customers order by id")]
        customers = _pick(rng, [c for c in every if c not in buyers], _count(share, len(every)))
        stamps = _after(_newest(api, "customers", API_FORMAT), rng, len(customers), API_FORMAT)
        api.execute("begin")
        api.row_factory = sqlite3.Row
        for customer_id, stamp in zip(customers, stamps, strict=True):
            row = dict(
                api.execute("select * from customers where id = ?", (customer_id,)).fetchone()
            )
            api.execute(
                "insert into deleted_customers (id, deleted_at, updated_at, record)"
                " values (?, ?, ?, ?)",
                (customer_id, stamp, stamp, json.dumps(row)),
            )
            api.execute("delete from customers where id = ?", (customer_id,))
        api.row_factory = None
        api.execute("commit")
    finally:
        db.close()
        api.close()
    deleted = {"orders": orders, "order_items": sorted(items), "customers": customers}
    _log_deletions(demo_dir, deleted)
    return deleted


def rewrite_event_file(demo_dir: Path, share: float, seed: int = 1) -> dict[str, Any]:
    """Rewrite the first day's main Parquet event file in place with `share` of rows changed.

    The changed rows keep their `event_id` and get another `device`; no row is added or
    removed, so the ground truth's counts stay. The manifest entry records `rewritten_rows`.

    Returns:
        `{"file": <path relative to DEMO_DIR>, "changed": {event_id: new device}}`.
    """
    demo_dir = Path(demo_dir)
    manifest = load_manifest(demo_dir)
    entry = next(
        e for e in manifest["files"] if e["format"] == "parquet" and "late" not in e["file"]
    )
    path = demo_dir / entry["file"]
    table = pq.read_table(path)
    rng = _rng(seed, 5)
    rows = _pick(rng, list(range(table.num_rows)), _count(share, table.num_rows))
    devices = table.column("device").to_pylist()
    event_ids = table.column("event_id").to_pylist()
    changed = {}
    for row in rows:
        devices[row] = next(d for d in DEVICES if d != devices[row])
        changed[event_ids[row]] = devices[row]
    index = table.schema.get_field_index("device")
    table = table.set_column(index, "device", pa.array(devices, table.schema.field(index).type))
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    entry["rewritten_rows"] = entry.get("rewritten_rows", 0) + len(changed)
    save_manifest(demo_dir, manifest)
    return {"file": entry["file"], "changed": changed}
