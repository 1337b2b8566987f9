"""Event rows: numeric columns drawn with numpy, turned into the files' text columns by DuckDB."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa

from demo import settings
from demo.event_files import FORMAT_WEIGHTS
from demo.orders import DayOrders
from demo.timeutil import day_seconds, epoch_seconds

if TYPE_CHECKING:
    from demo.events import EventContext

PAGE_TYPES = ("home", "category", "search", "help")
PAGE_PATHS = ("/", "/c/apparel", "/search?q=mug", "/help/shipping")
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
# Two hex digits per byte value, as one uint16 each (so a lookup writes two characters).
_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), np.uint16)


def event_ids(seq: np.ndarray, seed: int) -> np.ndarray:
    """A bijective mix of event sequence numbers: unique, but not guessable as a counter."""
    with np.errstate(over="ignore"):
        x = (seq.astype(np.uint64) + np.uint64(seed) * np.uint64(1 << 40)) & _MASK
        x = x * np.uint64(0x9E3779B97F4A7C15)
        x ^= x >> np.uint64(29)
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(32)
    return x


def hex_text(values: np.ndarray, n_bytes: int, prefix: bytes = b"") -> pa.Array:
    """Lower-case hex of the low `n_bytes` of each uint64, after `prefix` (vectorised)."""
    big_endian = values.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - n_bytes :]
    width = len(prefix) + 2 * n_bytes
    digits = _HEX[big_endian].view(np.uint8).reshape(len(values), 2 * n_bytes)
    if prefix:
        head = np.broadcast_to(np.frombuffer(prefix, np.uint8), (len(values), len(prefix)))
        digits = np.concatenate([head, digits], axis=1)
    text = np.ascontiguousarray(digits).view(f"S{width}").ravel()
    return pa.array(text).cast(pa.string())


def draw(
    rng: np.random.Generator,
    ctx: EventContext,
    day: date,
    first_seq: int,
    count: int,
    orders: DayOrders | None,
) -> pa.Table:
    """Numeric columns of `count` browsing events plus one purchase event per given order."""
    n_purchase = 0 if orders is None else len(orders.order_id)
    n = count + n_purchase
    etype = np.empty(n, dtype=np.int8)
    etype[:count] = rng.choice(4, size=count, p=settings.BROWSE_EVENT_WEIGHTS)
    etype[count:] = 4
    logged_in = rng.random(n) < 0.4
    customer = 1 + np.floor(ctx.last_customer * rng.random(n) ** 2).astype(np.int64)
    ts = epoch_seconds(day) + day_seconds(rng, n)
    order_id = np.zeros(n, dtype=np.int64)
    total = np.zeros(n, dtype=np.int64)
    currency = np.zeros(n, dtype=np.int8)
    if orders is not None and n_purchase:
        customer[count:] = orders.customer_id
        logged_in[count:] = orders.customer_id > 0
        ts[count:] = orders.created + rng.integers(0, 5, n_purchase)
        order_id[count:] = orders.order_id
        total[count:] = orders.total_cents
        codes = {c: i for i, c in enumerate(settings.FX_START)}
        currency[count:] = [codes.get(c, 0) for c in orders.currency]
    fmt = rng.choice(3, size=n, p=FORMAT_WEIGHTS).astype(np.int8)
    # rows in time order: only the position-dependent columns (purchases come last) are permuted
    order = np.argsort((fmt.astype(np.int64) << 40) | (ts - ts.min()), kind="stable")
    etype, logged_in, customer, ts, fmt = (a[order] for a in (etype, logged_in, customer, ts, fmt))
    order_id, total, currency = (a[order] for a in (order_id, total, currency))
    anon = np.where(
        logged_in,
        customer.astype(np.uint64) * np.uint64(2654435761) + np.uint64(ctx.seed),
        rng.integers(0, 1 << 48, n).astype(np.uint64),
    ) & np.uint64((1 << 48) - 1)
    pick = rng.integers(0, len(ctx.products), n)
    tracked = rng.random(n) < 0.3
    return pa.table(
        {
            "event_id": hex_text(
                event_ids(np.arange(first_seq, first_seq + n, dtype=np.uint64), ctx.seed), 8
            ),
            "anonymous_id": hex_text(anon, 6, b"anon_"),
            "anon": anon,
            "customer_id": pa.array(customer, mask=~logged_in),
            "etype": etype,
            "page": rng.integers(0, len(PAGE_TYPES), n).astype(np.int8),
            "product_id": ctx.products[pick, 0],
            "price": ctx.products[pick, 1],
            "quantity": rng.choice((1, 2, 3), size=n, p=(0.8, 0.15, 0.05)).astype(np.int8),
            "order_id": order_id,
            "total": total,
            "currency": currency,
            "ref": np.where(rng.random(n) < 0.5, rng.integers(0, len(settings.REFERRERS), n), -1),
            "utm": np.where(tracked, rng.integers(0, len(settings.UTM_SOURCES), n), -1),
            "campaign": rng.integers(0, max(len(ctx.campaigns), 1), n),
            "device": rng.choice(3, size=n, p=settings.DEVICE_WEIGHTS).astype(np.int8),
            "ts": ts,
            "off": rng.integers(0, len(settings.EVENT_OFFSETS), n).astype(np.int8),
            "fmt": fmt,
        }
    )


def _sql_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _columns_sql(ctx: EventContext) -> list[tuple[str, str]]:
    """(name, SQL expression) of each output column, with the schema drift in effect."""
    offsets_min = "[" + ", ".join(str(m) for m, _ in settings.EVENT_OFFSETS) + "]"
    offsets_txt = _sql_list([t for _, t in settings.EVENT_OFFSETS])
    price = "printf('%.2f', price / 100.0)"
    currencies = _sql_list(tuple(settings.FX_START))
    properties = f"""case etype
        when 0 then '{{"page_type": "' || {_sql_list(PAGE_TYPES)}[page + 1] || '"}}'
        when 1 then '{{"product_id": ' || product_id || ', "price": ' || {price} || '}}'
        when 2 then '{{"product_id": ' || product_id || ', "price": ' || {price}
            || ', "quantity": ' || quantity || '}}'
        when 3 then '{{"cart_value": ' || printf('%.2f', price * quantity / 100.0)
            || ', "items": ' || quantity || '}}'
        else '{{"order_id": ' || order_id || ', "revenue": ' || printf('%.2f', total / 100.0)
            || ', "currency": "' || {currencies}[currency + 1] || '"}}' end"""
    url = f"""'https://shop.example.com' || case etype
        when 0 then {_sql_list(PAGE_PATHS)}[page + 1]
        when 1 then '/p/' || product_id
        when 2 then '/p/' || product_id || '?added=1'
        when 3 then '/checkout'
        else '/checkout/confirmation?order=' || order_id end"""
    columns = [
        ("event_id", "event_id"),
        ("anonymous_id", "anonymous_id"),
        ("customer_id", "customer_id::varchar" if "retyped" in ctx.drift else "customer_id"),
        ("event_type", f"{_sql_list(settings.EVENT_TYPES)}[etype + 1]"),
        ("url", url),
        ("referrer", f"case when ref >= 0 then {_sql_list(settings.REFERRERS)}[ref + 1] end"),
        ("utm_source", f"case when utm >= 0 then {_sql_list(settings.UTM_SOURCES)}[utm + 1] end"),
        ("utm_medium", f"case when utm >= 0 then {_sql_list(settings.UTM_MEDIUMS)}[utm + 1] end"),
        (
            "utm_campaign",
            f"case when utm >= 0 then {_sql_list(ctx.campaigns or ['launch'])}[campaign + 1] end",
        ),
        (
            "device_type" if "renamed" in ctx.drift else "device",
            f"{_sql_list(settings.DEVICES)}[device + 1]",
        ),
        (
            "occurred_at",
            f"strftime(make_timestamp((ts + {offsets_min}[off + 1] * 60) * 1000000),"
            f" '%Y-%m-%dT%H:%M:%S') || {offsets_txt}[off + 1]",
        ),
        ("properties", properties),
    ]
    if "added" in ctx.drift:
        columns.append(("session_id", "'sess_' || lower(to_hex(anon * 48 + ts // 1800 % 48))"))
    return columns


def render(con: duckdb.DuckDBPyConnection, ctx: EventContext, numeric: pa.Table) -> pa.Table:
    """Text columns of the output files, plus `fmt` (rows keep their order)."""
    select = ", ".join(f"{expr} as {name}" for name, expr in _columns_sql(ctx))
    con.register("numeric_events", numeric)
    try:
        return con.sql(f"select {select}, fmt from numeric_events").to_arrow_table()
    finally:
        con.unregister("numeric_events")
