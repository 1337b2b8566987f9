"""Pure logic of the loaders: config expansion, typing of rows, body validation, naming."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
import requests

from ingestion import config
from ingestion.filesystem.columns import cast_column
from ingestion.filesystem.contract import FileContract
from ingestion.filesystem.helpers import partition_date
from ingestion.filesystem.readers import read_file
from ingestion.filesystem.repeats import RunKeys
from ingestion.rest_api import hooks as rest
from ingestion.sql_database.helpers import engine_url

CONTRACT = FileContract(
    columns={
        "event_id": "string",
        "customer_id": "int64",
        "occurred_at": "timestamptz",
        "properties": "json_text",
    },
    required=["event_id", "occurred_at"],
)


def _read(name: str, data: bytes) -> tuple[list[dict], list[dict]]:
    good, bad = [], []
    for table, rejected in read_file(io.BytesIO(data), name, name, CONTRACT):
        if table is not None:
            good.extend(table.to_pylist())
        bad.extend(rejected)
    return good, bad


def test_environment_variables_expand_with_defaults(monkeypatch):
    monkeypatch.setenv("SOME_DIR", "/data")
    monkeypatch.delenv("MISSING", raising=False)

    value = config.expand_env({"a": ["${SOME_DIR}/x", "${MISSING:-fallback}"], "b": 3})

    assert value == {"a": ["/data/x", "fallback"], "b": 3}


def test_secret_values_resolve_through_dlt_secrets(monkeypatch):
    monkeypatch.setenv("SOURCES__CRM__TOKEN", "s3cr3t")

    assert config.resolve_secret("secret:sources.crm.token") == "s3cr3t"
    assert config.resolve_secret("secret:sources.nothing.here", default="d") == "d"
    assert config.resolve_secret("plain") == "plain"


def test_unknown_source_names_are_refused_with_the_defined_ones():
    configs = config.load()

    with pytest.raises(config.SourceConfigError, match="unknown source"):
        config.select(configs, ["nope"])
    assert [c.name for c in config.select(configs, None)] == ["crm", "fx", "shop", "events"]


def test_csv_with_a_bad_line_keeps_the_good_rows_and_rejects_the_line_with_its_number():
    data = (
        b"event_id,customer_id,occurred_at,properties\n"
        b'e1,1,2026-11-01T10:00:00+02:00,"{""a"": 1}"\n'
        b"e2,2,2026-11-01T10:00:00Z\n"
        b"e3,n/a,yesterday at noon,{}\n"
        b"e4,,2026-11-01T10:00:00-05:00,{}\n"
    )

    good, bad = _read("x.csv", data)

    assert [r["event_id"] for r in good] == ["e1", "e4"]
    assert [r["_file_line"] for r in good] == [2, 5]
    assert good[1]["customer_id"] is None
    assert good[0]["occurred_at"].isoformat() == "2026-11-01T08:00:00+00:00"
    assert {(r["position"], r["reason"].split(" ")[0]) for r in bad} == {
        (3, "expected"),
        (4, "column"),
    }
    assert bad[0]["raw_text"] in ("e2,2,2026-11-01T10:00:00Z", "e3,n/a,yesterday at noon,{}")


def test_a_bad_csv_line_after_the_first_streamed_block_loads_every_good_row_exactly_once():
    contract = FileContract(columns=CONTRACT.columns, required=CONTRACT.required, batch_rows=5000)
    rows = [f"e{i},{i},2026-11-01T10:00:00Z,{{}}" for i in range(1, 80_001)]
    bad_at = 70_000  # past the first two 1 MiB blocks
    rows[bad_at - 1] = "broken,line"
    data = ("event_id,customer_id,occurred_at,properties\n" + "\n".join(rows) + "\n").encode()
    assert len(data) > 2 * contract.csv_block_bytes

    good, bad = [], []
    for table, rejected in read_file(io.BytesIO(data), "big.csv", "big.csv", contract):
        if table is not None:
            good.extend(table.select(["event_id", "_file_line"]).to_pylist())
        bad.extend(rejected)

    ids = [r["event_id"] for r in good]
    assert len(ids) == len(set(ids)) == 79_999
    assert all(r["_file_line"] == int(r["event_id"][1:]) + 1 for r in good)
    assert [(r["position"], r["raw_text"]) for r in bad] == [(bad_at + 1, "broken,line")]


def test_jsonl_objects_become_json_text_and_broken_lines_are_rejected():
    lines = [
        json.dumps(
            {"event_id": "e1", "occurred_at": "2026-11-01T10:00:00Z", "properties": {"p": 1}}
        ),
        '{"event_id": "e2", "occurr',
        json.dumps({"customer_id": 5, "occurred_at": "2026-11-01T10:00:00Z"}),
        json.dumps({"event_id": "e4", "occurred_at": 1700000000, "customer_id": "x"}),
    ]
    data = gzip.compress(("\n".join(lines) + "\n").encode())

    good, bad = _read("x.jsonl.gz", gzip.decompress(data))

    assert [r["event_id"] for r in good] == ["e1"]
    assert json.loads(good[0]["properties"]) == {"p": 1}
    assert sorted(r["position"] for r in bad) == [2, 3, 4]
    reasons = {r["position"]: r["reason"] for r in bad}
    assert reasons[2].startswith("invalid JSON")
    assert "event_id" in reasons[3]
    assert "customer_id" in reasons[4] or "occurred_at" in reasons[4]


def test_jsonl_lines_with_invalid_utf8_are_rejected_and_valid_non_ascii_kept():
    row = {"event_id": "e1", "occurred_at": "2026-11-01T10:00:00Z", "properties": {"q": "ça"}}
    lines = [
        json.dumps(row, ensure_ascii=False).encode(),
        b'{"event_id": "e2", "occurred_at": "2026-11-01T10:00:00Z", "x": "caf\xe9"}',
    ]

    good, bad = _read("x.jsonl", b"\n".join(lines) + b"\n")

    assert [r["event_id"] for r in good] == ["e1"]
    assert json.loads(good[0]["properties"]) == {"q": "ça"}
    assert [r["position"] for r in bad] == [2]
    assert "not valid UTF-8 (byte 0xe9 at character" in bad[0]["reason"]


def test_columns_that_cannot_be_typed_are_reported_by_row():
    column = pa.chunked_array([["1", "2", "three", None]])

    typed, bad = cast_column(column, "int64", "customer_id")

    assert typed.to_pylist() == [1, 2, None, None]
    assert list(bad) == [2]


def _response(status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.url = "http://api.example/x?cursor=1"
    response.request = requests.Request("GET", response.url).prepare()
    return response


def test_a_truncated_json_body_raises_a_retryable_error():
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="truncated or malformed"):
        rest.validate_json_body(_response(200, b'{"data": [{"id": 1}, {"id'))
    rest.validate_json_body(_response(200, b'{"data": []}'))  # complete: accepted
    rest.validate_json_body(_response(503, b"<html>oops"))  # errors are dlt's to retry


def test_body_fields_are_copied_onto_each_row():
    response = _response(200, b'{"base": "USD", "data": [{"currency": "EUR"}]}')

    rest.copy_body_fields_hook(["base"])(response)

    assert json.loads(response.content)["data"] == [{"currency": "EUR", "base": "USD"}]


def test_naming_helpers():
    assert str(partition_date("date=2026-11-02/late.parquet", r"date=(\d{4}-\d{2}-\d{2})")) == (
        "2026-11-02"
    )
    assert engine_url("postgresql://u@h/db") == "postgresql+psycopg2://u@h/db"


def test_a_sqlite_source_is_opened_read_only_and_a_missing_file_is_never_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingestion.sql_database.helpers import DatabaseFileMissing

    monkeypatch.chdir(tmp_path)
    (tmp_path / "x y.sqlite").touch()
    assert engine_url("sqlite:///x y.sqlite") == "sqlite:///file%3Ax%2520y.sqlite?mode=ro&uri=true"
    assert engine_url("sqlite://") == "sqlite://"  # in memory: nothing to create at a source
    with pytest.raises(DatabaseFileMissing, match=r"shop.credentials: .*missing.sqlite does not"):
        engine_url("sqlite:///missing.sqlite", "shop")
    assert not (tmp_path / "missing.sqlite").exists()


def test_a_failed_source_is_described_by_its_http_error_not_the_generator_context() -> None:
    from dlt.common.exceptions import DltException

    from ingestion.errors import describe_error

    url = "http://127.0.0.1:1/crm/v1/campaigns?limit=3"
    try:
        try:
            raise StopIteration  # what a paginating generator was handling
        except StopIteration:
            try:
                raise requests.HTTPError(f"401 Client Error: Unauthorized for url: {url}")
            except requests.HTTPError as http:
                raise DltException("In processing pipe `campaigns`") from http
    except DltException as exc:
        message = describe_error("crm", exc)

    expected = f"source 'crm' failed: HTTPError: 401 Client Error: Unauthorized for url: {url}"
    assert message == expected


def test_a_terminally_failed_load_job_is_described_by_the_warehouse_error() -> None:
    from dlt.common.exceptions import DltException
    from dlt.load.exceptions import LoadClientJobFailed

    from ingestion.errors import describe_error

    refused = ValueError('Could not convert string "297,18" to DECIMAL(12,2): discount_amount')
    job = LoadClientJobFailed("1795", "orders.d15.parquet", "Traceback (most recent " * 40, refused)
    try:
        raise DltException("Pipeline execution failed at stage load") from job
    except DltException as exc:
        message = describe_error("shop", exc)

    assert message == (
        f"source 'shop' failed: ValueError: {refused} "
        "(load package aborted; the next run reads these rows again)"
    )


def test_every_name_accepted_without_dlt_is_one_dlt_keeps_as_it_is():
    """identifiers.py accepts plain names without importing dlt; dlt must agree on each one."""
    import itertools

    from dlt.common.normalizers.naming.snake_case import NamingConvention

    from ingestion.identifiers import identifier_problem

    naming = NamingConvention()
    accepted = [
        name
        for size in range(1, 7)
        for name in map("".join, itertools.product("ab_1", repeat=size))
        if identifier_problem(name) is None
    ]
    assert identifier_problem("address__line1") is None and len(accepted) > 500
    assert [n for n in accepted if naming.normalize_path(n) != n] == []


def _keys(*values: str, other: list[int] | None = None) -> pa.Table:
    columns = {"event_id": pa.array(list(values))}
    if other is not None:
        columns["n"] = pa.array(other)
    return pa.table(columns)


def test_run_keys_tell_a_run_of_distinct_keys_from_one_where_a_key_repeats():
    distinct = RunKeys(["event_id"], max_keys=10_000)
    for start in range(0, 5_000, 100):  # enough batches to merge sorted runs several times
        assert not distinct.add(_keys(*(f"e{i}" for i in range(start, start + 100))))
    assert not distinct.repeated

    within_a_batch = RunKeys(["event_id"])
    assert within_a_batch.add(_keys("a", "b", "a"))

    across_batches = RunKeys(["event_id"])
    for start in range(0, 5_000, 100):
        across_batches.add(_keys(*(f"e{i}" for i in range(start, start + 100))))
    assert across_batches.add(_keys("new", "e1234"))  # a key of an early, merged batch
    assert across_batches.add(_keys("other"))  # once repeated, the run stays "repeated"


def test_run_keys_use_every_key_column_and_give_up_past_their_memory_bound():
    compound = RunKeys(["event_id", "n"])
    assert not compound.add(_keys("a", "a", other=[1, 2]))
    assert compound.add(_keys("a", other=[2]))

    bounded = RunKeys(["event_id"], max_keys=3)
    assert not bounded.add(_keys("a", "b"))
    assert bounded.add(_keys("c", "d"))  # distinct, but past the bound: the safe answer


def test_load_id_index_names_fit_postgres_and_stay_distinct():
    from ingestion.identifiers import MAX_BYTES
    from ingestion.load_id_index import index_name

    assert index_name("events") == "events__load_id_brin"
    long_names = ["a" * 63, "a" * 62 + "b", "é" * 31, "é" * 30 + "x", "日本" * 10]
    names = [index_name(table) for table in long_names]
    assert all(len(name.encode()) <= MAX_BYTES for name in names)
    assert len(set(names)) == len(long_names)
    assert all(name.encode().decode() == name for name in names)  # cut on a character boundary
