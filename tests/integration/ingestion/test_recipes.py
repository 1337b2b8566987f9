"""Every recipe of ``docs/recipes.md``, its YAML read from the doc, run against real systems.

The REST recipes load the tickets of ``tests/support/recipe_api.py`` (the variant of each recipe
served under its URL); the database recipes read a real SQLite file and a database on the test
harness's PostgreSQL server; the file recipe reads CSV drops. Each must land every row exactly;
a block without an exercise here, or an exercise without its block, fails the test.
"""

from __future__ import annotations

import csv
import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import yaml

import ingestion
from demo import pg_server
from tests.support import recipe_api
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import query_current

RECIPES = REPO_ROOT / "docs" / "recipes.md"
TICKETS = recipe_api.tickets()
# the REST recipes: the API variant (auth/paging/shape/cursor) each one is written for
REST = {
    "helpdesk_bearer": "bearer/cursor/wrapped/iso",
    "helpdesk_header_key": "header_key/link/list/epoch_s",
    "helpdesk_query_key": "query_key/offset/wrapped/epoch_ms",
    "helpdesk_basic": "basic/page_number/wrapped/iso",
}
INVOICES = [(i, i % 3 + 1, f"{i * 7}.{i:02d}", recipe_api.render(t.updated, "iso"),
             int(t.updated.timestamp())) for i, t in enumerate(TICKETS[:12], start=1)]  # fmt: skip


def recipes() -> dict[str, dict[str, Any]]:
    """The systems declared in the doc's YAML blocks, by name."""
    blocks = re.findall(r"^```yaml\n(.*?)^```", RECIPES.read_text(encoding="utf-8"), re.M | re.S)
    systems: dict[str, dict[str, Any]] = {}
    for block in blocks:
        for name, entry in yaml.safe_load(block).items():
            assert name not in systems, f"{name} is declared twice"
            systems[name] = entry
    return systems


@pytest.fixture
def load_recipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], ingestion.LoadReport]:
    """Load one recipe, as the doc writes it, into a fresh DuckDB file."""
    monkeypatch.setenv("WAREHOUSE", "duckdb")
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    systems = recipes()

    def load(name: str) -> ingestion.LoadReport:
        path = tmp_path / f"{name}.yml"
        path.write_text(yaml.safe_dump({name: systems[name]}))
        monkeypatch.setenv("INGESTION_SOURCES", str(path))
        report = ingestion.load()
        assert report.ok, report.errors
        return report

    return load


def test_every_recipe_in_the_doc_has_an_exercise_and_every_exercise_a_recipe() -> None:
    exercised = {*REST, "billing_sqlite", "billing_readonly", "billing_postgres", "orders_csv"}
    assert set(recipes()) == exercised


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, recipe_api.RecipeApi]]:
    """The recipe API with every REST recipe's secret set the way the doc says."""
    for name in REST:
        prefix = f"SOURCES__{name.upper()}__"
        monkeypatch.setenv(prefix + "TOKEN", recipe_api.TOKEN)
        monkeypatch.setenv(prefix + "API_KEY", recipe_api.API_KEY)
        monkeypatch.setenv(prefix + "PASSWORD", recipe_api.PASSWORD)
    monkeypatch.setenv("HELPDESK_USER", recipe_api.USER)
    with recipe_api.serving() as served:
        yield served


