"""advance: the next day adds rows, moves old ones on (bumping updated_at) and sends late data."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import duckdb
import pytest

from demo import generator
from demo.faults import FileFaults

NEW_DAY = "2026-11-21"


def orders_by_id(demo_dir: Path) -> dict[int, tuple]:
    conn = sqlite3.connect(demo_dir / "shop.sqlite")
    rows = conn.execute("select order_id, status, updated_at, deleted_at from orders")
    return {r[0]: r[1:] for r in rows}


def customers_by_id(demo_dir: Path) -> dict[int, tuple]:
    conn = sqlite3.connect(demo_dir / "api.sqlite")
    return {r[0]: r[1:] for r in conn.execute("select * from customers")}


def file_hashes(demo_dir: Path) -> dict[str, str]:
    return {
        str(p.relative_to(demo_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (demo_dir / "landing").rglob("*.*")
    }


@pytest.fixture(scope="module")
def advanced(tmp_path_factory: pytest.TempPathFactory, demo_template: Path):
    """The template before and after one `advance` (a copy; the template stays untouched)."""
    import shutil

    folder = tmp_path_factory.mktemp("advanced") / "shop"
    shutil.copytree(demo_template, folder)
    before = {
        "orders": orders_by_id(folder),
        "customers": customers_by_id(folder),
        "files": file_hashes(folder),
        "manifest": json.loads((folder / "manifest.json").read_text()),
    }
    generator.advance(folder, 1, FileFaults())
    return folder, before


def test_advance_adds_a_day_of_new_orders_customers_and_events(advanced):
    folder, before = advanced
    orders = orders_by_id(folder)
    new = {k: v for k, v in orders.items() if k not in before["orders"]}
    assert len(new) > 30
    assert all(v[1].startswith(NEW_DAY) for v in new.values())
    customers = customers_by_id(folder)
    assert len(customers) > len(before["customers"])
    assert json.loads((folder / "state.json").read_text())["last_day"] == NEW_DAY
    assert list((folder / "landing" / "events" / f"date={NEW_DAY}").glob("part-*.parquet"))


def test_advance_moves_old_orders_on_and_bumps_their_updated_at(advanced):
    folder, before = advanced
    orders = orders_by_id(folder)
    changed = {k for k, v in before["orders"].items() if orders[k] != v}
    assert len(changed) > 20
    assert all(orders[k][1] > before["orders"][k][1] for k in changed)
    moved = {(before["orders"][k][0], orders[k][0]) for k in changed}
    assert {("paid", "shipped"), ("shipped", "delivered")} <= moved
    lifecycle = ["placed", "paid", "shipped", "delivered"]
    for old, new in moved:
        if new in lifecycle and old in lifecycle:
            assert lifecycle.index(new) >= lifecycle.index(old), (old, new)


def test_advance_soft_deletes_orders_with_deleted_at_and_updated_at(advanced):
    folder, before = advanced
    orders = orders_by_id(folder)
    deleted = [k for k, v in orders.items() if v[2] and not before["orders"].get(k, (0, 0, 0))[2]]
    assert deleted
    for k in deleted:
        assert orders[k][2] == orders[k][1] and orders[k][2].startswith(NEW_DAY)


def test_some_updates_commit_late_with_an_updated_at_before_the_previous_maximum(advanced):
    folder, before = advanced
    orders = orders_by_id(folder)
    newest_before = max(v[1] for v in before["orders"].values())
    late = [
        k for k, v in before["orders"].items() if orders[k] != v and orders[k][1] < newest_before
    ]
    assert late
    customers = customers_by_id(folder)
    newest_customer = max(v[9] for v in before["customers"].values())  # updated_at
    late_customers = [
        k
        for k, v in before["customers"].items()
        if customers[k] != v and customers[k][9] < newest_customer
    ]
    assert late_customers


def test_advance_changes_a_hundred_customers_per_scale_unit(advanced):
    folder, before = advanced
    customers = customers_by_id(folder)
    changed = [k for k, v in before["customers"].items() if customers[k] != v]
    assert 40 <= len(changed) <= 50  # scale 0.5: 50 picked, a few may not change a visible field


def test_late_events_arrive_as_new_files_in_earlier_day_folders(advanced):
    folder, before = advanced
    after = file_hashes(folder)
    for name, digest in before["files"].items():
        assert after[name] == digest, f"{name} was modified after delivery"
    new_files = sorted(set(after) - set(before["files"]))
    late = [n for n in new_files if f"date={NEW_DAY}" not in n]
    assert sorted(late) == [
        f"landing/events/date=2026-11-19/late-{NEW_DAY}.jsonl.gz",
        f"landing/events/date=2026-11-20/late-{NEW_DAY}.parquet",
    ]
    path = folder / "landing/events/date=2026-11-20" / f"late-{NEW_DAY}.parquet"
    days = duckdb.sql(
        f"select distinct (occurred_at::timestamptz at time zone 'UTC')::date::varchar "
        f"from read_parquet('{path}')"
    ).fetchall()
    assert days == [("2026-11-20",)]


def test_late_files_resend_some_events_counted_as_duplicates(advanced):
    folder, _ = advanced
    entries = json.loads((folder / "manifest.json").read_text())["files"]
    late = next(e for e in entries if e["file"].endswith(f"late-{NEW_DAY}.parquet"))
    others = [
        e["file"] for e in entries if e["date"] == late["date"] and e["format"] == "parquet"
        and e is not late
    ]  # fmt: skip
    files = ", ".join(f"'{folder / f}'" for f in others)
    repeated = duckdb.sql(
        f"select count(*) from read_parquet('{folder / late['file']}') "
        f"where event_id in (select event_id from read_parquet([{files}]))"
    ).fetchall()[0][0]
    assert late["duplicates"] == repeated > 0


def test_advancing_a_day_gives_the_same_data_as_generating_it(tmp_path):
    from datetime import date

    from tests.support.demo import fingerprint

    generator.generate(tmp_path / "stepwise", 2, 0.05, end_date=date(2026, 11, 19))
    generator.advance(tmp_path / "stepwise", 1)
    generator.generate(tmp_path / "at_once", 3, 0.05, end_date=date(2026, 11, 20))
    assert fingerprint(tmp_path / "stepwise") == fingerprint(tmp_path / "at_once")
