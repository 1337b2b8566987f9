"""Row-level access on PostgreSQL: a regional reader sees its region's rows of the marts only.

``warehouse-roles`` with ``READER_REGIONS=EU`` creates a regional reader; the real pipeline then
runs under the roles and dbt puts row-level policies on the marts (``row_access`` post-hook).
The cells: the regional reader reads exactly its region's customers, revenue, orders, order
lines and sessions (counted independently as the administrator), no other row, nothing of the
aggregates that mix regions, and cannot switch the policies off; the plain reader still reads
every row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest

from tests.faults.role_world import READER, World, world

pytestmark = pytest.mark.xdist_group("row_access")

REGIONAL = "ca_reader_eu"
REGION = "Europe"
INSUFFICIENT_PRIVILEGE = "42501"
SELECTION = (
    "+dim_customers +fct_orders +fct_daily_revenue +fct_sessions +fct_order_items +fct_daily_funnel"
)
IN_REGION = "select customer_id from marts.dim_customers where region = 'Europe'"
# table -> (rows of the region, as the administrator counts them)
EXPECTED = {
    "marts.dim_customers": "select count(*) from marts.dim_customers where region = 'Europe'",
    "marts.fct_daily_revenue": "select count(*) from marts.fct_daily_revenue "
    "where region = 'Europe'",
    "marts.fct_orders": f"select count(*) from marts.fct_orders where customer_id in ({IN_REGION})",
    "marts.fct_order_items": "select count(*) from marts.fct_order_items "
    f"where customer_id in ({IN_REGION})",
    "marts.fct_sessions": "select count(*) from marts.fct_sessions "
    f"where customer_id in ({IN_REGION})",
    "marts.fct_daily_funnel": "select 0",
}
# attempts to see more than the policies allow; each must be refused
SWITCH_OFF = {
    "disable row level security": "alter table marts.dim_customers disable row level security",
    "drop the policy": "drop policy row_access on marts.dim_customers",
    "add a permissive policy": "create policy mine on marts.dim_customers using (true)",
    "read with row_security off": "set row_security = off; select * from marts.dim_customers",
    "list itself for another region": "insert into marts.reader_regions values "
    f"('{REGIONAL}', 'Asia Pacific')",
    "remove its own restriction": "delete from marts.reader_regions",
}


@pytest.fixture(scope="module")
def rls_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("rls"), with_sources=True, scale=0.05) as w:
        yield w


def _counts(conn: Any, queries: dict[str, str]) -> dict[str, int]:
    found = {}
    with conn.cursor() as cur:
        for name, sql in queries.items():
            cur.execute(sql)
            found[name] = int(cur.fetchone()[0])
    return found


def _refused(conn: Any, sql: str) -> bool:
    """True when PostgreSQL refuses the statement for lack of privilege (rolled back)."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
        return False
    except psycopg2.Error as exc:
        return exc.pgcode == INSUFFICIENT_PRIVILEGE
    finally:
        conn.rollback()


def test_a_regional_reader_reads_its_region_only_and_cannot_switch_the_policies_off(
    rls_world: World, figure: Callable[..., object]
) -> None:
    w = rls_world
    database = w.new_database("rls")
    password = "regional-reader-password-7f3a"
    roles = w.warehouse_roles(
        database, READER_REGIONS="EU", READER_EU_PGUSER=REGIONAL, READER_EU_PGPASSWORD=password
    )
    assert roles.returncode == 0, roles.stderr
    env = {**w.run_env(database, w.tmp / "rls_run"), "DBT_INDIRECT_SELECTION": "cautious"}
    run = w.orchestration(env, "run", "--select", SELECTION)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    admin = w.connect(database)
    regional = w.connect(database, REGIONAL, password)
    reader = w.connect(database, READER, w.secrets["reader_password"])
    try:
        expected = _counts(admin, EXPECTED)
        everything = _counts(admin, {t: f"select count(*) from {t}" for t in EXPECTED})
        seen = _counts(regional, {t: f"select count(*) from {t}" for t in EXPECTED})
        others = _counts(
            regional,
            {
                "customers of other regions": "select count(*) from marts.dim_customers "
                "where region <> 'Europe'",
                "revenue of other regions": "select count(*) from marts.fct_daily_revenue "
                "where region <> 'Europe'",
            },
        )
        reader_sees = _counts(reader, {t: f"select count(*) from {t}" for t in EXPECTED})
        refused = {name: _refused(regional, sql) for name, sql in SWITCH_OFF.items()}
        after = _counts(regional, {t: f"select count(*) from {t}" for t in EXPECTED})
    finally:
        for conn in (admin, regional, reader):
            conn.close()

    cells = {f"reads its rows of {t}": seen[t] == n for t, n in expected.items()}
    cells |= {f"sees no {what}": n == 0 for what, n in others.items()}
    cells |= {f"plain reader reads all of {t}": reader_sees[t] == n for t, n in everything.items()}
    cells |= {f"cannot {what}": ok for what, ok in refused.items()}
    cells["still its rows only afterwards"] = after == seen
    wrong = [name for name, ok in cells.items() if not ok]
    figure("least privilege", "regional reader cells as expected",
           f"{len(cells) - len(wrong)}/{len(cells)}", "all", not wrong, warehouse="postgres",
           detail="; ".join(wrong) or f"expected {expected}; all rows {everything}")  # fmt: skip
    assert not wrong, (wrong, expected, everything, seen, reader_sees)
    # the region's rows exist and are fewer than all: the cells could have failed
    assert 0 < expected["marts.dim_customers"] < everything["marts.dim_customers"]
    assert 0 < expected["marts.fct_orders"] < everything["marts.fct_orders"]
