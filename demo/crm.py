"""CRM store behind the demo API (`api.sqlite`): customers and marketing campaigns."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timedelta
from itertools import combinations

import numpy as np

from demo import settings
from demo.timeutil import api_timestamps, day_seconds

STREAM_NEW, STREAM_UPDATE, STREAM_CAMPAIGN = 10, 11, 12

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
    # Hard-deleted customers: what the API's deleted-records endpoint serves (`id`,
    # `deleted_at`). `record` keeps the last row for the ground truth only; it is never served.
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
COUNTRY_WEIGHTS = np.array([c[0] for c in settings.COUNTRIES.values()])
COUNTRY_WEIGHTS = COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum()
DIAL_CODES = {
    "US": "+1", "CA": "+1", "GB": "+44", "DE": "+49", "FR": "+33", "ES": "+34", "PL": "+48",
    "JP": "+81", "AU": "+61", "SE": "+46",
}  # fmt: skip
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


TAG_SETS = (
    ["[]"]
    + [json.dumps([t]) for t in settings.CUSTOMER_TAGS]
    + [json.dumps(list(pair)) for pair in combinations(settings.CUSTOMER_TAGS, 2)]
)
_pairs = len(TAG_SETS) - 1 - len(settings.CUSTOMER_TAGS)
TAG_P = (
    [0.5]
    + [0.35 / len(settings.CUSTOMER_TAGS)] * len(settings.CUSTOMER_TAGS)
    + [0.15 / _pairs] * _pairs
)


class _Draws:
    """Every random attribute of `count` customers, drawn at once (vectorised)."""

    def __init__(self, rng: np.random.Generator, count: int) -> None:
        self.country = rng.choice(len(COUNTRY_CODES), size=count, p=COUNTRY_WEIGHTS).tolist()
        self.city = rng.integers(0, 1 << 30, count).tolist()
        self.style = rng.random(count).tolist()
        self.pad = rng.random(count).tolist()
        self.phone_null = (rng.random(count) < 0.3).tolist()
        self.phone = rng.integers(0, 10**9, count).tolist()
        self.address_null = (rng.random(count) < 0.12).tolist()
        self.street = rng.integers(0, len(settings.STREETS), count).tolist()
        self.number = rng.integers(1, 250, count).tolist()
        self.postal = rng.integers(10000, 99999, count).tolist()
        self.tags = rng.choice(len(TAG_SETS), size=count, p=TAG_P).tolist()

    def place(self, i: int) -> tuple[str, str]:
        """Country and city of row `i`."""
        country = COUNTRY_CODES[self.country[i]]
        cities = settings.COUNTRIES[country][2]
        return country, cities[self.city[i] % len(cities)]

    def email(self, i: int, local: str, domain: str) -> str:
        """An e-mail address as people type it: mixed case, sometimes padded with spaces."""
        email = f"{local}@{domain}"
        if self.style[i] < 0.15:
            email = email.title()
        elif self.style[i] < 0.20:
            email = email.upper()
        if self.pad[i] < 0.035:
            email = f" {email} "
        elif self.pad[i] < 0.07:
            email = f"{email}  "
        return email

    def phone_text(self, i: int, country: str) -> str | None:
        """A phone number with the country's dialling code, or None (not given)."""
        if self.phone_null[i]:
            return None
        digits = f"{self.phone[i]:09d}"
        return f"{DIAL_CODES[country]} {digits[:3]} {digits[3:6]} {digits[6:]}"

    def address(self, i: int, country: str, city: str) -> tuple[str | None, ...]:
        """line1, city, postal_code, country_code (all None when no address is known)."""
        if self.address_null[i]:
            return (None, None, None, None)
        line1 = f"{self.number[i]} {settings.STREETS[self.street[i]]}"
        return (line1, city, str(self.postal[i]), country)


def _domain(customer_id: int) -> str:
    return settings.EMAIL_DOMAINS[customer_id % len(settings.EMAIL_DOMAINS)]


