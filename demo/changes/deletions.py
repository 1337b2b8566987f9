"""Hard deletes on demand, and their log `deletions.json` (the stores keep no trace of them)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from demo.changes import common
from demo.state import DELETIONS_FILE


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


def hard_delete(
    demo_dir: Path, share: float, seed: int = 1, buyers: bool = False
) -> dict[str, list]:
    """Hard-delete `share` of the orders (with their items) and of the customers who never ordered.

    Shop rows are simply gone. The CRM moves a deleted customer to `deleted_customers`, which
    the API serves as `GET /crm/v1/deleted_customers` (`id`, `deleted_at`), as CRMs with a
    deleted-records endpoint do. With `buyers`, the customers are drawn from those who ordered:
    their orders (and any later ones) then reference a customer the CRM no longer serves.

    Returns:
        `{"orders": [ids], "order_items": [ids], "customers": [ids]}`.
    """
    rng = common.rng(seed, 4)
    db, api = common.open_shop(demo_dir), common.open_api(demo_dir)
    try:
        every = [r[0] for r in db.execute("select order_id from orders order by order_id")]
        orders = common.pick(rng, every, common.count(share, len(every)))
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
        # Customers who never ordered (test or spam sign-ups), or with `buyers` those who did.
        ordered = {r[0] for r in db.execute("select distinct customer_id from orders")}
        every = [r[0] for r in api.execute("select id from customers order by id")]
        customers = common.pick(
            rng,
            [c for c in every if (c in ordered) is buyers],
            common.count(share, len(every)),
        )
        stamps = common.after(
            common.newest(api, "customers", common.API_FORMAT),
            rng,
            len(customers),
            common.API_FORMAT,
        )
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
