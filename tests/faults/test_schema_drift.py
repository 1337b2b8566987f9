"""Schema drift in each source: raw evolves, and no mart changes without a loud, named failure.

Each cycle loads a small demo shop, lets every source drift on the next day (the demo's drift
switches: `ApiFaults(drift=...)` for the CRM and FX APIs, `advance --drift` for the event files,
and the shop database altered the way a DBA would), loads again, and checks:

- raw: an added column appears; a removed column stays and is null for the new rows; a retyped
  API value lands in dlt's variant column (`<col>__v_text`); a retyped event column is cast by
  the loader's declared types; a retyped database column fails the shop load naming the column;
- dbt: the schema-drift guards (test `schema_drift` on each source table) fail naming the
  table and the column for every drift that would change a mart, and pass for the rest; under
  `make faults` a whole `dbt build` then skips every mart downstream (no mart changes), and a
  cycle with only added columns builds and still matches the ground truth to the cent.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import ingestion
from demo.faults import ApiFaults
from demo.server import running_server
from tests.support.battery import full_battery
from tests.support.dbt import DbtProject, DbtRun
from tests.support.demo import demo_cli, generate
from tests.support.env import environment
from tests.support.warehouse import fresh_env, query

AREA = "schema drift"
END_DATE = date(2026, 11, 18)  # a Wednesday: the drifted next day publishes FX rates
DRIFT_DAY = "2026-11-19"
GUARDS = "test_name:schema_drift"


@dataclass(frozen=True)
class Cycle:
    """One drift cycle: what each source does, and which guards must name which columns."""

    name: str
    api: tuple[str, ...]
    events: str  # demo `advance --drift` kind
    shop_sql: tuple[str, ...]
    guard_errors: dict[str, str]  # failing guard test -> column its message must name
    builds: bool  # a full dbt build passes (only added columns)


CYCLES = {
    "mixed": Cycle(
        "mixed",
        api=("customers:added", "customers:removed", "rates:retyped"),
        events="renamed",  # device -> device_type: one column removed, one added
        shop_sql=(
            "alter table orders add column coupon_code varchar(16)",
            f"update orders set coupon_code = 'WELCOME' where updated_at >= '{DRIFT_DAY}'",
            "alter table orders drop column customer_id",  # nullable (bad orders have none)
        ),
        guard_errors={
            "crm_customers_schema_drift": "signup_channel",
            "fx_rates_schema_drift": "rate__v_text",
            "events_schema_drift": "device",
            "shop_orders_schema_drift": "customer_id",
        },
        builds=False,
    ),
    "retyped": Cycle(
        "retyped",
        api=("customers:retyped", "rates:removed"),
        events="retyped",  # customer_id as text: cast back by the loader's declared int64
        shop_sql=(),
        guard_errors={
            "crm_customers_schema_drift": "created_at__v_text",
            "fx_rates_schema_drift": "rate",
        },
        builds=False,
    ),
    "added": Cycle(
        "added",
        api=("added",),
        events="added",  # events.session_id and orders.sales_channel
        shop_sql=(),
        guard_errors={},
        builds=True,
    ),
}
FAST_CYCLES = ["mixed"]
WAREHOUSES = ["duckdb", "postgres"] if full_battery() else ["duckdb"]
CASES = [
    pytest.param(kind, cycle, marks=pytest.mark.xdist_group(f"drift_{kind}"), id=f"{kind}-{cycle}")
    for kind in WAREHOUSES
    for cycle in (CYCLES if full_battery() else FAST_CYCLES)
]


@dataclass
class World:
    demo_dir: Path
    env: dict[str, str]
    dbt: DbtProject

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        return query(self.env, statement)

    def columns(self, table: str) -> set[str]:
        schema, name = table.split(".")
        rows = self.sql(
            "select column_name from information_schema.columns"
            f" where table_schema = '{schema}' and table_name = '{name}'"
        )
        return {r[0] for r in rows}

    def latest(self, table: str, where: str) -> int:
        """Rows of the table's latest load matching ``where``."""
        return int(
            self.sql(
                f"select count(*) from {table} where {where} and _dlt_load_id ="
                f" (select max(_dlt_load_id) from {table})"
            )[0][0]
        )

    def ingest(self, faults: ApiFaults | None = None, sources: list[str] | None = None) -> Any:
        with (
            environment(self.env),
            running_server(self.demo_dir, port=0, faults=faults) as url,
            environment({"DEMO_API_URL": url, "DEMO_DIR": str(self.demo_dir)}),
        ):
            return ingestion.load(sources=sources)

    def dbt_run(self, *args: str) -> DbtRun:
        with environment(self.env):
            return self.dbt.invoke(*args)


@pytest.fixture(scope="session")
def drift_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("drift_template") / "demo"
    return generate(folder, scale=0.05, end_date=END_DATE)


