"""The CRM's customers: who signs up each day and how existing customers change."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timedelta
from itertools import combinations

import numpy as np

from demo import settings
from demo.crm import COUNTRY_CODES, CUSTOMER_COLUMNS, max_updated_at
from demo.timeutil import api_timestamps, day_seconds

STREAM_NEW, STREAM_UPDATE = 10, 11

COUNTRY_WEIGHTS = np.array([c[0] for c in settings.COUNTRIES.values()])
COUNTRY_WEIGHTS = COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum()
DIAL_CODES = {
    "US": "+1", "CA": "+1", "GB": "+44", "DE": "+49", "FR": "+33", "ES": "+34", "PL": "+48",
    "JP": "+81", "AU": "+61", "SE": "+46",
}  # fmt: skip

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


class Draws:
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
    draws = Draws(rng, count)
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


def change(draws: Draws, i: int, kind: int, row: dict, updated_at: str) -> dict:
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
    draws = Draws(rng, count)
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
        changed = change(draws, i, kinds[i], row, stamps[i])
        rows.append((*(changed[c] for c in CUSTOMER_COLUMNS[1:]), changed["id"]))
    sets = ", ".join(f"{c} = ?" for c in CUSTOMER_COLUMNS[1:])
    conn.executemany(f"update customers set {sets} where id = ?", rows)
    return len(rows)
