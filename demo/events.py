"""Event drops: clickstream files in Parquet, JSONL gzip and CSV, one folder per UTC day.

Rows are drawn as numpy arrays in chunks of `EVENT_CHUNK_ROWS`; DuckDB turns each chunk into
the text columns (ids, URLs, ISO timestamps with offsets, JSON properties) in one vectorised
query, and the chunk is written straight to disk, so memory stays bounded at any volume.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from demo import settings
from demo.orders import DayOrders
from demo.state import EVENTS_DIR
from demo.timeutil import day_seconds, epoch_seconds

log = logging.getLogger(__name__)

STREAM_EVENTS, STREAM_LATE = 30, 31
FORMATS = ("parquet", "jsonl.gz", "csv")
PAGE_TYPES = ("home", "category", "search", "help")
PAGE_PATHS = ("/", "/c/apparel", "/search?q=mug", "/help/shipping")
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
FORMAT_WEIGHTS = (
    1 - settings.JSONL_SHARE - settings.CSV_SHARE,
    settings.JSONL_SHARE,
    settings.CSV_SHARE,
)
# Two hex digits per byte value, as one uint16 each (so a lookup writes two characters).
_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), np.uint16)
LOW_CARDINALITY = (
    "event_type", "url", "referrer", "utm_source", "utm_medium", "utm_campaign", "device",
    "device_type",
)  # fmt: skip


@dataclass
class EventContext:
    """What event generation needs to know about the rest of the simulated world."""

    demo_dir: Path
    seed: int
    last_customer: int
    products: np.ndarray  # rows of (product_id, list price in USD cents)
    campaigns: list[str]
    drift: set[str] = field(default_factory=set)
    malformed_rate: float = 0.0


def day_folder(demo_dir: Path, day: date) -> Path:
    """`landing/events/date=YYYY-MM-DD` of `day`."""
    return demo_dir / EVENTS_DIR / f"date={day.isoformat()}"


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


def _draw(
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
    # Rows go to their file in time order. Only the columns that depend on the row's position
    # (purchases come last) are permuted; the others are drawn independently per row anyway.
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


def _render(con: duckdb.DuckDBPyConnection, ctx: EventContext, numeric: pa.Table) -> pa.Table:
    """Text columns of the output files, plus `fmt` (rows keep their order)."""
    select = ", ".join(f"{expr} as {name}" for name, expr in _columns_sql(ctx))
    con.register("numeric_events", numeric)
    try:
        return con.sql(f"select {select}, fmt from numeric_events").to_arrow_table()
    finally:
        con.unregister("numeric_events")


def _corrupt_json(rng: np.random.Generator, line: str) -> str:
    kind = int(rng.integers(3))
    if kind == 0:  # bad JSON: the line is cut off
        return line[: max(1, len(line) // 2)]
    record = json.loads(line)
    if kind == 1:  # wrong types
        record["customer_id"] = "not-a-number"
        record["occurred_at"] = "31/02/2026 25:61"
        return json.dumps(record, ensure_ascii=False)
    record.pop("event_id")  # a required field missing
    return json.dumps(record, ensure_ascii=False) + " trailing garbage"


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(["" if v is None else v for v in values])
    return buffer.getvalue()


def _corrupt_csv(rng: np.random.Generator, values: list[Any], names: list[str]) -> str:
    kind = int(rng.integers(3))
    if kind == 0:  # wrong column count: an extra field
        return _csv_line([*values, "unexpected"])
    if kind == 1:  # wrong column count: fields missing
        return _csv_line(values[: len(values) // 2])
    broken = dict(zip(names, values, strict=True))  # wrong types
    broken["customer_id"] = "n/a"
    broken["occurred_at"] = "yesterday at noon"
    return _csv_line(list(broken.values()))


def _write_text(
    path: Path, rng: np.random.Generator, table: pa.Table, fmt: str, malformed_rate: float
) -> list[int]:
    """Write a JSONL gzip or CSV file; returns the (1-based) numbers of the malformed lines."""
    names = table.column_names
    bad = np.flatnonzero(rng.random(table.num_rows) < malformed_rate).tolist()
    if fmt == "jsonl.gz":
        con = duckdb.connect()
        con.register("t", table)
        struct = ", ".join(
            f"{n} := {n}::JSON" if n == "properties" else f"{n} := {n}" for n in names
        )
        lines = con.sql(f"select to_json(struct_pack({struct})) as line from t").to_arrow_table()
        con.close()
        text = lines["line"].to_pylist()
        for i in bad:
            text[i] = _corrupt_json(rng, text[i])
        with (  # no name or time in the gzip header: same seed, same bytes
            path.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as out,
        ):
            out.write(("\n".join(text) + "\n").encode())
        return [i + 1 for i in bad]
    buffer = pa.BufferOutputStream()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(quoting_style="needed"))
    data = buffer.getvalue().to_pybytes()
    if bad:  # CSV values never hold a newline, so lines are rows (header first)
        lines = data.split(b"\n")
        for i, row in zip(bad, table.take(bad).to_pylist(), strict=True):
            lines[i + 1] = _corrupt_csv(rng, list(row.values()), names).encode()
        data = b"\n".join(lines)
    path.write_bytes(data)
    return [i + 2 for i in bad]


def _write_chunk(
    ctx: EventContext,
    rng: np.random.Generator,
    rendered: pa.Table,
    folder: Path,
    stem: str,
    day: date,
    arrival: date,
    only_format: str | None = None,
    duplicates: pa.Table | None = None,
) -> list[dict[str, Any]]:
    """Write one rendered chunk as one file per format; returns their manifest entries."""
    folder.mkdir(parents=True, exist_ok=True)
    fmt = rendered["fmt"].to_numpy()
    data = rendered.drop_columns(["fmt"])
    entries = []
    for index, name in enumerate(FORMATS):
        part = data if only_format == name else data.filter(pa.array(fmt == index))
        if only_format not in (None, name) or part.num_rows == 0:
            continue
        dup_rows = 0
        if duplicates is not None and name == "parquet" and duplicates.schema == part.schema:
            part = pa.concat_tables([part, duplicates])
            dup_rows = duplicates.num_rows
        path = folder / f"{stem}.{name}"
        bad_lines: list[int] = []
        if name == "parquet":
            dictionary = [c for c in part.column_names if c in LOW_CARDINALITY]
            pq.write_table(
                part, path, row_group_size=settings.EVENT_CHUNK_ROWS, use_dictionary=dictionary
            )
        else:
            bad_lines = _write_text(path, rng, part, name, ctx.malformed_rate)
        entries.append(
            {
                "file": path.relative_to(ctx.demo_dir).as_posix(),
                "date": day.isoformat(),
                "format": name,
                "rows": part.num_rows,
                "malformed": len(bad_lines),
                "malformed_lines": bad_lines,
                "duplicates": dup_rows,
                "late": arrival != day,
                "arrived_on": arrival.isoformat(),
                "columns": part.column_names,
            }
        )
    return entries


def write_day(
    ctx: EventContext, day: date, count: int, orders: DayOrders, first_seq: int
) -> tuple[list[dict[str, Any]], int]:
    """Write the events of `day` (browsing plus one purchase per tracked order) in chunks.

    Returns:
        The manifest entries of the files written, and the next free event sequence number.
    """
    rng = np.random.default_rng([ctx.seed, day.toordinal(), STREAM_EVENTS])
    tracked = rng.random(len(orders.order_id)) < 0.95  # some shoppers block tracking
    purchases = DayOrders(
        orders.order_id[tracked],
        orders.customer_id[tracked],
        orders.created[tracked],
        orders.total_cents[tracked],
        [c for c, t in zip(orders.currency, tracked.tolist(), strict=True) if t],
    )
    browse = max(count - len(purchases.order_id), 0)
    chunks = max(1, -(-(browse + len(purchases.order_id)) // settings.EVENT_CHUNK_ROWS))
    browse_cuts = np.linspace(0, browse, chunks + 1).astype(int)
    order_cuts = np.linspace(0, len(purchases.order_id), chunks + 1).astype(int)
    con = duckdb.connect()
    entries: list[dict[str, Any]] = []
    seq = first_seq
    folder = day_folder(ctx.demo_dir, day)
    pending: Future | None = None
    # One writer thread: chunk i is written while chunk i + 1 is drawn and rendered (pyarrow,
    # zlib and DuckDB release the GIL); at most two chunks are in memory.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-events")
    for i in range(chunks):
        lo, hi = order_cuts[i], order_cuts[i + 1]
        chunk_orders = DayOrders(
            purchases.order_id[lo:hi],
            purchases.customer_id[lo:hi],
            purchases.created[lo:hi],
            purchases.total_cents[lo:hi],
            purchases.currency[lo:hi],
        )
        n_browse = int(browse_cuts[i + 1] - browse_cuts[i])
        numeric = _draw(rng, ctx, day, seq, n_browse, chunk_orders)
        seq += numeric.num_rows
        rendered = _render(con, ctx, numeric)
        del numeric
        if pending is not None:
            entries += pending.result()
        file_rng = np.random.default_rng([ctx.seed, day.toordinal(), STREAM_EVENTS, i])
        pending = writer.submit(
            _write_chunk, ctx, file_rng, rendered, folder, f"part-{i:04d}", day, day
        )
        del rendered
    if pending is not None:
        entries += pending.result()
    writer.shutdown()
    con.close()
    return entries, seq


def write_late(
    ctx: EventContext,
    arrival: date,
    day: date,
    count: int,
    first_seq: int,
    fmt: str,
    duplicate_rows: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Write events of an earlier `day` that arrive on `arrival`, as a new file in its folder.

    A Parquet late file also re-sends `duplicate_rows` events already delivered for `day`
    (at-least-once delivery); the manifest counts them as `duplicates`.
    """
    rng = np.random.default_rng([ctx.seed, arrival.toordinal(), day.toordinal(), STREAM_LATE])
    folder = day_folder(ctx.demo_dir, day)
    duplicates = None
    first_file = folder / "part-0000.parquet"
    if duplicate_rows and first_file.exists():
        duplicates = next(pq.ParquetFile(first_file).iter_batches(batch_size=duplicate_rows))
        duplicates = pa.Table.from_batches([duplicates])
    con = duckdb.connect()
    numeric = _draw(rng, ctx, day, first_seq, count, None)
    rendered = _render(con, ctx, numeric)
    entries = _write_chunk(
        ctx,
        rng,
        rendered,
        folder,
        f"late-{arrival.isoformat()}",
        day,
        arrival,
        only_format=fmt,
        duplicates=duplicates,
    )
    con.close()
    return entries, first_seq + numeric.num_rows
