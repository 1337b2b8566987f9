"""The shop application database: products, orders (with a status lifecycle) and order items."""

from __future__ import annotations

import csv
import io
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from demo import settings
from demo.state import SHOP_DB
from demo.timeutil import day_seconds, db_timestamps, epoch_seconds

log = logging.getLogger(__name__)

STREAM_PRODUCTS, STREAM_ORDERS = 20, 21
SLICE_ROWS = 100_000  # rows turned into Python objects at a time

# `{id}` is `integer` on SQLite (a rowid alias: fast inserts) and `bigint` on PostgreSQL.
TABLES = {
    "products": """
        create table products (
            product_id {id} primary key,
            sku varchar(32) not null,
            name varchar(200) not null,
            category varchar(50) not null,
            list_price numeric(12, 2) not null,
            currency char(3) not null,
            is_active boolean not null,
            created_at timestamp not null,
            updated_at timestamp not null
        )""",
    "orders": """
        create table orders (
            order_id {id} primary key,
            customer_id bigint,
            status varchar(16) not null,
            currency char(3) not null,
            subtotal numeric(12, 2) not null,
            discount_amount numeric(12, 2) not null,
            shipping_amount numeric(12, 2) not null,
            total_amount numeric(12, 2) not null,
            created_at timestamp not null,
            updated_at timestamp not null,
            deleted_at timestamp
        )""",
    "order_items": """
        create table order_items (
            order_item_id {id} primary key,
            order_id bigint not null,
            product_id bigint not null,
            quantity integer not null,
            unit_price numeric(12, 2) not null,
            created_at timestamp not null,
            updated_at timestamp not null
        )""",
}
INDEXES = (
    "create index if not exists products_updated_at on products (updated_at)",
    "create index if not exists orders_updated_at on orders (updated_at)",
    "create index if not exists order_items_updated_at on order_items (updated_at)",
)
ORDER_COLUMNS = (
    "order_id", "customer_id", "status", "currency", "subtotal", "discount_amount",
    "shipping_amount", "total_amount", "created_at", "updated_at", "deleted_at",
)  # fmt: skip
ORDER_ITEM_COLUMNS = (
    "order_item_id", "order_id", "product_id", "quantity", "unit_price", "created_at", "updated_at",
)  # fmt: skip
CURRENCIES = tuple(settings.FX_START)
COUNTRY_CURRENCY = np.array(
    [CURRENCIES.index(c[1]) for c in settings.COUNTRIES.values()], dtype=np.int8
)


def connect(demo_dir: Path) -> sqlite3.Connection:
    """Open `shop.sqlite` (created on first use); the caller picks the journal mode."""
    conn = sqlite3.connect(demo_dir / SHOP_DB, isolation_level=None, check_same_thread=False)
    conn.execute("pragma synchronous = normal")
    conn.execute("pragma cache_size = -262144")  # 256 MB: bulk inserts into indexed tables
    return conn


def create_schema(conn: sqlite3.Connection, indexes: bool = True) -> None:
    """Create the shop tables and (unless `indexes` is False) their `updated_at` indexes.

    `generate` creates the indexes after the history is written: a bulk load is faster
    without them.
    """
    for ddl in TABLES.values():
        conn.execute(ddl.format(id="integer"))
    if indexes:
        create_indexes(conn)


def create_indexes(conn: sqlite3.Connection) -> None:
    """Create the index on every `updated_at` (idempotent)."""
    for ddl in INDEXES:
        conn.execute(ddl)


def _day_time_sql(salt: int) -> str:
    """SQL for a deterministic moment within the day `:start` per order."""
    return f"datetime(:start, '+' || ((order_id * 7919 + :d * {salt}) % 86400) || ' seconds')"


def _dice_sql(salt: int, sides: int = 1000) -> str:
    """SQL for a deterministic die per order and day, 0 <= value < sides."""
    return f"((order_id * 1000003 + :d * {salt}) % {sides})"


