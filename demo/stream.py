"""A steady stream of event files for the watch mode: one Parquet file per batch, landed atomically.

Each batch is a day of its own (``FIRST_DAY`` + its number), so its events are counted in
``fct_daily_funnel`` exactly when its row for that day appears: every visitor makes one session
of ``STEPS`` events a few seconds apart, so the day's first step counts ``visitors`` sessions and
the day's sessions hold ``events`` events. A file is written under a dot name (listings skip
those) and renamed into place, so a reader never sees it half written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FIRST_DAY = date(2030, 1, 1)
STEPS = ("page_view", "product_view", "add_to_cart", "checkout_started")
STEP_SECONDS = 5  # between a visitor's events: well inside one session


@dataclass(frozen=True)
class Landed:
    """One batch file in the landing zone."""

    batch: int
    path: Path
    day: date
    events: int
    visitors: int


def batch_table(batch: int, visitors: int) -> pa.Table:
    """The events of one batch as the demo's Parquet files hold them (text timestamps)."""
    day = FIRST_DAY + timedelta(days=batch)
    n = visitors * len(STEPS)
    step = np.tile(np.arange(len(STEPS)), visitors)
    visitor = np.repeat(np.arange(visitors), len(STEPS))
    # visitors spread over the day's first hours, each session's events STEP_SECONDS apart
    seconds = visitor * 3 + step * STEP_SECONDS
    stamps = np.datetime64(day.isoformat(), "s") + seconds.astype("timedelta64[s]")
    text = np.char.add(np.datetime_as_string(stamps, unit="s"), "Z")
    ids = np.char.add(f"w{batch:06d}-", np.arange(n).astype(str))
    anon = np.char.add(f"wanon_{batch:06d}_", visitor.astype(str))
    nulls = pa.nulls(n, pa.string())
    return pa.table(
        {
            "event_id": pa.array(ids.tolist(), pa.string()),
            "anonymous_id": pa.array(anon.tolist(), pa.string()),
            "customer_id": pa.nulls(n, pa.int64()),
            "event_type": pa.array(np.array(STEPS)[step].tolist(), pa.string()),
            "url": pa.array(["https://shop.example.com/"] * n, pa.string()),
            "referrer": nulls,
            "utm_source": nulls,
            "utm_medium": nulls,
            "utm_campaign": nulls,
            "device": pa.array(["desktop"] * n, pa.string()),
            "occurred_at": pa.array(text.tolist(), pa.string()),
            "properties": pa.array(["{}"] * n, pa.string()),
        }
    )


def land(folder: Path, batch: int, visitors: int) -> Landed:
    """Write batch ``batch`` into ``folder/date=<its day>/`` atomically; returns what landed."""
    table = batch_table(batch, visitors)
    day = FIRST_DAY + timedelta(days=batch)
    target = folder / f"date={day.isoformat()}" / f"stream-{batch:06d}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    hidden = target.with_name(f".{target.name}.tmp")
    pq.write_table(table, hidden)
    os.replace(hidden, target)
    return Landed(batch, target, day, table.num_rows, visitors)
