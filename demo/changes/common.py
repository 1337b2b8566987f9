"""What every change on demand shares: its seeded dice, the stores it opens, the demo clock."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from demo import crm, shop

STREAM_CHANGES = 70
SHOP_FORMAT = "%Y-%m-%d %H:%M:%S"
API_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def rng(seed: int, salt: int) -> np.random.Generator:
    """The seeded dice of one kind of change (`salt`)."""
    return np.random.default_rng([seed, STREAM_CHANGES, salt])


def pick(rng: np.random.Generator, ids: list[int], count: int) -> list[int]:
    """`count` of `ids` drawn at random, sorted."""
    count = min(count, len(ids))
    return sorted(rng.choice(ids, size=count, replace=False).tolist()) if count else []


def count(share: float, total: int) -> int:
    """How many of `total` rows `share` is: at least one when both are positive."""
    return max(1, round(share * total)) if share > 0 and total else 0


def newest(conn: sqlite3.Connection, table: str, fmt: str) -> datetime:
    """The newest `updated_at` of `table`, parsed with `fmt`."""
    return datetime.strptime(
        conn.execute(f"select max(updated_at) from {table}").fetchone()[0], fmt
    )


def open_shop(demo_dir: Path) -> sqlite3.Connection:
    """Open `shop.sqlite` with a WAL journal."""
    conn = shop.connect(Path(demo_dir))
    conn.execute("pragma journal_mode = wal")
    return conn


def open_api(demo_dir: Path) -> sqlite3.Connection:
    """Open `api.sqlite` with a WAL journal, its CRM tables brought up to date."""
    conn = sqlite3.connect(Path(demo_dir) / "api.sqlite", isolation_level=None)
    conn.execute("pragma journal_mode = wal")
    crm.create_schema(conn)
    return conn


def live_orders(conn: sqlite3.Connection, where: str = "1 = 1", params: tuple = ()) -> list[int]:
    """Ids of the orders matching `where` that are not soft-deleted."""
    sql = f"select order_id from orders where deleted_at is null and {where} order by order_id"
    return [r[0] for r in conn.execute(sql, params)]


def live_customers(conn: sqlite3.Connection, where: str = "1 = 1", params: tuple = ()) -> list[int]:
    """Ids of the customers matching `where` that are not soft-deleted."""
    sql = f"select id from customers where deleted_at is null and {where} order by id"
    return [r[0] for r in conn.execute(sql, params)]


def after(newest: datetime, rng: np.random.Generator, count: int, fmt: str) -> list[str]:
    """Stamps within ten minutes after `newest` (the changes happen now, on the demo clock)."""
    seconds = rng.integers(1, 600, count).tolist() if count else []
    return [(newest + timedelta(seconds=s)).strftime(fmt) for s in seconds]
