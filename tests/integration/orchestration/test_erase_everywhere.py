"""An erased person is gone from every table, file and byte, and stays gone (issue 19 part 1).

The demo CRM gets one person with unique name, email and phone; the real pipeline loads it,
``erase --email`` carries the request out, and then: no text column of any table of any schema
holds the email, name or phone, nor do the DuckDB file's bytes or the PostgreSQL server's data
directory; the revenue mart is unchanged to the cent; an ``ingest --full-refresh`` (the CRM still
serves the person) brings nothing back into raw, from which every model derives.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.server import running_server
from tests.support.cli import Cli, real_project_cli
from tests.support.demo import generate
from tests.support.warehouse import connect, dict_rows

pytestmark = pytest.mark.slow

SECRET = "erasure-secret-for-tests-7d2a40"
SELECTION = "+dim_customers +fct_daily_revenue +snap_customers +tag:ops"
REVENUE = "select * from marts.fct_daily_revenue order by 1, 2, 3"
TEXT_TYPES = ("character varying", "text", "varchar", "json", "jsonb", "character")


class Person:
    """A customer of the demo CRM made unmistakable: names, email and phone no one else has."""

    def __init__(self) -> None:
        token = uuid.uuid4().hex[:8]
        self.first = f"Zephyrine{token}"
        self.last = f"Quillfeather{token}"
        self.email = f"Z.Quillfeather.{token}@Sentinel.example"
        self.phone = f"+44 7{int(token, 16) % 10**9:09d}"

    def needles(self) -> list[str]:
        return [self.first, self.last, self.email.lower(), self.email, self.phone]


def _plant(demo: Path, person: Person) -> int:
    """Give the demo's busiest customer the person's data; returns the customer id."""
    with sqlite3.connect(demo / "api.sqlite") as conn:
        (customer_id,) = conn.execute("select id from customers order by id limit 1").fetchone()
        conn.execute(
            "update customers set first_name = ?, last_name = ?, email = ?, phone = ?, "
            "tags = '[\"vip\"]' where id = ?",
            (person.first, person.last, person.email, person.phone, customer_id),
        )
    return int(customer_id)


@pytest.fixture(params=["duckdb", "postgres"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Cli, Person, int, Any]]:
    server = request.getfixturevalue("postgres") if request.param == "postgres" else None
    demo = generate(tmp_path / "demo_data", scale=0.01)
    person = Person()
    customer_id = _plant(demo, person)
    cli = real_project_cli(tmp_path, demo, request.param, server)
    cli.env.update({"ORCHESTRATION__DBT_SELECT": SELECTION, "DBT_INDIRECT_SELECTION": "cautious"})
    with running_server(demo, port=0) as api:
        cli.env["DEMO_API_URL"] = api
        yield cli, person, customer_id, server


def _text_hits(env: dict[str, str], needles: list[str]) -> list[str]:
    """``schema.table.column`` of every text value holding a needle, in every schema."""
    conn = connect(env)
    try:
        cur = conn.cursor()
        cur.execute(
            "select table_schema, table_name, column_name, data_type "
            "from information_schema.columns "
            "where table_schema not in ('pg_catalog', 'information_schema')"
        )
        hits = []
        for schema, table, column, kind in cur.fetchall():
            if str(kind).lower() not in TEXT_TYPES:
                continue
            where = " or ".join(
                f"lower(cast(\"{column}\" as varchar)) like '%{n.lower()}%'" for n in needles
            )
            cur.execute(f'select count(*) from "{schema}"."{table}" where {where}')
            if cur.fetchone()[0]:
                hits.append(f"{schema}.{table}.{column}")
        return hits
    finally:
        conn.close()


def _byte_hits(folders: list[Path], needles: list[str]) -> list[str]:
    """Files under ``folders`` whose bytes hold a needle (as typed or lower-cased)."""
    wanted = {n.encode() for n in needles} | {n.lower().encode() for n in needles}
    hits = []
    for folder in folders:
        files = [folder] if folder.is_file() else [p for p in folder.rglob("*") if p.is_file()]
        for path in files:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            hits += [f"{path}: {n!r}" for n in wanted if n in data]
    return hits


def _stored_files(cli: Cli, server: Any) -> list[Path]:
    """The warehouse's files: the DuckDB file (and WAL), or the server's data dir and log."""
    if server is None:
        path = Path(cli.env["DUCKDB_PATH"])
        return [p for p in (path, Path(f"{path}.wal")) if p.exists()]
    return [server.datadir, server.datadir.parent / "server.log"]


def test_an_erased_person_is_gone_everywhere_and_stays_gone(
    setup: tuple[Cli, Person, int, Any],
) -> None:
    cli, person, customer_id, server = setup
    needles = person.needles()
    t0 = time.monotonic()
    loaded = cli("run")
    print(f"run took {time.monotonic() - t0:.1f} s")
    assert loaded.returncode == 0, loaded.stdout[-2000:] + loaded.stderr[-3000:]
    # the searches find the person before the erasure
    assert _text_hits(cli.env, needles)
    assert _byte_hits(_stored_files(cli, server), needles)
    revenue = dict_rows(cli.env, REVENUE)

    started = time.monotonic()
    erased = cli("erase", "--email", person.email.upper(), ERASURE_SECRET=SECRET)
    erase_s = time.monotonic() - started
    assert erased.returncode == 0, erased.stdout[-2000:] + erased.stderr[-3000:]

    assert _text_hits(cli.env, needles) == []
    assert _byte_hits(_stored_files(cli, server), needles) == []
    assert dict_rows(cli.env, REVENUE) == revenue
    mart = "select email_domain, has_phone from marts.dim_customers where customer_id ="
    (kept,) = dict_rows(cli.env, f"{mart} {customer_id}")
    assert kept == {"email_domain": "erased.invalid", "has_phone": False}
    local = [Path(cli.env["DBT_TARGET_PATH"]), Path(cli.env["DLT_DATA_DIR"])]
    assert _byte_hits([p for p in local if p.exists()], needles) == []

    t0 = time.monotonic()
    again = cli("ingest", "--full-refresh", ERASURE_SECRET=SECRET)
    print(f"full refresh took {time.monotonic() - t0:.1f} s")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert _text_hits(cli.env, needles) == []
    assert dict_rows(cli.env, REVENUE) == revenue
    assert _byte_hits([p for p in local if p.exists()], needles) == []  # dlt's extract files
    if server is None:
        assert _byte_hits(_stored_files(cli, server), needles) == []
    print(f"erase took {erase_s:.1f} s")  # shown with -s: the figure in docs/privacy.md
