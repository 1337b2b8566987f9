"""Event drops and file faults: the manifest tells the truth about every file."""

from __future__ import annotations

import csv
import gzip
import io
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from demo import generator
from demo.faults import FileFaults

COLUMNS = [
    "event_id", "anonymous_id", "customer_id", "event_type", "url", "referrer", "utm_source",
    "utm_medium", "utm_campaign", "device", "occurred_at", "properties",
]  # fmt: skip
EVENT_TYPES = {"page_view", "product_view", "add_to_cart", "checkout_started", "purchase"}


def valid_event(record: dict) -> bool:
    """Whether a parsed record satisfies the event contract (types included)."""
    try:
        datetime.fromisoformat(record["occurred_at"])
        properties = record["properties"]
        if isinstance(properties, str):
            properties = json.loads(properties)
    except (KeyError, TypeError, ValueError):
        return False
    customer = record.get("customer_id")
    return (
        isinstance(record.get("event_id"), str)
        and (customer is None or isinstance(customer, int))
        and record.get("event_type") in EVENT_TYPES
        and isinstance(properties, dict)
    )


def malformed_lines(path: Path) -> tuple[list[int], int]:
    """(1-based malformed line numbers, data lines) of a JSONL gzip or CSV event file."""
    bad, rows = [], 0
    if path.name.endswith(".jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                rows += 1
                try:
                    ok = valid_event(json.loads(line))
                except json.JSONDecodeError:
                    ok = False
                if not ok:
                    bad.append(number)
        return bad, rows
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))
    header = next(reader)
    for number, fields in enumerate(reader, start=2):
        rows += 1
        if len(fields) != len(header):
            bad.append(number)
            continue
        record = {k: (v if v != "" else None) for k, v in zip(header, fields, strict=True)}
        customer = record["customer_id"]
        if customer is not None and customer.isdigit():
            record["customer_id"] = int(customer)
        if not valid_event(record):
            bad.append(number)
    return bad, rows


def test_every_file_holds_the_rows_the_manifest_counts(demo_template):
    entries = json.loads((demo_template / "manifest.json").read_text())["files"]
    assert {e["format"] for e in entries} == {"parquet", "jsonl.gz", "csv"}
    for entry in entries:
        path = demo_template / entry["file"]
        if entry["format"] == "parquet":
            table = pq.read_table(path)
            assert table.num_rows == entry["rows"]
            assert table.column_names == COLUMNS
            assert all(valid_event(r) for r in table.slice(0, 50).to_pylist())
        else:
            assert malformed_lines(path)[1] == entry["rows"], entry["file"]


def test_most_event_rows_are_in_parquet(demo_template):
    entries = json.loads((demo_template / "manifest.json").read_text())["files"]
    rows = {f: sum(e["rows"] for e in entries if e["format"] == f) for f in ("parquet", "csv")}
    assert rows["parquet"] > 5 * rows["csv"] > 0


def test_malformed_lines_listed_in_the_manifest_are_exactly_those_in_the_files(demo_template):
    entries = json.loads((demo_template / "manifest.json").read_text())["files"]
    text_files = [e for e in entries if e["format"] != "parquet"]
    assert sum(e["malformed"] for e in text_files) > 5
    for entry in text_files:
        found, _ = malformed_lines(demo_template / entry["file"])
        assert found == entry["malformed_lines"], entry["file"]
        assert entry["malformed"] == len(found)


def test_event_times_carry_mixed_offsets_within_their_utc_day(demo_template):
    path = next((demo_template / "landing/events/date=2026-11-19").glob("part-*.parquet"))
    stamps = pq.read_table(path, columns=["occurred_at"])["occurred_at"].to_pylist()
    offsets = {s[19:] for s in stamps}
    assert {"Z", "+02:00", "-05:00", "+05:30"} <= offsets
    assert {datetime.fromisoformat(s).astimezone(UTC).date().isoformat() for s in stamps} == {
        "2026-11-19"
    }


def test_purchase_events_point_at_real_orders(demo_template):
    path = next((demo_template / "landing/events/date=2026-11-19").glob("part-*.parquet"))
    rows = pq.read_table(path).to_pylist()
    purchases = [json.loads(r["properties"]) for r in rows if r["event_type"] == "purchase"]
    shop = sqlite3.connect(demo_template / "shop.sqlite")
    totals = dict(shop.execute("select order_id, total_amount from orders"))
    assert purchases
    for p in purchases:
        assert abs(totals[p["order_id"]] - p["revenue"]) < 0.001


@pytest.mark.parametrize(
    ("drift", "check"),
    [
        ("added", lambda cols, types: "session_id" in cols),
        ("renamed", lambda cols, types: "device_type" in cols and "device" not in cols),
        ("retyped", lambda cols, types: types["customer_id"] == "string"),
    ],
)
def test_schema_drift_shows_in_the_new_days_files_and_state(demo_copy, drift, check):
    generator.advance(demo_copy, 1, FileFaults(drift=drift))
    path = demo_copy / "landing/events/date=2026-11-21/part-0000.parquet"
    schema = pq.read_schema(path)
    types = {f.name: str(f.type) for f in schema}
    assert check(schema.names, types)
    old = pq.read_schema(demo_copy / "landing/events/date=2026-11-20/part-0000.parquet")
    assert old.names == COLUMNS and str(old.field("customer_id").type) == "int64"
    state = json.loads((demo_copy / "state.json").read_text())
    assert [d["kind"] for d in state["drift"]] == [drift]
    assert state["drift"][0]["from_day"] == "2026-11-21"
    entry = next(
        e for e in json.loads((demo_copy / "manifest.json").read_text())["files"]
        if e["file"].endswith("2026-11-21/part-0000.parquet")
    )  # fmt: skip
    assert entry["columns"] == schema.names


def test_added_drift_adds_a_filled_column_to_new_orders(demo_copy):
    generator.advance(demo_copy, 2, FileFaults(drift="added"))
    shop = sqlite3.connect(demo_copy / "shop.sqlite")
    filled = shop.execute(
        "select substr(created_at, 1, 10), count(sales_channel), count(*) from orders group by 1"
    ).fetchall()
    by_day = {d: (f, n) for d, f, n in filled}
    assert by_day["2026-11-20"][0] == 0
    assert by_day["2026-11-21"][0] == by_day["2026-11-21"][1] > 0
    assert by_day["2026-11-22"][0] == by_day["2026-11-22"][1] > 0


def test_bad_orders_are_written_with_each_kind_of_defect(demo_template):
    shop = sqlite3.connect(demo_template / "shop.sqlite")
    assert shop.execute("select count(*) from orders where currency = 'XXX'").fetchone()[0] > 0
    assert shop.execute("select count(*) from orders where customer_id is null").fetchone()[0] > 0
    assert shop.execute("select count(*) from order_items where quantity < 0").fetchone()[0] > 0
