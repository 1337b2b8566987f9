"""generate: deterministic, realistic, referentially sound history."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import duckdb
import pytest

from demo import generator
from tests.support.demo import END_DATE, fingerprint, make_demo


def test_the_same_seed_generates_identical_data(tmp_path):
    first = fingerprint(make_demo(tmp_path / "a", days=2, scale=0.05, malformed_rate=0.05))
    second = fingerprint(make_demo(tmp_path / "b", days=2, scale=0.05, malformed_rate=0.05))
    assert len(first) > 10
    assert first == second


def test_another_seed_generates_other_orders(tmp_path):
    make_demo(tmp_path / "a", days=1, scale=0.05)
    generator.generate(tmp_path / "b", 1, 0.05, seed=7, end_date=END_DATE)
    a = fingerprint(tmp_path / "a")
    b = fingerprint(tmp_path / "b")
    assert a["shop.sqlite:orders"] != b["shop.sqlite:orders"]


def test_generate_refuses_to_overwrite_an_existing_demo(demo_copy):
    with pytest.raises(FileExistsError, match="already holds a demo"):
        generator.generate(demo_copy, 1, 0.05, end_date=END_DATE)


def test_generate_writes_a_secret_token_and_the_days_asked_for(demo_template):
    token = (demo_template / "api_token").read_text().strip()
    assert len(token) >= 24
    assert oct((demo_template / "api_token").stat().st_mode)[-3:] == "600"
    state = json.loads((demo_template / "state.json").read_text())
    assert (state["first_day"], state["last_day"]) == ("2026-11-17", END_DATE.isoformat())
    folders = sorted(p.name for p in (demo_template / "landing" / "events").iterdir())
    assert folders == [f"date=2026-11-{d}" for d in (17, 18, 19, 20)]


def test_orders_and_events_reference_customers_known_to_the_crm(demo_template):
    api = sqlite3.connect(demo_template / "api.sqlite")
    customers = {r[0] for r in api.execute("select id from customers")}
    shop = sqlite3.connect(demo_template / "shop.sqlite")
    ordered = {r[0] for r in shop.execute("select customer_id from orders where customer_id > 0")}
    assert ordered and ordered <= customers
    glob = demo_template / "landing" / "events" / "*" / "*.parquet"
    seen = {
        r[0]
        for r in duckdb.sql(
            f"select distinct customer_id from read_parquet('{glob}', union_by_name = true)"
        ).fetchall()
    }
    assert None in seen  # anonymous visitors
    assert seen - {None} <= customers


def test_orders_follow_the_money_rules_of_the_contract(demo_template):
    shop = sqlite3.connect(demo_template / "shop.sqlite")
    mismatched = shop.execute(
        """
        select count(*) from orders o
        join (select order_id, sum(quantity * unit_price) as s from order_items group by 1) i
          using (order_id)
        where abs(o.subtotal - i.s) > 0.001
           or abs(o.total_amount - (o.subtotal - o.discount_amount + o.shipping_amount)) > 0.001
        """
    ).fetchone()[0]
    assert mismatched == 0
    items_per_order = shop.execute(
        "select min(n), max(n) from (select count(*) as n from order_items group by order_id)"
    ).fetchone()
    assert items_per_order == (2, 3)


def test_customers_look_like_real_crm_data(demo_template):
    api = sqlite3.connect(demo_template / "api.sqlite")
    emails = [r[0] for r in api.execute("select email from customers")]
    names = {r[0] for r in api.execute("select first_name from customers")}
    assert any(e != e.strip() for e in emails), "some e-mails are padded with spaces"
    assert any(e != e.lower() for e in emails), "some e-mails use upper case"
    assert any(not n.isascii() for n in names), "unicode names"
    nulls = api.execute(
        "select sum(phone is null), sum(address_line1 is null), count(*) from customers"
    ).fetchone()
    assert 0 < nulls[0] < nulls[2] and 0 < nulls[1] < nulls[2]
    countries = {r[0] for r in api.execute("select distinct country_code from customers")}
    assert {"US", "GB", "DE"} <= countries


def test_repeat_buyers_place_more_orders_than_most(demo_template):
    shop = sqlite3.connect(demo_template / "shop.sqlite")
    per_customer = [
        r[0]
        for r in shop.execute(
            "select count(*) from orders where customer_id is not null group by customer_id"
        )
    ]
    assert max(per_customer) >= 5 * (sorted(per_customer)[len(per_customer) // 2])


def test_big_days_written_by_a_forked_process_hold_the_same_data(tmp_path, monkeypatch):
    make_demo(tmp_path / "thread", days=2, scale=0.05)
    monkeypatch.setattr(generator, "PROCESS_THRESHOLD", 0)
    make_demo(tmp_path / "process", days=2, scale=0.05)
    assert fingerprint(tmp_path / "thread") == fingerprint(tmp_path / "process")


def test_generate_force_replaces_an_existing_demo(tmp_path):
    folder = make_demo(tmp_path / "shop", days=2, scale=0.05)
    generator.generate(folder, 1, 0.05, seed=42, end_date=END_DATE, force=True)
    folders = [p.name for p in (folder / "landing" / "events").iterdir()]
    assert folders == [f"date={END_DATE.isoformat()}"]
    state = json.loads((folder / "state.json").read_text())
    assert state["first_day"] == state["last_day"] == END_DATE.isoformat()


def test_the_shop_is_busier_in_the_evening_than_at_night(demo_template):
    shop = sqlite3.connect(demo_template / "shop.sqlite")
    by_hour = dict(
        shop.execute(
            "select cast(substr(created_at, 12, 2) as int), count(*) from orders group by 1"
        )
    )
    evening = sum(by_hour.get(h, 0) for h in (18, 19, 20))
    night = sum(by_hour.get(h, 0) for h in (2, 3, 4))
    assert evening > 3 * night


def test_fx_rates_walk_randomly_and_skip_weekends(demo_template):
    api = sqlite3.connect(demo_template / "api.sqlite")
    eur = api.execute(
        "select date, rate from fx_rates where currency = 'EUR' order by date"
    ).fetchall()
    assert len({r for _, r in eur}) == len(eur) > 5
    assert all(0.8 < r < 1.05 for _, r in eur)
    weekdays = {
        date.fromisoformat(d).weekday()
        for (d,) in api.execute("select distinct date from fx_rates")
    }
    assert weekdays == {0, 1, 2, 3, 4}