@pytest.fixture
def world(request: pytest.FixtureRequest, drift_template: Path, tmp_path: Path) -> Iterator[World]:
    kind = request.node.callspec.params["kind"]
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    env = {"DLT_DATA_DIR": str(tmp_path / "dlt"), **fresh_env(kind, tmp_path, server)}
    demo_dir = tmp_path / "demo"
    shutil.copytree(drift_template, demo_dir)
    yield World(demo_dir, env, DbtProject(tmp_path / "dbt"))


def _guard_messages(run: DbtRun) -> dict[str, str]:
    """Guard test name -> its status and message."""
    out = {}
    for result in run.results:
        name = result["unique_id"].split(".")[2]  # test.<project>.<name>.<hash>
        if name.endswith("_schema_drift"):
            out[name] = f"{result['status']}: {result.get('message') or ''}"
    return out


def _marts(world: World) -> dict[str, int]:
    names = [
        "dim_customers",
        "fct_orders",
        "fct_order_items",
        "fct_daily_revenue",
        "fct_sessions",
        "fct_daily_funnel",
        "fct_cohort_retention",
    ]
    return {n: int(world.sql(f"select count(*) from marts.{n}")[0][0]) for n in names}


def _downstream_of_failing_guards(world: World, run: DbtRun) -> set[str]:
    """Marts built from a source table whose drift guard failed (from dbt's manifest)."""
    manifest = json.loads((world.dbt.work_dir / "target" / "manifest.json").read_text())
    parents: dict[str, list[str]] = manifest["parent_map"]
    failing = {
        source
        for r in run.results
        if r["unique_id"].split(".")[2].endswith("_schema_drift") and r["status"] != "pass"
        for source in parents[r["unique_id"]]
    }

    def sources_of(node: str, seen: set[str]) -> set[str]:
        if node in seen:
            return set()
        seen.add(node)
        if node.startswith("source."):
            return {node}
        return set().union(*(sources_of(p, seen) for p in parents.get(node, [])))

    return {
        uid.rsplit(".", 1)[-1]
        for uid in parents
        if uid.startswith("model.") and manifest["nodes"][uid]["path"].startswith("marts/")
        if sources_of(uid, set()) & failing
    }


def _drift_sources(world: World, cycle: Cycle) -> None:
    demo_cli(world.demo_dir, "advance", "--days", "1", "--drift", cycle.events)
    if cycle.shop_sql:
        with sqlite3.connect(world.demo_dir / "shop.sqlite") as db:
            for statement in cycle.shop_sql:
                db.execute(statement)


def _raw_outcomes(world: World, cycle: Cycle) -> dict[str, tuple[str, bool]]:
    """(source, drift) -> (what raw shows, as documented?) for the drifts of this cycle."""
    out: dict[str, tuple[str, bool]] = {}
    customers = world.columns("raw_crm.customers")
    rates = world.columns("raw_fx.rates")
    events = world.columns("raw_events.events")
    orders = world.columns("raw_shop.orders")
    new_customers = world.latest("raw_crm.customers", "true")
    new_rates = world.latest("raw_fx.rates", "true")
    new_events = world.latest("raw_events.events", "true")
    new_orders = world.latest("raw_shop.orders", "true")
    assert min(new_customers, new_rates, new_events, new_orders) > 0, "nothing new was loaded"
    if "customers:added" in cycle.api or "added" in cycle.api:
        filled = world.latest("raw_crm.customers", "loyalty_tier is not null")
        out["crm customers: added"] = (
            f"loyalty_tier added, set on {filled}/{new_customers} new rows",
            "loyalty_tier" in customers and filled == new_customers,
        )
    if "customers:removed" in cycle.api:
        nulls = world.latest("raw_crm.customers", "signup_channel is null")
        out["crm customers: removed"] = (
            f"signup_channel kept, null on {nulls}/{new_customers} new rows",
            "signup_channel" in customers and nulls == new_customers,
        )
    if "customers:retyped" in cycle.api:
        variant = world.latest("raw_crm.customers", "created_at__v_text is not null")
        out["crm customers: retyped"] = (
            f"created_at__v_text holds {variant}/{new_customers} new values",
            "created_at__v_text" in customers and variant == new_customers,
        )
    if "rates:retyped" in cycle.api:
        variant = world.latest("raw_fx.rates", "rate__v_text is not null and rate is null")
        out["fx rates: retyped"] = (
            f"rate__v_text holds {variant}/{new_rates} new values",
            "rate__v_text" in rates and variant == new_rates,
        )
    if "rates:removed" in cycle.api:
        nulls = world.latest("raw_fx.rates", "rate is null")
        out["fx rates: removed"] = (
            f"rate kept, null on {nulls}/{new_rates} new rows",
            "rate" in rates and nulls == new_rates,
        )
    if "added" in cycle.api:
        filled = world.latest("raw_fx.rates", "source is not null")
        out["fx rates: added"] = (
            f"source added, set on {filled}/{new_rates} new rows",
            "source" in rates and filled == new_rates,
        )
    if cycle.events == "renamed":
        renamed = world.latest("raw_events.events", "device is null and device_type is not null")
        out["events: removed (device renamed)"] = (
            f"device kept, null on {renamed}/{new_events} new rows; device_type added",
            "device_type" in events and renamed == new_events,
        )
    if cycle.events == "retyped":
        typed = world.sql(
            "select data_type from information_schema.columns where table_schema ="
            " 'raw_events' and table_name = 'events' and column_name = 'customer_id'"
        )[0][0]
        filled = world.latest("raw_events.events", "customer_id is not null")
        out["events: retyped (customer_id as text)"] = (
            f"cast to the declared int64 ({typed}); {filled} new rows with a customer_id",
            "int" in typed.lower() and filled > 0 and not any("__v_" in c for c in events),
        )
    if cycle.events == "added":
        filled = world.latest("raw_events.events", "session_id is not null")
        out["events: added"] = (
            f"session_id added, set on {filled}/{new_events} new rows",
            "session_id" in events and filled == new_events,
        )
        out["shop orders: added (demo)"] = (
            "sales_channel added",
            "sales_channel" in orders
            and world.latest("raw_shop.orders", "sales_channel is not null") > 0,
        )
    if "coupon_code" in " ".join(cycle.shop_sql):
        filled = world.latest("raw_shop.orders", "coupon_code is not null")
        out["shop orders: added"] = (
            f"coupon_code added, set on {filled} new rows",
            "coupon_code" in orders and filled > 0,
        )
    if "drop column customer_id" in " ".join(cycle.shop_sql):
        nulls = world.latest("raw_shop.orders", "customer_id is null")
        out["shop orders: removed (nullable column)"] = (
            f"customer_id kept, null on {nulls}/{new_orders} new rows",
            "customer_id" in orders and nulls == new_orders,
        )
    return out


