"""The dbt project built on a real demo load, on DuckDB and on PostgreSQL.

One scenario per warehouse (module-scoped, so dbt runs a handful of times, not per test):
generate a small demo with some refused orders and malformed event lines, load it with the
real loaders, ``dbt build``; then advance the demo twice, load and run ``fct_orders`` and the
event chain (``stg_events__events`` → ``int_events_sessionized``, both incremental, →
``fct_sessions``) after each advance, and finally rebuild them with ``--full-refresh``. The
tests assert on what the scenario recorded.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.dbt import DbtProject, DbtRun, ingest
from tests.support.env import environment
from tests.support.warehouse import fresh_env, query

logger = logging.getLogger(__name__)
END_DATE = date(2026, 10, 20)
ORDER_COLUMNS = (
    "order_id, customer_id, customer_order_number, is_first_order, status, is_revenue, "
    "currency, subtotal, discount_amount, shipping_amount, total_amount, net_amount, "
    "fx_rate_date, fx_rate, total_amount_base, net_amount_base, line_count, item_count, "
    "created_at, order_date, updated_at"
)
# fct_sessions without its watermark (_sessionized_load_id: the run that last sessionised it)
SESSION_COLUMNS = (
    "session_id, anonymous_id, customer_id, session_number, started_at, ended_at, "
    "session_date, duration_seconds, landing_page_url, traffic_source, traffic_medium, "
    "utm_campaign, device, event_count, page_view_count, has_product_view, has_add_to_cart, "
    "has_checkout_started, is_converted"
)
# Every column of the event chain's tables, in a stable order, to compare incremental runs
# with a full refresh (stg_events__events' load columns are left out: a full refresh keeps the
# same version, so they match, but they say nothing about the marts).
EVENT_SQL = {
    "staging.stg_events__events": (
        "select event_id, anonymous_id, customer_id, event_type, occurred_at, product_id, "
        "order_id, price from staging.stg_events__events order by event_id"
    ),
    "intermediate.int_events_sessionized": (
        "select event_id, session_id, session_number, event_sequence "
        "from intermediate.int_events_sessionized order by event_id"
    ),
    "marts.fct_sessions": f"select {SESSION_COLUMNS} from marts.fct_sessions order by session_id",
}


@dataclass
class Scenario:
    """What one warehouse's run of the scenario produced."""

    env: dict[str, str]
    demo_dir: Path
    build: DbtRun
    truth: dict[str, Any]
    live_bad_orders: set[int]
    revenue: dict[tuple[str, str], tuple[int, Decimal]]
    quarantined_orders: set[int]
    loader_rejections: int
    marts_counts: dict[str, int]
    customer_values: list[tuple[Any, ...]]
    incremental_runs: list[DbtRun]
    incremental_orders: list[tuple[Any, ...]]
    full_refresh: DbtRun
    full_refresh_orders: list[tuple[Any, ...]]
    incremental_events: dict[str, list[tuple[Any, ...]]]
    full_refresh_events: dict[str, list[tuple[Any, ...]]]
    docs: DbtRun | None
    docs_dir: Path


@contextmanager
def _timed(kind: str, step: str) -> Iterator[None]:
    start = time.monotonic()
    yield
    logger.info("%s: %s took %.1f s", kind, step, time.monotonic() - start)


def _live_bad_orders(demo_dir: Path) -> set[int]:
    """Orders the demo made invalid that are still live (the ones dbt must refuse)."""
    from demo import truth

    api = sqlite3.connect(demo_dir / "api.sqlite")
    shop = sqlite3.connect(demo_dir / "shop.sqlite")
    try:
        customers = {row[0] for row in api.execute("select id from customers")}
        bad = truth.bad_order_ids(shop, customers)
        live_sql = "select order_id from orders where deleted_at is null"
        live = {row[0] for row in shop.execute(live_sql)}
    finally:
        api.close()
        shop.close()
    return bad & live


def _warehouse_env(kind: str, tmp: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    env = {"DLT_DATA_DIR": str(tmp / "dlt"), "RUNTIME__LOG_LEVEL": "WARNING"}
    return {**env, **fresh_env(kind, tmp, server)}


pytestmark = pytest.mark.slow

# One scenario per warehouse; under `pytest -n 2 --dist loadgroup` each runs on its own worker.
WAREHOUSES = [
    pytest.param("duckdb", marks=pytest.mark.xdist_group("dbt_duckdb")),
    pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.xdist_group("dbt_postgres")]),
]


