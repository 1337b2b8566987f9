"""The pgoutput decoder and the change rows, on messages built byte by byte."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from ingestion import config
from ingestion.config import SourceConfigError
from ingestion.postgres_cdc import pgoutput
from ingestion.postgres_cdc.changes import Batches, TableShape, change_values
from ingestion.postgres_cdc.pgoutput import UNCHANGED, Change, DecodeError, decode

WHEN = datetime(2026, 12, 3, 17, 0, 0, 123456, tzinfo=UTC)
MICROS = int((WHEN - pgoutput.PG_EPOCH).total_seconds() * 1_000_000)
INT8, NUMERIC, TEXT, TIMESTAMP = 20, 1700, 25, 1114


def cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def tuple_data(*values: object) -> bytes:
    out = struct.pack("!H", len(values))
    for value in values:
        if value is None:
            out += b"n"
        elif value is UNCHANGED:
            out += b"u"
        else:
            raw = str(value).encode()
            out += b"t" + struct.pack("!I", len(raw)) + raw
    return out


def relation() -> bytes:
    columns = [(1, "order_id", INT8, -1), (0, "total", NUMERIC, (12 << 16 | 2) + 4)]
    columns += [(0, "note", TEXT, -1)]
    body = b"R" + struct.pack("!I", 16384) + cstr("public") + cstr("orders") + b"d"
    body += struct.pack("!H", len(columns))
    for flags, name, oid, modifier in columns:
        body += struct.pack("!B", flags) + cstr(name) + struct.pack("!Ii", oid, modifier)
    return body


def test_begin_and_commit_carry_their_lsns_and_commit_time() -> None:
    begin = decode(b"B" + struct.pack("!QqI", 0x16B374D848, MICROS, 771))
    commit = decode(b"C" + struct.pack("!BQQq", 0, 0x16B374D848, 0x16B374D900, MICROS))
    assert begin == pgoutput.Begin(0x16B374D848, WHEN, 771)
    assert commit == pgoutput.Commit(0x16B374D848, 0x16B374D900, WHEN)
    assert pgoutput.lsn_text(0x16B374D848) == "16/B374D848"
    assert pgoutput.lsn_int("16/B374D848") == 0x16B374D848


def test_relation_names_columns_types_and_key() -> None:
    message = decode(relation())
    assert isinstance(message, pgoutput.Relation)
    assert (message.oid, message.namespace, message.name) == (16384, "public", "orders")
    assert [(c.name, c.type_oid, c.is_key) for c in message.columns] == [
        ("order_id", INT8, True),
        ("total", NUMERIC, False),
        ("note", TEXT, False),
    ]


def test_insert_update_and_delete_carry_nulls_unchanged_values_and_old_keys() -> None:
    oid = struct.pack("!I", 16384)
    insert = decode(b"I" + oid + b"N" + tuple_data("1", "9.99", None))
    update = decode(
        b"U" + oid + b"K" + tuple_data("1", None, None) + b"N" + tuple_data("2", "5.00", UNCHANGED)
    )
    delete = decode(b"D" + oid + b"K" + tuple_data("2", None, None))
    assert insert == Change("insert", 16384, new=("1", "9.99", None))
    assert update == Change("update", 16384, new=("2", "5.00", UNCHANGED), old=("1", None, None))
    assert delete == Change("delete", 16384, old=("2", None, None))


def test_text_values_keep_multibyte_characters() -> None:
    oid = struct.pack("!I", 1)
    assert decode(b"I" + oid + b"N" + tuple_data("Zoë ☕")) == Change("insert", 1, new=("Zoë ☕",))


@pytest.mark.parametrize(
    "payload",
    [b"", b"B\x00\x01", b"R" + struct.pack("!I", 1) + b"public", b"Z", b"I\x00\x00\x00\x01X"],
)
def test_truncated_or_unknown_messages_fail_instead_of_misreading(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(payload)


def test_an_update_that_moves_the_key_is_a_delete_then_the_update() -> None:
    moved = Change("update", 1, new=("7", "3.75", UNCHANGED), old=("3", None, None))
    assert change_values(moved, key=[0]) == [
        ("delete", ("3", None, None)),
        ("update", ("7", "3.75", None)),
    ]
    full = Change("update", 1, new=("3", "4.00", UNCHANGED), old=("3", "3.75", "kept"))
    assert change_values(full, key=[0]) == [("update", ("3", "4.00", "kept"))]


def test_batches_type_values_and_add_the_change_columns() -> None:
    shape = TableShape.of(
        "orders",
        [("order_id", INT8, -1), ("total", NUMERIC, (12 << 16 | 2) + 4), ("at", TIMESTAMP, -1)],
    )
    batches = Batches(batch_rows=2)
    assert list(batches.set_shape(shape)) == []
    assert (
        list(batches.add("orders", ("1", "9.99", "2026-12-03 17:00:00"), "insert", 10, 1, WHEN))
        == []
    )
    ((name, table),) = batches.add("orders", ("2", None, None), "delete", 11, 1, WHEN)
    assert name == "orders" and table.num_rows == 2
    assert table.schema.field("total").type == pa.decimal128(12, 2)
    assert table.column("total").to_pylist() == [Decimal("9.99"), None]
    assert table.column("at").to_pylist()[0] == datetime(2026, 12, 3, 17)
    assert table.column("_cdc_op").to_pylist() == ["insert", "delete"]
    assert table.column("_cdc_lsn").to_pylist() == [10, 11]
    assert list(batches.flush()) == []


def test_personal_data_on_a_cdc_source_is_refused_rather_than_left_unredacted(
    tmp_path: Path,
) -> None:
    sources = tmp_path / "sources.yml"
    sources.write_text(
        "shop:\n  type: postgres_cdc\n  credentials: postgresql://x@h/db\n"
        "  tables: {orders: {primary_key: order_id}}\n"
        "  personal_data: {orders: {customer_id: customer_id, redact: [customer_id]}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceConfigError, match=r"shop\.personal_data: not supported"):
        config.load(sources)