@pytest.mark.parametrize(("kind", "cycle_name"), CASES)
def test_drift_evolves_raw_and_never_changes_a_mart_silently(
    kind: str, cycle_name: str, world: World, figure: Any
) -> None:
    cycle = CYCLES[cycle_name]
    first = world.ingest()
    assert first.ok, first.errors
    if full_battery():
        baseline = world.dbt_run("build")
        assert baseline.success, baseline.failures()[:5]
        marts_before = _marts(world)

    _drift_sources(world, cycle)
    second = world.ingest(ApiFaults(drift=cycle.api))
    assert second.ok, second.errors

    raw = _raw_outcomes(world, cycle)
    for case, (observed, ok) in raw.items():
        figure(AREA, f"{case}: raw", observed, "as documented", ok, kind)
    assert all(ok for _, ok in raw.values()), raw

    run = world.dbt_run("build") if full_battery() else world.dbt_run("test", "--select", GUARDS)
    guards = _guard_messages(run)
    assert len(guards) == 7, guards  # every guard ran
    named = {
        test: column
        for test, column in cycle.guard_errors.items()
        if guards.get(test, "").startswith("error") and f"{column} " in guards[test]
    }
    unexpected = {
        test: message
        for test, message in guards.items()
        if test not in cycle.guard_errors and not message.startswith("pass")
    }
    figure(
        AREA,
        f"{cycle.name}: drifts failing dbt with the column named",
        f"{len(named)}/{len(cycle.guard_errors)}",
        "all",
        named == cycle.guard_errors,
        kind,
        detail="; ".join(guards[t].partition("schema drift in ")[2][:200] for t in named),
    )
    figure(
        AREA,
        f"{cycle.name}: guards failing without drift",
        len(unexpected),
        "= 0",
        not unexpected,
        kind,
    )
    assert named == cycle.guard_errors, guards
    assert not unexpected, unexpected

    if full_battery():
        marts_after = _marts(world)
        mart_status = {
            r["unique_id"].rsplit(".", 1)[-1]: r["status"]
            for r in run.results
            if r["unique_id"].startswith("model.")
            and r["unique_id"].rsplit(".", 1)[-1] in marts_before
        }
        if cycle.builds:
            from demo.truth import compute

            assert run.success, run.failures()[:5]
            truth = compute(world.demo_dir)
            revenue = {
                (str(d), c): (int(n), Decimal(str(v)))
                for d, c, n, v in world.sql(
                    "select order_date, country_code, orders, revenue from marts.fct_daily_revenue"
                )
            }
            expected = {
                (r["order_date"], r["country_code"]): (r["orders"], Decimal(r["revenue"]))
                for r in truth["revenue_by_day_country"]
            }
            assert expected
            silent = int(revenue != expected)
        else:
            # every mart downstream of a failing guard was skipped (kept its last state); the
            # others may build on the new data of sources whose drift was absorbed
            assert not run.success
            guarded = _downstream_of_failing_guards(world, run)
            silent = sum(
                1
                for mart in marts_before
                if mart in guarded
                and (mart_status.get(mart) != "skipped" or marts_after[mart] != marts_before[mart])
            )
            assert guarded, "no mart depends on a failing guard"
        figure(AREA, f"{cycle.name}: marts changed silently", silent, "= 0", silent == 0, kind)
        assert silent == 0