def new_customers(seed: int, day: date, first_id: int, count: int) -> list[tuple]:
    """The customers who sign up on `day`, with ids from `first_id` (one tuple per row)."""
    rng = np.random.default_rng([seed, day.toordinal(), STREAM_NEW])
    stamps = api_timestamps(day, np.sort(day_seconds(rng, count)))
    firsts = rng.integers(len(settings.FIRST_NAMES), size=count).tolist()
    lasts = rng.integers(len(settings.LAST_NAMES), size=count).tolist()
    channels = rng.choice(
        len(settings.SIGNUP_CHANNELS), size=count, p=settings.SIGNUP_CHANNEL_WEIGHTS
    )
    opt_in = (rng.random(count) < 0.55).astype(int).tolist()
    draws = _Draws(rng, count)
    rows = []
    for i, channel in enumerate(channels.tolist()):
        customer_id = first_id + i
        country, city = draws.place(i)
        first, first_slug = settings.FIRST_NAMES[firsts[i]]
        last, last_slug = settings.LAST_NAMES[lasts[i]]
        local = f"{first_slug}.{last_slug}{customer_id}"
        rows.append(
            (
                customer_id,
                draws.email(i, local, _domain(customer_id)),
                first,
                last,
                draws.phone_text(i, country),
                country,
                city,
                settings.SIGNUP_CHANNELS[channel],
                opt_in[i],
                stamps[i],
                stamps[i],
                *draws.address(i, country, city),
                TAG_SETS[draws.tags[i]],
            )
        )
    return rows


def insert_customers(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    """Insert customer rows made by `new_customers`."""
    marks = ", ".join("?" * len(CUSTOMER_COLUMNS))
    names = ", ".join(CUSTOMER_COLUMNS)
    conn.executemany(f"insert into customers ({names}) values ({marks})", rows)


def max_updated_at(conn: sqlite3.Connection, table: str) -> str | None:
    """The newest `updated_at` of a CRM table."""
    return conn.execute(f"select max(updated_at) from {table}").fetchone()[0]


def _change(draws: _Draws, i: int, kind: int, row: dict, updated_at: str) -> dict:
    """One realistic change to a customer: phone, opt-in, e-mail, tags or a move abroad."""
    if kind == 0:
        row["phone"] = draws.phone_text(i, row["country_code"])
    elif kind == 1:
        row["marketing_opt_in"] = 1 - row["marketing_opt_in"]
    elif kind == 2:
        local = row["email"].strip().partition("@")[0].lower()
        row["email"] = draws.email(i, local, _domain(row["id"] + 1 + i % 3))
    elif kind == 3:
        row["tags"] = TAG_SETS[draws.tags[i]]
    else:
        country, city = draws.place(i)
        row["country_code"], row["city"] = country, city
        line1, a_city, postal, a_country = draws.address(i, country, city)
        row.update(
            address_line1=line1,
            address_city=a_city,
            address_postal_code=postal,
            address_country_code=a_country,
        )
    row["updated_at"] = updated_at
    return row


def update_customers(
    conn: sqlite3.Connection, seed: int, day: date, count: int, last_old_id: int
) -> int:
    """Change `count` customers who signed up before `day`, plus a few late-committed changes.

    Late-committed changes carry an `updated_at` up to 15 minutes older than the newest
    `updated_at` before this day: a cursor without an overlap window misses them.

    Returns:
        The number of rows updated.
    """
    if last_old_id < 1 or count < 1:
        return 0
    rng = np.random.default_rng([seed, day.toordinal(), STREAM_UPDATE])
    newest_before = max_updated_at(conn, "customers")
    count = min(count, last_old_id)
    ids = np.sort(rng.choice(last_old_id, size=count, replace=False) + 1).tolist()
    late_count = min(count, max(1, count // 200))
    stamps = api_timestamps(day, day_seconds(rng, count))
    newest = datetime.strptime(newest_before, "%Y-%m-%dT%H:%M:%SZ")
    for i in range(late_count):  # the first few ids commit late with older timestamps
        stamps[i] = (newest - timedelta(seconds=int(rng.integers(1, 900)))).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    kinds = rng.choice(5, size=count, p=(0.35, 0.25, 0.15, 0.15, 0.10)).tolist()
    draws = _Draws(rng, count)
    conn.row_factory = sqlite3.Row
    updated = []
    for start in range(0, count, 900):
        part = ids[start : start + 900]
        marks = ", ".join("?" * len(part))
        found = conn.execute(f"select * from customers where id in ({marks}) order by id", part)
        updated.extend(dict(r) for r in found)
    conn.row_factory = None
    rows = []
    for i, row in enumerate(updated):
        if row["created_at"] > stamps[i]:  # a late change never predates the signup
            continue
        changed = _change(draws, i, kinds[i], row, stamps[i])
        rows.append((*(changed[c] for c in CUSTOMER_COLUMNS[1:]), changed["id"]))
    sets = ", ".join(f"{c} = ?" for c in CUSTOMER_COLUMNS[1:])
    conn.executemany(f"update customers set {sets} where id = ?", rows)
    return len(rows)


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
