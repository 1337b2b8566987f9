"""A shop database that looks empty on demand, and what the warehouse made of it.

`ShopSource` changes the demo's `shop.sqlite` the way an operator's world does: rows removed
from a table (a partial restore, a wrong copy), a table emptied (a restore in progress), the
whole file swapped for an empty database of the same schema (a replica fail-over to a fresh
node) or gone (an unmounted share), and puts the pristine copy back afterwards. Copies go
through SQLite's backup API, so the demo's WAL journal never leaves a half-copied database.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import ingestion
from tests.support.demo import make_demo
from tests.support.env import environment
from tests.support.warehouse import fresh_env, query

KEYS = {"orders": "order_id", "order_items": "order_item_id", "products": "product_id"}
WATCHED = ("orders", "order_items")  # detect_hard_deletes in ingestion/sources.yml


def copy_database(source: Path, target: Path) -> None:
    """Copy a SQLite database whole (WAL content included) over ``target``."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


@dataclass
class ShopSource:
    """The demo's shop database, its pristine copy, and the faults applied to it."""

    path: Path
    pristine: Path

    @classmethod
    def of(cls, demo_dir: Path) -> ShopSource:
        """Keep a pristine copy of ``demo_dir``'s shop database beside it."""
        shop = cls(demo_dir / "shop.sqlite", demo_dir.parent / "shop.pristine.sqlite")
        copy_database(shop.path, shop.pristine)
        return shop

    def keys(self, table: str) -> list[int]:
        """The keys ``table`` holds now."""
        with sqlite3.connect(self.path) as db:
            rows = db.execute(f"select {KEYS[table]} from {table} order by 1").fetchall()
        db.close()
        return [r[0] for r in rows]

    def remove(self, shares: Mapping[str, float], seed: int) -> dict[str, list[int]]:
        """Delete ``share`` of each table's rows (at random); returns the keys removed."""
        rng = random.Random(seed)
        removed: dict[str, list[int]] = {}
        with sqlite3.connect(self.path) as db:
            for table, share in shares.items():
                every = [r[0] for r in db.execute(f"select {KEYS[table]} from {table}")]
                gone = sorted(rng.sample(every, round(share * len(every))))
                db.executemany(f"delete from {table} where {KEYS[table]} = ?", [(k,) for k in gone])
                removed[table] = gone
        db.close()
        return removed

    def swap_for_empty(self) -> dict[str, list[int]]:
        """Replace the database by an empty one with the same tables; returns every key."""
        removed = {table: self.keys(table) for table in KEYS}
        with sqlite3.connect(self.path) as db:
            ddl = [r[0] for r in db.execute("select sql from sqlite_master where type = 'table'")]
        db.close()
        fresh = self.path.with_suffix(".empty")
        fresh.unlink(missing_ok=True)
        with sqlite3.connect(fresh) as db:
            for statement in ddl:
                db.execute(statement)
        db.close()
        copy_database(fresh, self.path)
        fresh.unlink()
        return removed

    def unmount(self) -> None:
        """Take the database file away (with its journal files), as an unmounted share does."""
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def restore(self) -> None:
        """Put the pristine database back (the source is back)."""
        copy_database(self.pristine, self.path)


def flagged_deleted(env: Mapping[str, str]) -> set[tuple[str, str]]:
    """(table, key) recorded as hard-deleted in ``raw_shop.deleted_records``."""
    rows = query(
        env, "select table_name, record_key from raw_shop.deleted_records where is_deleted"
    )
    return {(str(t), str(k)) for t, k in rows}


def raw_counts(env: Mapping[str, str]) -> dict[str, int]:
    """Rows of the shop's raw tables."""
    return {t: int(query(env, f"select count(*) from raw_shop.{t}")[0][0]) for t in KEYS}


def _cents(value: Any) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def revenue(env: Mapping[str, str]) -> dict[tuple[str, str], tuple[int, str]]:
    """`fct_daily_revenue` as (day, country) -> (orders, revenue to the cent)."""
    rows = query(
        env, "select order_date, country_code, orders, revenue from marts.fct_daily_revenue"
    )
    return {(str(d), str(c)): (int(n), _cents(r)) for d, c, n, r in rows}


def truth_revenue(demo_dir: Path) -> dict[tuple[str, str], tuple[int, str]]:
    """`demo.truth`'s revenue per day and country, shaped like :func:`revenue`."""
    from demo import truth

    facts: dict[str, Any] = truth.compute(demo_dir)
    return {
        (r["order_date"], r["country_code"]): (int(r["orders"]), _cents(r["revenue"]))
        for r in facts["revenue_by_day_country"]
    }


def template(factory: pytest.TempPathFactory) -> Path:
    """A small demo shop (~200 orders, ~500 items, 2 days)."""
    return make_demo(factory.mktemp("empty_template") / "demo", days=2, scale=0.1)


@dataclass
class World:
    """A private demo shop, its warehouse, and what the generated examples found."""

    demo_dir: Path
    shop: ShopSource
    env: dict[str, str]
    sizes: dict[str, int] = field(default_factory=dict)
    tried: int = 0
    refused: int = 0
    named: int = 0
    recorded_above: int = 0  # keys recorded as deleted by a load that had to refuse
    accepted: int = 0
    recorded_exactly: int = 0  # loads under the threshold that recorded exactly the keys removed
    raw_lost: int = 0
    failed_after_back: int = 0

    def load(self, **extra: str) -> ingestion.LoadReport:
        """Load the shop (``extra``: environment variables for this load only)."""
        with environment({**self.env, **extra}):
            return ingestion.load(sources=["shop"])


def shop_world(kind: str, demo_template: Path, tmp: Path, server: Any) -> World:
    """A copy of ``demo_template`` loaded once into a fresh warehouse of ``kind``."""
    demo_dir = tmp / "demo"
    shutil.copytree(demo_template, demo_dir)
    env = {"DLT_DATA_DIR": str(tmp / "dlt"), "DEMO_DIR": str(demo_dir),
           "RUNTIME__LOG_LEVEL": "WARNING", **fresh_env(kind, tmp, server)}  # fmt: skip
    world = World(demo_dir, ShopSource.of(demo_dir), env)
    world.sizes = {table: len(world.shop.keys(table)) for table in KEYS}
    assert world.load().ok
    return world
