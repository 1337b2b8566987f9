"""FX reference rates: a seeded random walk per currency, published on business days only."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import numpy as np

from demo import settings

STREAM = 1

DDL = """
create table if not exists fx_rates (
    date text not null,
    currency text not null,
    rate real not null,
    primary key (date, currency)
)
"""


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the `fx_rates` table of the API store."""
    conn.execute(DDL)


def latest_rates(conn: sqlite3.Connection, day: date) -> dict[str, float]:
    """Rates in force on `day`: the latest published on or before it, per currency."""
    rows = conn.execute(
        """
        select r.currency, r.rate from fx_rates r
        join (select currency, max(date) as d from fx_rates where date <= ? group by currency) m
          on m.currency = r.currency and m.d = r.date
        """,
        (day.isoformat(),),
    ).fetchall()
    return dict(rows)


def publish(conn: sqlite3.Connection, seed: int, day: date) -> int:
    """Publish the rates of `day` (nothing on weekends); returns the rows written."""
    if day.weekday() >= 5:
        return 0
    previous = latest_rates(conn, day - timedelta(days=1)) or dict(settings.FX_START)
    rng = np.random.default_rng([seed, day.toordinal(), STREAM])
    steps = rng.normal(0.0, settings.FX_DAILY_VOLATILITY, len(settings.FX_START))
    rows = []
    for (currency, _start), step in zip(settings.FX_START.items(), steps, strict=True):
        rate = 1.0 if currency == settings.BASE_CURRENCY else previous[currency] * np.exp(step)
        rows.append((day.isoformat(), currency, round(float(rate), 6)))
    conn.executemany("insert or replace into fx_rates values (?, ?, ?)", rows)
    return len(rows)
