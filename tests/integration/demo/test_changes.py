"""demo.changes: late commits, updates, soft and hard deletes and a rewritten file, on demand."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from datetime import datetime

import pyarrow.parquet as pq

from demo import changes, crm, generator, truth
from demo.server import read_token, running_server


def _rows(db, sql, params=()):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_late_commits_carry_an_updated_at_the_given_age_before_the_newest(demo_copy):
    shop_db = demo_copy / "shop.sqlite"
    newest = datetime.fromisoformat(_rows(shop_db, "select max(updated_at) from orders")[0][0])
    before = dict(_rows(shop_db, "select order_id, status from orders"))

    late = changes.commit_late(demo_copy, 3, 600)

    assert len(late["orders"]) == 3 and len(late["customers"]) == 3
    for order_id, status, updated in _rows(
        shop_db, f"select order_id, status, updated_at from orders where order_id in "
        f"({', '.join(map(str, late['orders']))})"
    ):  # fmt: skip
        age = (newest - datetime.fromisoformat(updated)).total_seconds()
        assert 540 <= age <= 600
        assert status != before[order_id]
    stamps = _rows(
        demo_copy / "api.sqlite",
        f"select updated_at from customers where id in ({', '.join(map(str, late['customers']))})",
    )
    assert all(s < newest.strftime("%Y-%m-%dT%H:%M:%SZ") for (s,) in stamps)


def test_updates_change_one_percent_and_keep_order_totals_consistent(demo_copy):
    orders_before = truth.compute(demo_copy)["counts"]["orders_live"]

    changed = changes.update(demo_copy, 0.01)

    assert len(changed["orders"]) >= 0.008 * orders_before > 0
    inconsistent = _rows(
        demo_copy / "shop.sqlite",
        "select count(*) from orders where abs(total_amount - "
        "(subtotal - discount_amount + shipping_amount)) > 0.005",
    )[0][0]
    assert inconsistent == 0
    discounted = [
        o for o in changed["orders"] if truth.order_rows(demo_copy)[o]["discount_amount"] != "0.00"
    ]
    assert discounted  # half of the changes are a new discount


def test_soft_deletes_flag_the_rows_and_the_truth_counts_them(demo_copy):
    before = truth.compute(demo_copy)["counts"]

    deleted = changes.soft_delete(demo_copy, 0.01)

    after = truth.compute(demo_copy)["counts"]
    assert after["orders_live"] == before["orders_live"] - len(deleted["orders"])
    assert after["customers_deleted"] == before["customers_deleted"] + len(deleted["customers"])
    customers = truth.customer_rows(demo_copy)
    assert all(customers[c]["is_deleted"] for c in deleted["customers"])
    assert not set(deleted["orders"]) & set(truth.order_rows(demo_copy))


def test_hard_deletes_remove_rows_and_the_api_lists_deleted_customers(demo_copy):
    deleted = changes.hard_delete(demo_copy, 0.01)

    marks = ", ".join(map(str, deleted["orders"]))
    left = _rows(
        demo_copy / "shop.sqlite", f"select count(*) from orders where order_id in ({marks})"
    )
    assert left == [(0,)]
    assert not set(deleted["order_items"]) & truth.order_item_ids(demo_copy)
    counts = truth.compute(demo_copy)["counts"]
    assert counts["orders_hard_deleted"] == len(deleted["orders"]) > 0
    assert counts["customers_hard_deleted"] == len(deleted["customers"]) > 0
    buyers = {r[0] for r in _rows(demo_copy / "shop.sqlite", "select customer_id from orders")}
    assert not set(deleted["customers"]) & buyers  # only customers who never ordered
    assert all(truth.customer_rows(demo_copy)[c]["is_deleted"] for c in deleted["customers"])
    with running_server(demo_copy, port=0) as url:
        request = urllib.request.Request(
            f"{url}/crm/v1/deleted_customers?updated_since=1970-01-01T00:00:00Z",
            headers={"Authorization": f"Bearer {read_token(demo_copy)}"},
        )
        body = json.loads(urllib.request.urlopen(request).read())
    assert sorted(r["id"] for r in body["data"]) == deleted["customers"]
    assert set(body["data"][0]) == {"id", "deleted_at"}


def test_ids_of_hard_deleted_customers_are_never_reused(demo_copy):
    api = sqlite3.connect(demo_copy / "api.sqlite")
    top = crm.max_customer_id(api)
    api.close()
    api = sqlite3.connect(demo_copy / "api.sqlite", isolation_level=None)
    api.execute(  # delete the newest customer, as hard_delete would
        "insert into deleted_customers select id, updated_at, updated_at, '{}' from customers "
        "where id = ?",
        (top,),
    )
    api.execute("delete from customers where id = ?", (top,))
    api.close()

    generator.advance(demo_copy, 1)

    sql = "select min(id) from customers where id >= ?"
    assert _rows(demo_copy / "api.sqlite", sql, (top,))[0][0] > top


def test_a_rewritten_event_file_keeps_its_rows_and_counts(demo_copy):
    events_before = truth.compute(demo_copy)["counts"]["events"]

    rewrite = changes.rewrite_event_file(demo_copy, 0.05)

    table = pq.read_table(demo_copy / rewrite["file"]).to_pydict()
    devices = dict(zip(table["event_id"], table["device"], strict=True))
    assert rewrite["changed"] and all(devices[e] == d for e, d in rewrite["changed"].items())
    assert truth.compute(demo_copy)["counts"]["events"] == events_before
    manifest = json.loads((demo_copy / "manifest.json").read_text())["files"]
    entry = next(e for e in manifest if e["file"] == rewrite["file"])
    assert entry["rewritten_rows"] == len(rewrite["changed"])
