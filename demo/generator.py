"""Simulate the shop day by day: `generate` builds a history, `advance` adds the next day."""

from __future__ import annotations

import logging
import multiprocessing
import secrets
import shutil
import sqlite3
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from demo import crm, customers, events, fx, lifecycle, orders, settings, shop
from demo.faults import FileFaults
from demo.state import (
    API_DB,
    EVENTS_DIR,
    MANIFEST_FILE,
    SHOP_DB,
    STATE_FILE,
    TOKEN_FILE,
    DemoState,
    load_manifest,
    load_state,
    save_manifest,
    save_state,
)

log = logging.getLogger(__name__)

STREAM_DRIFT = 40
SALES_CHANNELS = ("web", "app", "marketplace")
PROCESS_THRESHOLD = 500_000  # events a day from which the files are written in another process


def connect_api(demo_dir: Path) -> sqlite3.Connection:
    """Open `api.sqlite`, the store behind the CRM and FX API."""
    conn = sqlite3.connect(demo_dir / API_DB, isolation_level=None)
    conn.execute("pragma synchronous = normal")
    return conn


def _daily(per_scale: int, scale: float, day: date) -> int:
    """A day's volume: per-scale volume times scale, with the weekday pattern."""
    return max(1, round(per_scale * scale * settings.WEEKDAY_FACTOR[day.weekday()]))


def generate(
    demo_dir: Path,
    days: int,
    scale: float,
    seed: int = settings.DEFAULT_SEED,
    end_date: date | None = None,
    faults: FileFaults | None = None,
    force: bool = False,
) -> DemoState:
    """Simulate `days` days of history ending on `end_date` (default: today UTC).

    Raises:
        FileExistsError: when `demo_dir` already holds a demo and `force` is not set.
    """
    if days < 1 or scale <= 0:
        raise ValueError(f"days must be >= 1 and scale > 0, got days={days}, scale={scale}")
    demo_dir = Path(demo_dir)
    if (demo_dir / STATE_FILE).exists():
        if not force:
            raise FileExistsError(
                f"{demo_dir} already holds a demo: use `advance`, or `generate --force`"
            )
        for name in (STATE_FILE, MANIFEST_FILE, TOKEN_FILE, SHOP_DB, API_DB):
            for path in demo_dir.glob(name + "*"):
                path.unlink()
        shutil.rmtree(demo_dir / EVENTS_DIR, ignore_errors=True)
    demo_dir.mkdir(parents=True, exist_ok=True)
    end = end_date or datetime.now(UTC).date()
    first = end - timedelta(days=days - 1)
    token_path = demo_dir / TOKEN_FILE
    token_path.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
    token_path.chmod(0o600)
    state = DemoState(seed, scale, first.isoformat(), (first - timedelta(days=1)).isoformat())
    with _connections(demo_dir, bulk=True) as (api, db):
        crm.create_schema(api)
        fx.create_schema(api)
        shop.create_schema(db, indexes=False)
        for offset in range(settings.FX_LEAD_DAYS, 0, -1):
            fx.publish(api, seed, first - timedelta(days=offset))
    save_manifest(demo_dir, {"files": []})
    _simulate(demo_dir, state, days, faults or FileFaults(), "generate", bulk=True)
    with _connections(demo_dir) as (_, db):
        shop.create_indexes(db)
    return state


def advance(demo_dir: Path, days: int = 1, faults: FileFaults | None = None) -> DemoState:
    """Simulate the next `days` days after the last simulated one."""
    demo_dir = Path(demo_dir)
    state = load_state(demo_dir)
    _simulate(demo_dir, state, days, faults or FileFaults(), "advance")
    return state


