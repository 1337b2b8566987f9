"""CRM store behind the demo API (`api.sqlite`): its tables, customer rows, and campaigns.

Who signs up each day and how customers change is drawn in `customers.py`.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta

import numpy as np

from demo import settings

STREAM_CAMPAIGN = 12

DDL = (
    """
    create table if not exists customers (
        id integer primary key,
        email text not null,
        first_name text,
        last_name text,
        phone text,
        country_code text not null,
        city text,
        signup_channel text not null,
        marketing_opt_in integer not null,
        created_at text not null,
        updated_at text not null,
        address_line1 text,
        address_city text,
        address_postal_code text,
        address_country_code text,
        tags text not null,
        deleted_at text
    )
    """,
    "create index if not exists customers_updated_at on customers (updated_at, id)",
    # hard-deleted customers for the deleted-records endpoint; `record` is for the truth only
    """
    create table if not exists deleted_customers (
        id integer primary key,
        deleted_at text not null,
        updated_at text not null,
        record text not null
    )
    """,
    "create index if not exists deleted_customers_updated_at on deleted_customers (updated_at, id)",
    """
    create table if not exists campaigns (
        id integer primary key,
        name text not null,
        channel text not null,
        budget real not null,
        currency text not null,
        started_at text not null,
        ended_at text,
        updated_at text not null
    )
    """,
    "create index if not exists campaigns_updated_at on campaigns (updated_at, id)",
)

COUNTRY_CODES = tuple(settings.COUNTRIES)
CUSTOMER_COLUMNS = (
    "id", "email", "first_name", "last_name", "phone", "country_code", "city", "signup_channel",
    "marketing_opt_in", "created_at", "updated_at", "address_line1", "address_city",
    "address_postal_code", "address_country_code", "tags",
)  # fmt: skip


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the CRM tables of the API store (and add what a store from an older version lacks)."""
    for statement in DDL:
        conn.execute(statement)
    columns = {r[1] for r in conn.execute("pragma table_info(customers)")}
    if "deleted_at" not in columns:
        conn.execute("alter table customers add column deleted_at text")


def insert_customers(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    """Insert customer rows made by `new_customers`."""
    marks = ", ".join("?" * len(CUSTOMER_COLUMNS))
    names = ", ".join(CUSTOMER_COLUMNS)
    conn.executemany(f"insert into customers ({names}) values ({marks})", rows)


def max_updated_at(conn: sqlite3.Connection, table: str) -> str | None:
    """The newest `updated_at` of a CRM table."""
    return conn.execute(f"select max(updated_at) from {table}").fetchone()[0]


def max_customer_id(conn: sqlite3.Connection) -> int:
    """The highest customer id ever issued, hard-deleted ones included (ids are not reused)."""
    sql = (
        "select max(id) from (select id from customers union all select id from deleted_customers)"
    )
    return conn.execute(sql).fetchone()[0] or 0


def country_codes(conn: sqlite3.Connection) -> np.ndarray:
    """Current country index (into COUNTRY_CODES) per customer id; position 0 is unused.

    A hard-deleted customer's position holds 0 (the first country).
    """
    index = {c: i for i, c in enumerate(COUNTRY_CODES)}
    rows = conn.execute("select id, country_code from customers order by id").fetchall()
    codes = np.zeros(max_customer_id(conn) + 1, dtype=np.int8)
    for customer_id, country in rows:
        codes[customer_id] = index[country]
    return codes


def _campaign(rng: np.random.Generator, campaign_id: int, started: datetime) -> tuple:
    channel = settings.CAMPAIGN_CHANNELS[int(rng.integers(len(settings.CAMPAIGN_CHANNELS)))]
    themes = ("Spring Sale", "Back to School", "Black Friday", "Winter Cosy", "Fête", "Launch")
    theme = themes[int(rng.integers(len(themes)))]
    region = ("US", "EU", "UK", "APAC")[int(rng.integers(4))]
    currency = {"US": "USD", "EU": "EUR", "UK": "GBP", "APAC": "AUD"}[region]
    name = f"{theme} {started.year} – {region} #{campaign_id}"
    budget = round(float(rng.integers(500, 50_000)) + float(rng.integers(0, 100)) / 100, 2)
    stamp = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (campaign_id, name, channel, budget, currency, stamp, None, stamp)


def simulate_campaigns(conn: sqlite3.Connection, seed: int, day: date, first_day: bool) -> None:
    """Start new campaigns (a dozen on the first day) and change or end a running one."""
    rng = np.random.default_rng([seed, day.toordinal(), STREAM_CAMPAIGN])
    next_id = (conn.execute("select max(id) from campaigns").fetchone()[0] or 0) + 1
    start = datetime(day.year, day.month, day.day)
    if first_day:
        count = settings.INITIAL_CAMPAIGNS
        starts = [start - timedelta(days=int(d)) for d in rng.integers(1, 60, count)]
    else:
        count = int(rng.random() < 0.3)
        starts = [start + timedelta(seconds=int(rng.integers(0, 86_400)))] * count
    rows = [_campaign(rng, next_id + i, s) for i, s in enumerate(starts)]
    conn.executemany("insert into campaigns values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    if first_day:
        return
    running = [
        r[0]
        for r in conn.execute(
            "select id from campaigns where ended_at is null and started_at < ? order by id",
            (start.strftime("%Y-%m-%dT%H:%M:%SZ"),),
        )
    ]
    if len(running) > 3:
        target = running[int(rng.integers(len(running)))]
        stamp = (start + timedelta(seconds=int(rng.integers(0, 86_400)))).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        if rng.random() < 0.5:
            conn.execute(
                "update campaigns set ended_at = ?, updated_at = ? where id = ?",
                (stamp, stamp, target),
            )
        else:
            conn.execute(
                "update campaigns set budget = round(budget * 1.1, 2), updated_at = ? where id = ?",
                (stamp, target),
            )


def campaign_slugs(conn: sqlite3.Connection) -> list[str]:
    """utm_campaign values: lower-case slugs of the campaign names."""
    names = [r[0] for r in conn.execute("select name from campaigns order by id")]
    return ["_".join(n.lower().replace("–", "").replace("#", "").split()) for n in names]