@pytest.fixture(scope="module", params=WAREHOUSES)
def scenario(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    from demo import generator, truth
    from demo.faults import FileFaults

    kind = request.param
    tmp = tmp_path_factory.mktemp(f"dbt_{kind}")
    demo_dir = tmp / "demo"
    env = _warehouse_env(kind, tmp, request)
    env["DEMO_DIR"] = str(demo_dir)
    dbt = DbtProject(tmp / "dbt")
    with environment(env):
        with _timed(kind, "demo generate"):
            generator.generate(
                demo_dir,
                days=10,
                scale=0.05,
                end_date=END_DATE,
                faults=FileFaults(malformed_rate=0.02, bad_orders_rate=0.004),
            )
        with _timed(kind, "ingest"):
            ingest(demo_dir)
        with _timed(kind, "dbt build"):
            build = dbt.invoke("build")
        docs = None
        if kind == "duckdb":  # the docs site does not depend on the warehouse: build it once
            with _timed(kind, "dbt docs generate --static"):
                docs = dbt.invoke("docs", "generate", "--static")
        expected = truth.compute(demo_dir)
        live_bad = _live_bad_orders(demo_dir)
        revenue = {
            (str(day), country): (orders, Decimal(str(amount)))
            for day, country, orders, amount in query(
                env, "select order_date, country_code, orders, revenue from marts.fct_daily_revenue"
            )
        }
        quarantined = {
            int(key)
            for (key,) in query(
                env,
                "select record_key from quarantine.quarantine_rows "
                "where source_table = 'raw_shop.orders'",
            )
        }
        (loader_rejections,) = query(
            env, "select count(*) from quarantine.quarantine_rows where layer = 'load'"
        )[0]
        marts_counts = {
            name: query(env, f"select count(*) from {name}")[0][0]
            for name in ("marts.dim_customers", "marts.fct_orders", "staging.stg_events__events")
        }
        customer_values = query(env, "select * from marts.dim_customers")

        incremental_runs = []
        for _ in range(2):
            with _timed(kind, "demo advance + ingest"):
                generator.advance(demo_dir, days=1, faults=FileFaults(bad_orders_rate=0.02))
                ingest(demo_dir)
            with _timed(kind, "dbt run +fct_orders +fct_sessions (incremental)"):
                incremental_runs.append(
                    dbt.invoke("run", "--select", "+fct_orders", "+fct_sessions")
                )
        order_sql = f"select {ORDER_COLUMNS} from marts.fct_orders order by order_id"
        incremental_orders = query(env, order_sql)
        incremental_events = {name: query(env, sql) for name, sql in EVENT_SQL.items()}
        with _timed(kind, "dbt run (orders and event chain) --full-refresh"):
            full_refresh = dbt.invoke(
                "run",
                "--select",
                "fct_orders",
                "stg_events__events",
                "int_events_sessionized",
                "fct_sessions",
                "--full-refresh",
            )
        full_refresh_orders = query(env, order_sql)
        full_refresh_events = {name: query(env, sql) for name, sql in EVENT_SQL.items()}
    return Scenario(
        env=env,
        demo_dir=demo_dir,
        build=build,
        truth=expected,
        live_bad_orders=live_bad,
        revenue=revenue,
        quarantined_orders=quarantined,
        loader_rejections=loader_rejections,
        marts_counts=marts_counts,
        customer_values=customer_values,
        incremental_runs=incremental_runs,
        incremental_orders=incremental_orders,
        full_refresh=full_refresh,
        full_refresh_orders=full_refresh_orders,
        incremental_events=incremental_events,
        full_refresh_events=full_refresh_events,
        docs=docs,
        docs_dir=dbt.work_dir / "target",
    )


def test_dbt_build_passes_on_a_small_demo_load(scenario: Scenario) -> None:
    assert scenario.build.failures() == []
    assert scenario.build.success
    assert scenario.build.warnings() == []
    assert len(scenario.build.results) > 200  # models, seeds, snapshot, data and unit tests


def test_daily_revenue_matches_ground_truth_to_the_cent(scenario: Scenario) -> None:
    expected = {
        (row["order_date"], row["country_code"]): (row["orders"], Decimal(row["revenue"]))
        for row in scenario.truth["revenue_by_day_country"]
    }
    assert expected, "the demo produced no revenue at all"
    assert scenario.revenue == expected


def test_marts_row_counts_match_the_source_systems(scenario: Scenario) -> None:
    counts = scenario.truth["counts"]
    assert scenario.marts_counts["marts.dim_customers"] == counts["customers"]
    assert scenario.marts_counts["marts.fct_orders"] == (
        counts["orders_live"] - len(scenario.live_bad_orders)
    )
    assert scenario.marts_counts["staging.stg_events__events"] == counts["events"]


def test_refused_orders_are_quarantined_not_dropped(scenario: Scenario) -> None:
    assert scenario.live_bad_orders, "the scenario should contain invalid orders"
    assert scenario.live_bad_orders <= scenario.quarantined_orders


def test_loader_rejections_show_up_in_quarantine(scenario: Scenario) -> None:
    assert scenario.truth["counts"]["events_malformed"] > 0
    assert scenario.loader_rejections == scenario.truth["counts"]["events_malformed"]


def test_customer_mart_exposes_no_email_or_phone(scenario: Scenario) -> None:
    assert scenario.customer_values
    for row in scenario.customer_values:
        for value in row:
            assert not (isinstance(value, str) and "@" in value), row


def test_two_incremental_runs_after_advances_equal_a_full_refresh(scenario: Scenario) -> None:
    for run in [*scenario.incremental_runs, scenario.full_refresh]:
        assert run.failures() == []
    assert len(scenario.incremental_orders) > scenario.marts_counts["marts.fct_orders"]
    assert scenario.incremental_orders == scenario.full_refresh_orders


def test_incremental_event_chain_equals_a_full_refresh(scenario: Scenario) -> None:
    sessions = scenario.incremental_events["marts.fct_sessions"]
    events = scenario.incremental_events["staging.stg_events__events"]
    assert len(events) > scenario.marts_counts["staging.stg_events__events"]  # advances loaded
    assert sessions
    for name, rows in scenario.full_refresh_events.items():
        assert scenario.incremental_events[name] == rows, name


def test_static_docs_site_is_generated_offline_with_every_mart(scenario: Scenario) -> None:
    if scenario.docs is None:
        assert scenario.env["WAREHOUSE"] == "postgres"  # generated once, on DuckDB
        return
    assert scenario.docs.success, scenario.docs.output[-3000:]
    page = (scenario.docs_dir / "static_index.html").read_text(encoding="utf-8")
    for mart in ("dim_customers", "fct_orders", "fct_daily_revenue", "fct_sessions"):
        assert f"model.customer_analytics.{mart}" in page
    assert '<script src="http' not in page  # self-contained: nothing fetched from the network
