"""The shop loader's key reconciliation: which landed keys are gone, which came back."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ingestion.sql_database.deletes import (
    as_keys,
    deleted_records_resource,
    live_count,
    reconcile,
)
from ingestion.sql_database.evidence import DeleteCheck, DeletesRefused


def _keys(*values: int) -> pa.Array:
    return pa.array([str(v) for v in values], pa.string())


def test_landed_keys_missing_from_the_source_are_reported_once() -> None:
    gone, back = reconcile(_keys(1, 2, 3, 4), _keys(1, 3, 5), flagged={"4": True})

    assert gone == ["2"]  # 4 was reported by an earlier run; 5 is new, not deleted
    assert back == []


def test_a_deleted_key_that_reappears_in_the_source_is_reported_back() -> None:
    gone, back = reconcile(_keys(1, 2), _keys(1, 2, 7), flagged={"2": True, "7": True, "9": False})

    assert gone == []
    assert back == ["2", "7"]


def test_integer_keys_are_compared_as_integers_and_reported_as_text() -> None:
    landed, present = as_keys([1, 2, 3, 2**40]), as_keys([1, 3])

    assert landed.type == pa.int64()
    assert reconcile(landed, present, flagged={"3": True}) == (["1099511627776", "2"], ["3"])


def test_keys_of_different_types_on_each_side_are_compared_as_text() -> None:
    landed, present = as_keys(["1", "2", "a"]), as_keys([1, 2])

    assert reconcile(landed, present, flagged={}) == (["a"], [])
    assert reconcile(as_keys([]), present, flagged={"2": True}) == ([], ["2"])


def test_a_composite_primary_key_is_refused_with_the_table_named() -> None:
    tables = {"lines": {"primary_key": ["order_id", "line"], "detect_hard_deletes": True}}

    with pytest.raises(ValueError, match=r"'lines'.*single-column primary_key"):
        deleted_records_resource("shop", "raw_shop", "sqlite://", tables)


@pytest.mark.parametrize(
    ("live", "present", "gone", "share", "refused"),
    [
        (100, 90, 10, 0.1, False),  # exactly the share: recorded
        (100, 89, 11, 0.1, True),  # one more: refused
        (100, 0, 100, 0.1, True),  # the table is empty
        (5, 0, 5, 0.9, True),  # empty, whatever its size
        (100, 0, 100, 1.0, False),  # 1: no limit
        (100, 120, 0, 0.0, False),  # nothing gone: nothing to refuse
        (100, 99, 1, 0.0, True),  # 0: every delete needs a person
    ],
)
def test_deletes_beyond_the_share_or_from_an_empty_table_are_refused(
    live: int, present: int, gone: int, share: float, refused: bool
) -> None:
    assert DeleteCheck("orders", live, present, gone, share).refused is refused


def test_the_refusal_names_source_table_counts_and_the_setting() -> None:
    check = DeleteCheck("orders", live=103, present=0, gone=103, max_share=0.1)

    message = str(DeletesRefused("shop", [check], "ingestion/sources.yml"))

    assert "orders: 0 keys in the source, 103 of 103 landed gone (100% > 0.1)" in message
    assert "shop.tables.orders.max_delete_share (1 = no limit) in ingestion/sources.yml" in message


def test_live_keys_leave_out_the_ones_already_recorded_deleted() -> None:
    assert live_count(as_keys([1, 2, 3, 4]), {"2": True, "3": False, "9": True}) == 3
