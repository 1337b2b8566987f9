"""An address erased before its person was ever loaded stays out of raw through real loads.

The demo CRM serves the person; ``erase --email`` runs first (nothing of them is loaded), then
the CRM is loaded, then the CRM changes the person's address and is loaded again; and a later
event drop's malformed line holding the address is rejected without its text (issue 19).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from demo.server import running_server
from tests.support.cli import real_project_cli
from tests.support.demo import generate
from tests.support.warehouse import dict_rows

pytestmark = pytest.mark.slow

SECRET = "erasure-secret-for-tests-5be019"
FIRST, LAST, PHONE = "Ildikoqzwx", "Brzeczyszczyk", "+48 600 771 932"
EMAIL, NEW_EMAIL = "Ildiko.Brz@Qzwx.example", "ildiko.second@qzwx.example"


def _crm(demo: Path, sql: str, params: tuple[object, ...]) -> int:
    with sqlite3.connect(demo / "api.sqlite") as conn:
        (customer_id,) = conn.execute("select id from customers order by id limit 1").fetchone()
        conn.execute(sql, (*params, customer_id))
    return int(customer_id)


def _bytes_hold(path: Path, needles: list[str]) -> list[str]:
    blobs = [p.read_bytes() for p in path.parent.glob(path.name + "*")]
    return [n for n in needles for b in blobs if n.encode() in b or n.lower().encode() in b]


def test_a_person_erased_before_the_first_load_never_lands_even_after_an_address_change(
    tmp_path: Path,
) -> None:
    demo = generate(tmp_path / "demo_data", scale=0.01)
    customer_id = _crm(
        demo,
        "update customers set first_name = ?, last_name = ?, email = ?, phone = ? where id = ?",
        (FIRST, LAST, EMAIL, PHONE),
    )
    cli = real_project_cli(tmp_path, demo, "duckdb", None)
    cli.env["ERASURE_SECRET"] = SECRET
    needles = [FIRST, LAST, EMAIL, NEW_EMAIL, PHONE]
    raw = f"select email, first_name, phone from raw_crm.customers where id = {customer_id}"
    with running_server(demo, port=0) as api:
        cli.env["DEMO_API_URL"] = api
        erased = cli("erase", "--email", f" {EMAIL.upper()} ")
        first = cli("ingest", "--source", "crm")
        landed = dict_rows(cli.env, raw)
        _crm(
            demo,
            "update customers set email = ?, updated_at = '2999-01-01T00:00:00Z' where id = ?",
            (NEW_EMAIL,),
        )
        second = cli("ingest", "--source", "crm")

    for proc in (erased, first, second):
        assert proc.returncode == 0, proc.stderr[-2000:]
    placeholder = {"email": f"erased-{customer_id}@erased.invalid", "first_name": None}
    assert landed == [{**placeholder, "phone": None}]
    assert dict_rows(cli.env, raw) == [{**placeholder, "phone": None}]
    assert _bytes_hold(Path(cli.env["DUCKDB_PATH"]), needles) == []


def test_a_malformed_row_of_an_erased_person_in_a_later_drop_lands_without_its_text(
    tmp_path: Path,
) -> None:
    demo = generate(tmp_path / "demo_data", scale=0.01)
    cli = real_project_cli(tmp_path, demo, "duckdb", None)
    cli.env["ERASURE_SECRET"] = SECRET
    drop = demo / "landing" / "events" / "date=2099-01-01" / "late.jsonl"
    drop.parent.mkdir(parents=True, exist_ok=True)
    drop.write_text('{"event_id": "e-erased", "note": "' + EMAIL + '", "broken\n')

    erased = cli("erase", "--email", EMAIL.lower())
    loaded = cli("ingest", "--source", "events")

    assert (erased.returncode, loaded.returncode) == (0, 0), loaded.stderr[-2000:]
    rejected = dict_rows(
        cli.env,
        "select raw_text, reason from raw_events.rejected_records where location like '%late%'",
    )
    assert len(rejected) == 1 and rejected[0]["raw_text"] is None, rejected
    assert "erased" in rejected[0]["reason"]
    assert _bytes_hold(Path(cli.env["DUCKDB_PATH"]), [EMAIL]) == []