@pytest.mark.parametrize("name", sorted(REST))
def test_a_rest_recipe_lands_every_ticket_then_asks_only_for_new_ones(
    name: str,
    load_recipe: Callable[[str], ingestion.LoadReport],
    api: tuple[str, recipe_api.RecipeApi],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, served = api
    monkeypatch.setenv("HELPDESK_URL", f"{url}/{REST[name]}")

    load_recipe(name)
    first_run = len(served.requests)
    load_recipe(name)

    landed = query_current(f"select id, subject from raw_{name}.tickets order by id")
    assert landed == [(t.id, t.subject) for t in TICKETS]
    assert first_run >= 4  # every recipe pages: 40 tickets, 10 a page
    # the second run starts from the newest cursor: one page, the last ticket(s) again
    again = served.requests[first_run:]
    assert len(again) == 1 and again[0][1]["since"] != served.requests[0][1]["since"]


def billing_db(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("create table customers (customer_id integer primary key, name text)")
        conn.executemany("insert into customers values (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
        conn.execute(
            "create table invoices (invoice_id integer primary key, customer_id integer, "
            "amount text, issued_at text, issued_epoch integer)"
        )
        conn.executemany("insert into invoices values (?, ?, ?, ?, ?)", INVOICES)
    conn.close()
    return path


@pytest.mark.parametrize("name", ["billing_sqlite", "billing_readonly"])
def test_a_sqlite_recipe_reads_the_file_and_never_writes_beside_it(
    name: str,
    load_recipe: Callable[[str], ingestion.LoadReport],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "share"
    folder.mkdir()
    database = billing_db(folder / "billing.sqlite")
    digest = hashlib.sha256(database.read_bytes()).hexdigest()
    monkeypatch.setenv("BILLING_DB", str(database))

    load_recipe(name)

    landed = query_current(f"select invoice_id, issued_at from raw_{name}.invoices order by 1")
    assert landed == [(row[0], row[3]) for row in INVOICES]
    assert hashlib.sha256(database.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in folder.iterdir()) == ["billing.sqlite"]


def test_the_postgres_recipe_reads_a_schema_with_an_epoch_cursor(
    load_recipe: Callable[[str], ingestion.LoadReport],
    postgres: pg_server.PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = f"billing_{id(monkeypatch) % 100000}"
    pg_server.create_database(postgres, database)
    env = postgres.env(database)
    conn = psycopg2.connect(
        host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"], dbname=database
    )
    with conn, conn.cursor() as cur:
        cur.execute(
            "create schema billing; create table billing.invoices (invoice_id int primary key,"
            " customer_id int, amount numeric(12, 2), issued_at text, issued_epoch bigint)"
        )
        cur.executemany("insert into billing.invoices values (%s, %s, %s, %s, %s)", INVOICES)
    conn.close()
    monkeypatch.setenv(
        "SOURCES__BILLING_POSTGRES__CREDENTIALS",
        f"postgresql+psycopg2://{env['PGUSER']}@{env['PGHOST']}:{env['PGPORT']}/{database}",
    )

    load_recipe("billing_postgres")

    landed = query_current(
        "select invoice_id, amount from raw_billing_postgres.invoices order by 1"
    )
    assert landed == [(row[0], Decimal(row[2])) for row in INVOICES]


def test_the_csv_recipe_lands_money_as_exact_decimals_and_refuses_what_it_would_round(
    load_recipe: Callable[[str], ingestion.LoadReport],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drop = tmp_path / "orders"
    kept = {1: "0.10", 2: "0.20", 3: "1234567.89", 4: "-5"}
    for order_id, amount in [*kept.items(), (5, "12.3456789012"), (6, "1e3")]:
        day = drop / "2026" / "03" / f"{order_id:02d}"
        day.mkdir(parents=True)
        with (day / "orders.csv").open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["order_id", "amount", "currency", "ordered_at"])
            writer.writerow([order_id, amount, "EUR", f"2026-03-{order_id:02d}T10:00:00Z"])
    monkeypatch.setenv("ORDERS_DROP", str(drop))

    load_recipe("orders_csv")

    landed = dict(query_current("select order_id, amount from raw_orders_csv.orders"))
    assert landed == {key: Decimal(value) for key, value in kept.items()}
    assert sum(landed.values()) == Decimal("1234563.19")  # 0.1 + 0.2 is exactly 0.3 here
    reasons = [r[0] for r in query_current("select reason from raw_orders_csv.rejected_records")]
    assert len(reasons) == 2 and all("'amount'" in r for r in reasons), reasons
