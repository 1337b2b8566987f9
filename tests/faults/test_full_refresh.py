"""A full refresh gives the same marts as the incremental history; a reload says what it forgets.

The history: a demo shop is loaded, then CRM customers who ordered are hard-deleted (the API
stops serving them, its deleted-records endpoint lists them), shop orders and their items are
hard-deleted, and a later day of orders arrives; the loaders follow incrementally and `dbt
build` builds the marts. Then `python -m orchestration run --full-refresh` re-reads every
source from its beginning (merging onto raw) and rebuilds every model: the marts must equal
the incremental ones row for row, and `demo.truth` cell for cell (the deleted customers stay
in `dim_customers`, flagged, and their orders keep their revenue). `--reload` without `--yes`
must list the raw tables with their rows and the keys no longer in the source, and change
nothing. Under `make faults`, `--reload --yes` then forgets what the sources no longer serve,
as it said it would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.faults.late_and_changed_support import (
    CUSTOMER_COLUMNS,
    ORDER_COLUMNS,
    Lab,
    compare,
)
from tests.support.battery import full_battery
from tests.support.demo import demo_cli

AREA = "full refresh"
END_DATE = date(2026, 10, 20)
DAYS, SCALE = 3, 0.1
SHARE = 0.04  # of the orders (under the shop's max_delete_share) and of the customers
SOURCES = ["crm", "fx", "shop"]
SOURCE_ARGS = [arg for name in SOURCES for arg in ("--source", name)]
SELECT = "+fct_orders +fct_order_items +dim_customers +fct_daily_revenue"
WAREHOUSES = [
    pytest.param("duckdb", marks=pytest.mark.xdist_group("full_refresh_duckdb")),
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.xdist_group("full_refresh_pg"),
            pytest.mark.skipif(not full_battery(), reason="PostgreSQL in the full battery"),
        ],
    ),
]


def _marts(lab: Lab) -> dict[str, list[tuple[Any, ...]]]:
    """The compared marts, row by row (the columns `compare` checks against the truth)."""
    sql = {
        "fct_orders": f"select order_id, {', '.join(ORDER_COLUMNS)} from marts.fct_orders",
        "dim_customers": f"select customer_id, {', '.join(CUSTOMER_COLUMNS)} "
        "from marts.dim_customers",
        "fct_order_items": "select order_item_id, order_id from marts.fct_order_items",
        "fct_daily_revenue": "select order_date, country_code, orders, revenue "
        "from marts.fct_daily_revenue",
    }
    return {name: sorted(lab.query(query)) for name, query in sql.items()}


def _count(lab: Lab, sql: str) -> int:
    return int(lab.query(sql)[0][0])


def _raw(lab: Lab) -> dict[str, int]:
    tables = ("raw_crm.customers", "raw_crm.deleted_customers", "raw_shop.orders",
              "raw_shop.order_items", "raw_shop.deleted_records")  # fmt: skip
    return {t: _count(lab, f"select count(*) from {t}") for t in tables}


def _ids(values: list[int]) -> str:
    return ", ".join(map(str, values)) or "null"


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_a_full_refresh_gives_the_marts_of_the_incremental_history(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, figure: Callable[..., Any]
) -> None:
    from demo import changes, generator

    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    lab = Lab(kind, tmp_path, server)
    generator.generate(lab.demo_dir, days=DAYS, scale=SCALE, end_date=END_DATE)
    lab.ingest(SOURCES)
    buyers = changes.hard_delete(lab.demo_dir, SHARE, seed=21, buyers=True)
    changes.hard_delete(lab.demo_dir, SHARE, seed=22)  # more orders, customers who never ordered
    gone = changes.load_deletions(lab.demo_dir)
    demo_cli(lab.demo_dir, "advance", "--days", "1")
    lab.ingest(SOURCES)
    lab.build(*SELECT.split())
    incremental, incremental_rows = compare(lab, events=False), _marts(lab)
    deleted = buyers["customers"]
    their_orders = _count(lab, f"select count(*) from marts.fct_orders where customer_id in "
                               f"({_ids(deleted)})")  # fmt: skip

    lab.orchestrate("run", "--full-refresh", *SOURCE_ARGS, "--select", SELECT)
    full, full_rows = compare(lab, events=False), _marts(lab)
    kept = _count(lab, f"select count(*) from marts.dim_customers where is_deleted and "
                       f"customer_id in ({_ids(deleted)})")  # fmt: skip
    differing = {name: len(set(rows) ^ set(full_rows[name]))
                 for name, rows in incremental_rows.items()}  # fmt: skip

    raw_before = _raw(lab)
    dry = lab.orchestrate("ingest", "--reload", *SOURCE_ARGS, expect=2)
    said = dry.stdout + dry.stderr
    unserved_orders, unserved_items = len(gone["orders"]), len(gone["order_items"])
    listed = [
        f"raw_crm.customers: {raw_before['raw_crm.customers']:,} rows",
        f"raw_shop.orders: {raw_before['raw_shop.orders']:,} rows, {unserved_orders:,} of them "
        "no longer in the source",
        f"raw_shop.order_items: {raw_before['raw_shop.order_items']:,} rows, "
        f"{unserved_items:,} of them no longer in the source",
        "--reload --yes",
    ]
    named = [text for text in listed if text not in said]
    unchanged = _raw(lab) == raw_before

    detail = f"{len(deleted)} CRM customers who ordered ({their_orders} orders) and " \
             f"{unserved_orders} orders hard-deleted, then a day of orders"  # fmt: skip
    figure(AREA, "incremental history: mismatched cells vs truth", incremental.cells, "= 0",
           incremental.cells == 0, kind, incremental.describe())  # fmt: skip
    figure(AREA, "full refresh: mismatched cells vs truth", full.cells, "= 0", full.cells == 0,
           kind, f"{detail}; {full.describe()}")  # fmt: skip
    figure(AREA, "full refresh: mart rows differing from the incremental history",
           sum(differing.values()), "= 0", not any(differing.values()), kind,
           str(differing))  # fmt: skip
    figure(AREA, "hard-deleted CRM customers kept (flagged) in dim_customers after a full refresh",
           f"{kept}/{len(deleted)}", "all", kept == len(deleted) > 0, kind)  # fmt: skip
    figure(AREA, "--reload without --yes: exit 2, tables, rows and unserved keys listed, raw "
           "unchanged", f"exit {dry.returncode}, {len(listed) - len(named)}/{len(listed)} "
           f"listed, unchanged {unchanged}", f"exit 2, {len(listed)}/{len(listed)}, True",
           not named and unchanged, kind)  # fmt: skip
    assert their_orders > 0 and deleted, (buyers, their_orders)
    assert incremental.cells == 0, incremental.examples
    assert full.cells == 0 and full.duplicate_keys == 0, (full.examples, full.duplicates)
    assert not any(differing.values()), differing
    assert kept == len(deleted)
    assert not named and unchanged, (named, said[-3000:])

    if full_battery():
        _reload_forgets_what_it_said(lab, kind, deleted, figure)


def _reload_forgets_what_it_said(
    lab: Lab, kind: str, deleted: list[int], figure: Callable[..., Any]
) -> None:
    """`--reload --yes`: the customers the CRM no longer serves are gone from raw and the marts."""
    lab.orchestrate("run", "--reload", "--yes", *SOURCE_ARGS, "--select", SELECT)
    left = _count(lab, f"select count(*) from raw_crm.customers where id in ({_ids(deleted)})")
    in_dim = _count(lab, f"select count(*) from marts.dim_customers where customer_id in "
                         f"({_ids(deleted)})")  # fmt: skip
    figure(AREA, "--reload --yes: hard-deleted CRM customers forgotten (raw, dim_customers)",
           f"{left}, {in_dim} of {len(deleted)}", "0, 0 (as the plan said)",
           left == in_dim == 0, kind)  # fmt: skip
    assert left == in_dim == 0
