"""Event drops: clickstream files in Parquet, JSONL gzip and CSV, one folder per UTC day.

Rows are drawn as numpy arrays in chunks of `EVENT_CHUNK_ROWS`; DuckDB turns each chunk into
the text columns (ids, URLs, ISO timestamps with offsets, JSON properties) in one vectorised
query (`event_rows.py`), and the chunk is written straight to disk (`event_files.py`), so
memory stays bounded at any volume.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from demo import settings
from demo.event_files import write_chunk
from demo.event_rows import draw, render
from demo.orders import DayOrders
from demo.state import EVENTS_DIR

log = logging.getLogger(__name__)

STREAM_EVENTS, STREAM_LATE = 30, 31


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
    # one writer thread: chunk i is written while chunk i + 1 is drawn (two chunks in memory)
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
        numeric = draw(rng, ctx, day, seq, n_browse, chunk_orders)
        seq += numeric.num_rows
        rendered = render(con, ctx, numeric)
        del numeric
        if pending is not None:
            entries += pending.result()
        file_rng = np.random.default_rng([ctx.seed, day.toordinal(), STREAM_EVENTS, i])
        pending = writer.submit(
            write_chunk, ctx, file_rng, rendered, folder, f"part-{i:04d}", day, day
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
    numeric = draw(rng, ctx, day, first_seq, count, None)
    rendered = render(con, ctx, numeric)
    entries = write_chunk(
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