class _connections:
    """Both SQLite stores, each in one transaction committed together on success.

    `bulk` (used while `generate` builds a fresh history, which nobody reads yet) writes
    without a journal, so every page is written once (a failed `generate` must be redone with
    `--force`); otherwise the stores use WAL, so readers such as the loaders are never blocked.
    """

    def __init__(self, demo_dir: Path, bulk: bool = False) -> None:
        self.api = connect_api(demo_dir)
        self.db = shop.connect(demo_dir)
        for conn in (self.api, self.db):
            conn.execute(f"pragma journal_mode = {'off' if bulk else 'wal'}")

    def __enter__(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        self.api.execute("begin")
        self.db.execute("begin")
        return self.api, self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        for conn in (self.api, self.db):
            conn.execute("rollback" if exc_type else "commit")
            conn.close()


def _simulate(
    demo_dir: Path,
    state: DemoState,
    days: int,
    faults: FileFaults,
    command: str,
    bulk: bool = False,
) -> None:
    manifest = load_manifest(demo_dir)
    simulated = []
    drift = faults.drift
    for _ in range(days):
        day = state.last + timedelta(days=1)
        started = time.perf_counter()
        _simulate_day(demo_dir, state, day, faults, manifest, bulk)
        # Drift starts once and stays; later days of this run need not record it again.
        faults = FileFaults(faults.malformed_rate, faults.bad_orders_rate, None)
        state.last_day = day.isoformat()
        simulated.append(day.isoformat())
        save_manifest(demo_dir, manifest)
        save_state(demo_dir, state)
        log.info("simulated %s in %.1f s", day, time.perf_counter() - started)
    state.runs.append(
        {
            "command": command,
            "days": simulated,
            "malformed_rate": faults.malformed_rate,
            "bad_orders_rate": faults.bad_orders_rate,
            "drift": drift,
        }
    )
    save_state(demo_dir, state)


def _start_drift(db: sqlite3.Connection, state: DemoState, kind: str, day: date) -> None:
    """Record a schema drift starting on `day` (and add the new orders column for `added`)."""
    if kind in state.drift_kinds():
        log.warning("drift %s already in effect since earlier; nothing more to do", kind)
        return
    entry: dict[str, object] = {"kind": kind, "from_day": day.isoformat()}
    if kind == "added":
        db.execute("alter table orders add column sales_channel varchar(16)")
        entry.update(events_column="session_id", orders_column="sales_channel")
    elif kind == "renamed":
        entry.update(events_column_from="device", events_column_to="device_type")
    else:
        entry.update(events_column="customer_id", events_type_from="int64", events_type_to="string")
    state.drift.append(entry)


def _event_writer(events_today: int) -> Executor:
    """An executor for the day's event files: a forked process for big days, else a thread."""
    if events_today >= PROCESS_THRESHOLD and "fork" in multiprocessing.get_all_start_methods():
        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-events")


def _fill_sales_channel(
    db: sqlite3.Connection, seed: int, day: date, order_ids: np.ndarray
) -> None:
    """Fill the column added by `added` drift for the day's orders."""
    rng = np.random.default_rng([seed, day.toordinal(), STREAM_DRIFT])
    channel = rng.integers(0, len(SALES_CHANNELS), len(order_ids)).tolist()
    db.executemany(
        "update orders set sales_channel = ? where order_id = ?",
        zip([SALES_CHANNELS[c] for c in channel], order_ids.tolist(), strict=True),
    )


def _write_events(
    ctx: events.EventContext, state: DemoState, day: date, placed: orders.DayOrders
) -> tuple[list[dict], int]:
    """Write the day's event files and the late files for the two days before."""
    scale = state.scale
    entries, seq = events.write_day(
        ctx, day, _daily(settings.EVENTS_PER_SCALE, scale, day), placed, state.next_event_seq
    )
    first = date.fromisoformat(state.first_day)
    late_plan = ((1, 0.02, "parquet", 0.002), (2, 0.005, "jsonl.gz", 0.0))
    for back, share, fmt, duplicate_share in late_plan:
        earlier = day - timedelta(days=back)
        if earlier < first:
            continue
        volume = _daily(settings.EVENTS_PER_SCALE, scale, earlier)
        duplicates = max(1, round(volume * duplicate_share)) if duplicate_share else 0
        late, seq = events.write_late(
            ctx, day, earlier, max(1, round(volume * share)), seq, fmt, duplicates
        )
        entries += late
    return entries, seq


def _simulate_day(
    demo_dir: Path, state: DemoState, day: date, faults: FileFaults, manifest: dict, bulk: bool
) -> None:
    seed, scale = state.seed, state.scale
    opening = day.isoformat() == state.first_day
    with _connections(demo_dir, bulk) as (api, db):
        if faults.drift:
            _start_drift(db, state, faults.drift, day)
        crm.create_schema(api)  # idempotent; brings a store from an older version up to date
        fx.publish(api, seed, day)
        crm.simulate_campaigns(api, seed, day, opening)
        last_old = crm.max_customer_id(api)
        customers.update_customers(
            api, seed, day, round(settings.UPDATED_CUSTOMERS_PER_SCALE * scale), last_old
        )
        new_count = _daily(settings.NEW_CUSTOMERS_PER_SCALE, scale, day)
        crm.insert_customers(api, customers.new_customers(seed, day, last_old + 1, new_count))
        last_customer = last_old + new_count
        if opening:
            lifecycle.create_products(db, seed, day, scale)
        else:
            lifecycle.update_products(db, day)
            changes = lifecycle.advance_orders(db, day)
            log.debug("order changes on %s: %s", day, changes)
        plan = orders.plan_orders(
            db,
            seed,
            day,
            _daily(settings.ORDERS_PER_SCALE, scale, day),
            last_old + 1,
            last_customer,
            crm.country_codes(api),
            fx.latest_rates(api, day),
            faults.bad_orders_rate,
        )
        products = np.array(
            db.execute(
                "select product_id, cast(round(list_price * 100) as integer) from products "
                "where is_active = 1 order by product_id"
            ).fetchall(),
            dtype=np.int64,
        )
        ctx = events.EventContext(
            demo_dir,
            seed,
            last_customer,
            products,
            crm.campaign_slugs(api),
            state.drift_kinds(),
            faults.malformed_rate,
        )
        # event files are written while SQLite stores the orders (see docs/demo.md)
        with _event_writer(_daily(settings.EVENTS_PER_SCALE, scale, day)) as pool:
            written = pool.submit(_write_events, ctx, state, day, plan.orders)
            orders.insert_orders(db, plan)
            if "added" in state.drift_kinds():
                _fill_sales_channel(db, seed, day, plan.orders.order_id)
            entries, state.next_event_seq = written.result()
    manifest["files"].extend(entries)