def advance_orders(conn: sqlite3.Connection, day: date) -> dict[str, int]:
    """Move earlier orders through their lifecycle on `day`; soft-delete a few.

    Every change sets `updated_at` within `day`, except a few late-committed changes whose
    `updated_at` lies up to 15 minutes before the newest `updated_at` the table had before:
    a loader cursor without an overlap window misses them. Each order changes at most once a day.

    Returns:
        Rows changed per kind of change.
    """
    params = {"start": f"{day.isoformat()} 00:00:00", "d": day.toordinal()}
    params["month_ago"] = f"{(day - timedelta(days=30)).isoformat()} 00:00:00"
    params["week_ago"] = f"{(day - timedelta(days=7)).isoformat()} 00:00:00"
    newest = conn.execute("select max(updated_at) from orders").fetchone()[0]
    untouched = "deleted_at is null and created_at < :start and updated_at < :start"
    statements = {
        "paid_or_cancelled": f"""update orders set
            status = case when {_dice_sql(11)} < 750 then 'paid' else 'cancelled' end,
            updated_at = {_day_time_sql(13)} where status = 'placed' and {untouched}""",
        "shipped": f"""update orders set status = 'shipped', updated_at = {_day_time_sql(17)}
            where status = 'paid' and {untouched} and {_dice_sql(19)} < 700""",
        "delivered": f"""update orders set status = 'delivered', updated_at = {_day_time_sql(23)}
            where status = 'shipped' and {untouched} and {_dice_sql(29)} < 450""",
        "refunded": f"""update orders set status = 'refunded', updated_at = {_day_time_sql(31)}
            where status = 'delivered' and {untouched} and created_at >= :month_ago
            and {_dice_sql(37)} < 5""",
        "soft_deleted": f"""update orders set deleted_at = {_day_time_sql(41)},
            updated_at = {_day_time_sql(41)}
            where {untouched} and created_at >= :week_ago and {_dice_sql(43, 10_000)} < 15""",
    }
    changed = {}
    for kind, sql in statements.items():
        changed[kind] = conn.execute(sql, params).rowcount
    if newest is not None:
        total = conn.execute("select count(*) from orders").fetchone()[0]
        params.update(newest=newest, late=max(2, total // 1000))
        changed["late_committed"] = conn.execute(
            f"""update orders set
                status = case status when 'placed' then 'cancelled' when 'paid' then 'shipped'
                    else 'delivered' end,
                updated_at = datetime(:newest, '-' || (1 + {_dice_sql(47, 900)}) || ' seconds')
                where order_id in (
                    select order_id from orders
                    where status in ('placed', 'paid', 'shipped') and {untouched}
                    and updated_at < datetime(:newest, '-900 seconds')
                    and created_at < datetime(:newest, '-1 day')
                    order by {_dice_sql(53)}, order_id limit :late)""",
            params,
        ).rowcount
    return changed


def create_products(conn: sqlite3.Connection, seed: int, day: date, scale: float) -> int:
    """Create the catalogue the day the shop opens; returns the number of products."""
    rng = np.random.default_rng([seed, day.toordinal(), STREAM_PRODUCTS])
    count = max(50, int(200 * scale**0.5))
    created = epoch_seconds(day - timedelta(days=90)) + rng.integers(0, 89 * 86_400, count)
    stamps = db_timestamps(created).tolist()
    prices = np.round(np.exp(rng.normal(3.4, 0.7, count)) * 100).astype(np.int64) + 99
    rows = []
    for i in range(count):
        category = settings.PRODUCT_CATEGORIES[int(rng.integers(len(settings.PRODUCT_CATEGORIES)))]
        nouns = settings.PRODUCT_NOUNS[category]
        adjective = settings.PRODUCT_ADJECTIVES[int(rng.integers(len(settings.PRODUCT_ADJECTIVES)))]
        name = f"{adjective} {nouns[int(rng.integers(len(nouns)))]}"
        price = int(prices[i]) / 100
        rows.append((i + 1, f"SKU-{i + 1:06d}", name, category, price, "USD", 1, *[stamps[i]] * 2))
    conn.executemany("insert into products values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return count


def update_products(conn: sqlite3.Connection, day: date) -> int:
    """Reprice about 1% of the catalogue and retire a few products on `day`."""
    params = {"start": f"{day.isoformat()} 00:00:00", "d": day.toordinal()}
    moment = _day_time_sql(59).replace("order_id", "product_id")
    dice = _dice_sql(61).replace("order_id", "product_id")
    repriced = conn.execute(
        f"update products set list_price = round(list_price * 1.05, 2), updated_at = {moment} "
        f"where is_active = 1 and {dice} < 10",
        params,
    ).rowcount
    retired = conn.execute(
        f"update products set is_active = 0, updated_at = {moment} "
        f"where is_active = 1 and {dice} >= 998",
        params,
    ).rowcount
    return repriced + retired


@dataclass
class DayOrders:
    """The orders placed on one day, as arrays (for the purchase events)."""

    order_id: np.ndarray
    customer_id: np.ndarray  # 0 where the order has no customer
    created: np.ndarray  # epoch seconds
    total_cents: np.ndarray
    currency: list[str]


def _currency_cents(
    usd_cents: np.ndarray, rate: np.ndarray, zero_decimal: np.ndarray
) -> np.ndarray:
    """Convert USD cents to cents of the order currency, whole units for JPY."""
    cents = np.round(usd_cents * rate)
    whole = np.round(usd_cents * rate / 100) * 100
    return np.where(zero_decimal, whole, cents).astype(np.int64)


def plan_orders(
    conn: sqlite3.Connection,
    seed: int,
    day: date,
    count: int,
    first_new_customer: int,
    last_customer: int,
    countries: np.ndarray,
    rates: dict[str, float],
    bad_rate: float = 0.0,
) -> OrderPlan:
    """Draw the orders (and their 2–3 items) placed on `day`; `insert_orders` stores them.

    Customers buy with a skew: older customers are repeat buyers, a quarter of the orders come
    from the day's sign-ups. Prices are the USD list prices converted at the day's rate.
    `bad_rate` of the orders are made invalid on purpose (currency `XXX`, a negative quantity,
    or no customer).
    """
    rng = np.random.default_rng([seed, day.toordinal(), STREAM_ORDERS])
    first_order = (conn.execute("select max(order_id) from orders").fetchone()[0] or 0) + 1
    first_item = (conn.execute("select max(order_item_id) from order_items").fetchone()[0] or 0) + 1
    products = np.array(
        conn.execute(
            "select product_id, cast(round(list_price * 100) as integer) from products "
            "where is_active = 1 order by product_id"
        ).fetchall(),
        dtype=np.int64,
    )
    old = first_new_customer - 1
    from_new = rng.random(count) < (0.25 if old else 1.0)
    skewed_old = 1 + np.floor(max(old, 1) * rng.random(count) ** 2.5).astype(np.int64)
    new_ids = rng.integers(first_new_customer, last_customer + 1, count)
    customer = np.where(from_new, new_ids, skewed_old)
    currency = COUNTRY_CURRENCY[countries[customer]]
    rate_of = np.array([rates[c] for c in CURRENCIES])
    zero_decimal_of = np.array([c in settings.ZERO_DECIMAL_CURRENCIES for c in CURRENCIES])
    created = epoch_seconds(day) + np.sort(day_seconds(rng, count))

    n_items = rng.choice((2, 3), size=count)
    item_order = np.repeat(np.arange(count), n_items)
    pick = np.floor(len(products) * rng.random(len(item_order)) ** 1.8).astype(np.int64)
    product_id = products[pick, 0]
    quantity = rng.choice((1, 2, 3), size=len(item_order), p=(0.75, 0.2, 0.05))
    item_currency = currency[item_order]
    unit = _currency_cents(
        products[pick, 1], rate_of[item_currency], zero_decimal_of[item_currency]
    )

    bad = np.flatnonzero(rng.random(count) < bad_rate) if bad_rate > 0 else np.array([], int)
    bad_kind = np.arange(len(bad)) % 3
    starts = np.concatenate(([0], np.cumsum(n_items)[:-1]))
    quantity[starts[bad[bad_kind == 1]]] = -1
    subtotal = np.add.reduceat(quantity * unit, starts)
    discount = np.where(rng.random(count) < 0.2, np.round(subtotal * 0.1), 0).astype(np.int64)
    discount = np.where(zero_decimal_of[currency], np.round(discount / 100) * 100, discount)
    shipping_usd = np.where(subtotal / rate_of[currency] < 5000, 499, 0)
    shipping = _currency_cents(shipping_usd, rate_of[currency], zero_decimal_of[currency])
    total = subtotal - discount + shipping

    roll = rng.random(count)
    status_index = np.where(roll < 0.8, 1, np.where(roll < 0.95, 0, 4))
    lag = np.where(status_index == 0, 0, rng.integers(30, 1800, count))
    updated = np.minimum(created + lag, epoch_seconds(day) + 86_399)
    currency_text = [CURRENCIES[c] for c in currency.tolist()]
    customer_out: list[int | None] = customer.tolist()
    for i, kind in zip(bad.tolist(), bad_kind.tolist(), strict=True):
        if kind == 0:
            currency_text[i] = "XXX"
        elif kind == 2:
            customer_out[i] = None
    order_ids = np.arange(first_order, first_order + count)
    created_text, updated_text = db_timestamps(created), db_timestamps(updated)

    def order_rows() -> Iterator[tuple]:
        # Python objects are made one slice at a time, so memory stays bounded.
        for lo in range(0, count, SLICE_ROWS):
            hi = min(lo + SLICE_ROWS, count)
            yield from zip(
                order_ids[lo:hi].tolist(),
                customer_out[lo:hi],
                [settings.ORDER_STATUSES[s] for s in status_index[lo:hi].tolist()],
                currency_text[lo:hi],
                (subtotal[lo:hi] / 100).tolist(),
                (discount[lo:hi] / 100).tolist(),
                (shipping[lo:hi] / 100).tolist(),
                (total[lo:hi] / 100).tolist(),
                created_text[lo:hi].tolist(),
                updated_text[lo:hi].tolist(),
                [None] * (hi - lo),
                strict=True,
            )

    def item_rows() -> Iterator[tuple]:
        for lo in range(0, len(item_order), SLICE_ROWS):
            hi = min(lo + SLICE_ROWS, len(item_order))
            stamps = created_text[item_order[lo:hi]].tolist()
            yield from zip(
                range(first_item + lo, first_item + hi),
                order_ids[item_order[lo:hi]].tolist(),
                product_id[lo:hi].tolist(),
                quantity[lo:hi].tolist(),
                (unit[lo:hi] / 100).tolist(),
                stamps,
                stamps,
                strict=True,
            )

    customer_arr = np.array([c or 0 for c in customer_out], dtype=np.int64)
    return OrderPlan(
        DayOrders(order_ids, customer_arr, created, total, currency_text), order_rows(), item_rows()
    )


@dataclass
class OrderPlan:
    """A day's orders: arrays for the purchase events, and the rows still to insert."""

    orders: DayOrders
    order_rows: Iterable[tuple]
    item_rows: Iterable[tuple]


def insert_orders(conn: sqlite3.Connection, plan: OrderPlan) -> None:
    """Insert the rows of an `OrderPlan` (the caller holds the transaction)."""
    columns = ", ".join(ORDER_COLUMNS)
    conn.executemany(f"insert into orders ({columns}) values ({_marks(11)})", plan.order_rows)
    columns = ", ".join(ORDER_ITEM_COLUMNS)
    conn.executemany(f"insert into order_items ({columns}) values ({_marks(7)})", plan.item_rows)


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def copy_to_postgres(demo_dir: str | Path, url: str, schema: str = "public") -> dict[str, int]:
    """Create the shop schema in PostgreSQL and copy every row of `shop.sqlite` into it.

    Existing shop tables in `schema` are replaced, so the copy is a snapshot of the source.
    Columns added by schema drift are copied too.

    Args:
        demo_dir: the demo directory holding `shop.sqlite`.
        url: SQLAlchemy-style URL, e.g. `postgresql+psycopg2://user:pw@127.0.0.1:5432/shop`.
        schema: target schema (created when missing).

    Returns:
        Rows copied per table.
    """
    import psycopg2
    from psycopg2 import sql
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    source = sqlite3.connect(Path(demo_dir) / SHOP_DB)
    target = psycopg2.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
    )
    copied = {}
    try:
        with target, target.cursor() as cur:
            cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            cur.execute(sql.SQL("set search_path to {}").format(sql.Identifier(schema)))
            for table, ddl in TABLES.items():
                cur.execute(
                    sql.SQL("drop table if exists {} cascade").format(sql.Identifier(table))
                )
                cur.execute(ddl.format(id="bigint"))
                known = {line.split()[0] for line in ddl.splitlines()[2:]}
                columns = [r[1] for r in source.execute(f"pragma table_info({table})")]
                for name, kind in source.execute(
                    f"select name, type from pragma_table_info('{table}')"
                ):
                    if name not in known:  # added by schema drift
                        cur.execute(
                            sql.SQL("alter table {} add column {} " + (kind or "text")).format(
                                sql.Identifier(table), sql.Identifier(name)
                            )
                        )
                copied[table] = _copy_table(source, cur, table, columns)
            for ddl in INDEXES:
                cur.execute(ddl)
    finally:
        target.close()
        source.close()
    log.info("copied shop database to PostgreSQL schema %s: %s", schema, copied)
    return copied


def _copy_table(source: sqlite3.Connection, cur, table: str, columns: list[str]) -> int:
    """Stream one SQLite table into PostgreSQL with COPY, in batches."""
    column_list = ", ".join(f'"{c}"' for c in columns)
    rows = source.execute(f"select {column_list} from {table}")
    total = 0
    while batch := rows.fetchmany(settings.DB_BATCH_ROWS):
        buffer = io.StringIO()
        csv.writer(buffer).writerows(batch)
        buffer.seek(0)
        cur.copy_expert(f"copy {table} ({column_list}) from stdin with (format csv)", buffer)
        total += len(batch)
    return total
