"""New orders: a day's orders and their items drawn with numpy, then inserted in slices."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np

from demo import settings
from demo.timeutil import day_seconds, db_timestamps, epoch_seconds

STREAM_ORDERS = 21
SLICE_ROWS = 100_000  # rows turned into Python objects at a time

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
