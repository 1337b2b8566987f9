"""What changes in the shop each day: the catalogue and the orders' status lifecycle.

Order and price changes are set-based SQL with a deterministic die per row and day.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import numpy as np

from demo import settings
from demo.timeutil import db_timestamps, epoch_seconds

STREAM_PRODUCTS = 20


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
