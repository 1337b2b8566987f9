"""Ground truth: counts equal what the sources hold; revenue follows the documented rule."""

from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb

from demo import crm, fx, shop, truth
from demo.state import save_manifest


def _sql_count(db: Path, sql: str) -> int:
    return sqlite3.connect(db).execute(sql).fetchone()[0]


def _valid_event_ids(demo_dir: Path) -> list[str]:
    """Event ids of every well-formed row of every event file, read from the files."""
    entries = json.loads((demo_dir / "manifest.json").read_text())["files"]
    ids: list[str] = []
    for entry in entries:
        path = demo_dir / entry["file"]
        bad = set(entry["malformed_lines"])
        if entry["format"] == "parquet":
            ids += [r[0] for r in duckdb.sql(f"select event_id from '{path}'").fetchall()]
        elif entry["format"] == "jsonl.gz":
            with gzip.open(path, "rt", encoding="utf-8") as lines:
                ids += [json.loads(x)["event_id"] for n, x in enumerate(lines, 1) if n not in bad]
        else:
            lines = path.read_text(encoding="utf-8").splitlines()
            ids += [
                x.split(",")[0].strip('"') for n, x in enumerate(lines, 1) if n > 1 and n not in bad
            ]
    return ids


def test_truth_counts_equal_what_the_database_and_files_hold(demo_template):
    counts = truth.compute(demo_template)["counts"]
    shop_db, api_db = demo_template / "shop.sqlite", demo_template / "api.sqlite"
    assert counts["orders"] == _sql_count(shop_db, "select count(*) from orders") > 0
    assert counts["orders_live"] == _sql_count(
        shop_db, "select count(*) from orders where deleted_at is null"
    )
    assert counts["order_items"] == _sql_count(shop_db, "select count(*) from order_items")
    assert counts["products"] == _sql_count(shop_db, "select count(*) from products")
    assert counts["customers"] == _sql_count(api_db, "select count(*) from customers")
    assert counts["campaigns"] == _sql_count(api_db, "select count(*) from campaigns")
    assert counts["fx_rates"] == _sql_count(api_db, "select count(*) from fx_rates")
    ids = _valid_event_ids(demo_template)
    assert counts["events"] == len(set(ids)) > 1000
    assert len(ids) > len(set(ids)), "late files re-send some events"
    assert counts["events_malformed"] > 0
    bad = _sql_count(
        shop_db,
        "select count(*) from orders where currency = 'XXX' or customer_id is null or order_id"
        " in (select order_id from order_items where quantity <= 0)",
    )
    assert counts["orders_bad"] == bad > 0


def test_revenue_excludes_bad_cancelled_and_deleted_orders(demo_template):
    result = truth.compute(demo_template)
    conn = sqlite3.connect(demo_template / "shop.sqlite")
    eligible = conn.execute(
        "select count(*) from orders where status in ('paid', 'shipped', 'delivered')"
        " and deleted_at is null and currency <> 'XXX' and customer_id is not null"
        " and order_id not in (select order_id from order_items where quantity <= 0)"
    ).fetchone()[0]
    assert sum(r["orders"] for r in result["revenue_by_day_country"]) == eligible
    assert all(
        Decimal(r["revenue"]).as_tuple().exponent == -2 for r in result["revenue_by_day_country"]
    )


def _tiny_shop(folder: Path) -> None:
    """Two customers, three days of rates and nine orders whose revenue is worked out by hand."""
    folder.mkdir()
    api = sqlite3.connect(folder / "api.sqlite")
    crm.create_schema(api)
    fx.create_schema(api)
    for cid, country in ((1, "US"), (2, "DE")):
        api.execute(
            "insert into customers values (?, 'a@example.com', 'A', 'B', null, ?, 'X', 'organic',"
            " 1, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z', null, null, null, null, '[]',"
            " null)",
            (cid, country),
        )
    rates = [("2026-11-19", "EUR", 0.5), ("2026-11-20", "EUR", 0.8), ("2026-11-20", "JPY", 150.0)]
    rates += [(d, "USD", 1.0) for d in ("2026-11-19", "2026-11-20")]
    api.executemany("insert into fx_rates values (?, ?, ?)", rates)  # none on the weekend
    api.commit()
    db = sqlite3.connect(folder / "shop.sqlite")
    shop.create_schema(db)
    orders = [  # id, customer, status, currency, subtotal, discount, created, deleted
        (1, 1, "paid", "USD", 100.00, 10.00, "2026-11-20 10:00:00", None),  # 90.00
        (2, 2, "shipped", "EUR", 50.00, 0, "2026-11-21 09:00:00", None),  # Sat: Fri rate, 62.50
        (3, 2, "delivered", "JPY", 1000, 0, "2026-11-20 23:59:59", None),  # 6.666.. -> 6.67
        (4, 2, "paid", "EUR", 0.02, 0, "2026-11-20 12:00:00", None),  # 0.025 -> 0.03 (half up)
        (5, 1, "cancelled", "USD", 70.00, 0, "2026-11-20 10:00:00", None),
        (6, 1, "paid", "USD", 80.00, 0, "2026-11-20 10:00:00", "2026-11-20 11:00:00"),
        (7, 1, "refunded", "USD", 90.00, 0, "2026-11-20 10:00:00", None),
        (8, 1, "placed", "USD", 60.00, 0, "2026-11-20 10:00:00", None),
        (9, 1, "paid", "XXX", 60.00, 0, "2026-11-20 10:00:00", None),  # bad: unknown currency
    ]
    for oid, cid, status, cur, sub, disc, created, deleted in orders:
        db.execute(
            "insert into orders values (?, ?, ?, ?, ?, ?, 5, ?, ?, ?, ?)",
            (oid, cid, status, cur, sub, disc, sub - disc + 5, created, created, deleted),
        )
        db.execute(
            "insert into order_items values (?, ?, 1, 1, ?, ?, ?)",
            (oid, oid, sub, created, created),
        )
    stamp = "2026-01-01 00:00:00"
    db.execute(
        "insert into products values (1, 'S', 'P', 'toys', 1, 'USD', 1, ?, ?)", (stamp, stamp)
    )
    db.commit()
    save_manifest(folder, {"files": []})


def test_revenue_truth_on_a_hand_checked_tiny_shop(tmp_path):
    _tiny_shop(tmp_path / "tiny")
    result = truth.compute(tmp_path / "tiny")
    assert result["revenue_by_day_country"] == [
        {"order_date": "2026-11-20", "country_code": "DE", "orders": 2, "revenue": "6.70"},
        {"order_date": "2026-11-20", "country_code": "US", "orders": 1, "revenue": "90.00"},
        {"order_date": "2026-11-21", "country_code": "DE", "orders": 1, "revenue": "62.50"},
    ]
    assert result["counts"]["orders"] == 9
    assert result["counts"]["orders_live"] == 8
    assert result["counts"]["orders_bad"] == 1
    assert result["base_currency"] == "USD"


def test_truth_cli_prints_the_same_json(demo_template):
    proc = subprocess.run(
        [sys.executable, "-m", "demo", "--demo-dir", str(demo_template), "truth", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(proc.stdout) == truth.compute(demo_template)


def test_cli_help_lists_every_command():
    proc = subprocess.run(
        [sys.executable, "-m", "demo", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("generate", "advance", "serve", "truth", "load-postgres"):
        assert command in proc.stdout