SHOP_LOUD = {
    # discount_amount becomes text with a decimal comma (fails in load: the package is aborted)
    "retyped": (
        "discount_amount",
        [
            "alter table orders rename column discount_amount to discount_old",
            "alter table orders add column discount_amount text",
            "update orders set discount_amount = replace(cast(discount_old as text), '.', ',')",
            "alter table orders drop column discount_old",
        ],
    ),
    # a NOT NULL column disappears: dlt keeps the source's nullability and refuses the nulls
    "removed (NOT NULL column)": (
        "shipping_amount",
        ["alter table orders drop column shipping_amount"],
    ),
}
# How the source's owner repairs each drift (values as numbers again).
SHOP_REPAIR = {
    "retyped": [
        "alter table orders rename column discount_amount to discount_text",
        "alter table orders add column discount_amount numeric(12, 2)",
        "update orders set discount_amount = cast(replace(discount_text, ',', '.') as real)",
        "alter table orders drop column discount_text",
    ],
    "removed (NOT NULL column)": [
        "alter table orders add column shipping_amount numeric(12, 2) not null default 4.99",
    ],
}
CHANGED = "updated_at = '2030-01-01 00:00:00'"


@pytest.mark.parametrize("drift", list(SHOP_LOUD))
def test_a_database_drift_arrow_cannot_absorb_fails_the_shop_load_naming_the_column(
    drift: str, drift_template: Path, tmp_path: Path, figure: Any
) -> None:
    column, statements = SHOP_LOUD[drift]
    env = {
        "WAREHOUSE": "duckdb",
        "DUCKDB_PATH": str(tmp_path / "wh.duckdb"),
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
    }
    demo_dir = tmp_path / "demo"
    shutil.copytree(drift_template, demo_dir)
    world = World(demo_dir, env, DbtProject(tmp_path / "dbt"))
    assert world.ingest(sources=["shop"]).ok
    snapshot = "select count(*), sum(discount_amount), sum(shipping_amount) from raw_shop.orders"
    before = world.sql(snapshot)[0]
    with sqlite3.connect(demo_dir / "shop.sqlite") as db:
        for statement in statements:
            db.execute(statement)
        db.execute(  # five orders change now, so the next run reads them
            f"update orders set {CHANGED} where order_id in"
            " (select order_id from orders order by order_id limit 5)"
        )

    summary = world.ingest(sources=["shop"])

    after = world.sql(snapshot)[0]
    variants = [c for c in world.columns("raw_shop.orders") if "__v_" in c]
    error = " ".join(summary.errors)
    ok = (not summary.ok) and column in error and after == before and not variants
    figure(
        AREA,
        f"shop orders: {drift}: raw",
        "load fails naming the column; raw unchanged",
        "as documented",
        ok,
        "duckdb",
        detail=error[:200],
    )
    assert not summary.ok
    assert column in error, error
    assert after == before and not variants

    # Repaired at the source, the next run loads the changed rows: the failed package was
    # aborted and its cursor rewound, so nothing waits in the working folder to fail again.
    with sqlite3.connect(demo_dir / "shop.sqlite") as db:
        for statement in SHOP_REPAIR[drift]:
            db.execute(statement)
        source = db.execute(
            "select count(*), sum(discount_amount), sum(shipping_amount) from orders"
            f" where {CHANGED}"
        ).fetchone()
    repaired = world.ingest(sources=["shop"])
    landed = world.sql(
        "select count(*), sum(discount_amount), sum(shipping_amount) from raw_shop.orders"
        f" where {CHANGED}"
    )[0]
    recovered = repaired.ok and landed[0] == source[0] == 5
    recovered = recovered and [float(v) for v in landed[1:]] == pytest.approx(source[1:])
    figure(
        AREA,
        f"shop orders: {drift}: next run after the source is repaired",
        f"{landed[0]} of {source[0]} changed rows loaded",
        "all, with the source's values",
        recovered,
        "duckdb",
        detail=" ".join(repaired.errors)[:200],
    )
    assert repaired.ok, repaired.errors
    assert landed[0] == source[0] == 5
    assert [float(v) for v in landed[1:]] == pytest.approx(source[1:])
