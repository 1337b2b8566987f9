"""The fast JSON lines reader gives exactly what the line-by-line reference gives.

The reference (``tests/support/jsonl_reference.py``) is the reader as it was. Generated files of
nasty lines (numbers near the float64 and 64-bit bounds inside and outside strings, hex ids,
nested objects and lists, mixed kinds per key, duplicate keys, escapes, bytes that are not
UTF-8, blank and non-object lines, CR/CRLF endings, a byte order mark) must give equal yields:
the same Arrow tables (column order, types, values), line numbers, raw texts and rejects.
The typing's one-pass buffer check for NUL and ``\\u0000``, and its DuckDB kept per thread,
are checked here too.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.filesystem import columns, jsonl_reader, scratch
from ingestion.filesystem.contract import FileContract
from ingestion.filesystem.values import buffer_holds, text_problems
from tests.support import jsonl_reference

EXAMPLES = int(os.environ.get("JSONL_EXAMPLES", "150"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM", "") == "",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KEYS = ["event_id", "customer_id", "properties", "a", "b", "é", 'q"k', "3e456"]
BOUNDS = [
    -(2**63), -(2**63) - 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**19, -(10**19), 10**25,
    -9999999999999999999, 1234567890123456789,
]  # fmt: skip
FLOAT_TEXTS = [
    "1e-400", "-1e-400", "2.4703282292062327e-324", "2.4703282292062328e-324", "5e-324",
    "1.7976931348623157e308", "0e-999", "0.000e-500", "1e400", "1E-0400", "1.5e+300", "1e-99",
    "0." + "0" * 330 + "1", "1" + "0" * 30 + ".5", "-0.0", "0.1", "1e5", "3e456",
]  # fmt: skip
TEXTS = ["3e456", "12345678901234567890", "1e-400", "x", "", "é", "😀", 'a"b', "a\\b",
         "\u0000", "line\nbreak", "ab3E-999cd", "0" * 40]  # fmt: skip


def _float_text() -> st.SearchStrategy[str]:
    digits = st.text("0123456789", min_size=1, max_size=25)
    exponent = st.tuples(st.sampled_from("eE"), st.sampled_from(["", "+", "-"]),
                         st.text("0123456789", min_size=1, max_size=4))  # fmt: skip
    return st.builds(
        lambda sign, whole, frac, exp: (
            sign + (whole.lstrip("0") or "0") + (f".{frac}" if frac else "") + "".join(exp or ())
        ),
        st.sampled_from(["", "-"]), digits, st.none() | digits, st.none() | exponent,
    )  # fmt: skip


def _string_text() -> st.SearchStrategy[str]:
    text = st.sampled_from(TEXTS) | st.text(max_size=8)
    return st.builds(lambda s, ascii_only: json.dumps(s, ensure_ascii=ascii_only),
                     text, st.booleans())  # fmt: skip


PLAIN = st.one_of(
    st.sampled_from(["null", "true", "false"]),
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    _string_text(),
)
NASTY = st.one_of(
    st.integers(-(2**66), 2**66).map(str),
    st.sampled_from(BOUNDS).map(str),
    st.sampled_from(FLOAT_TEXTS),
    _float_text(),
)
SCALARS = st.one_of(PLAIN, PLAIN, PLAIN, NASTY)


def _object(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(st.sampled_from(KEYS).map(json.dumps), children)
    return st.lists(pair, max_size=5).map(lambda ps: "{" + ",".join(map(":".join, ps)) + "}")


def _array(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(children, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]")


VALUES = st.recursive(SCALARS, lambda kids: _array(kids) | _object(kids), max_leaves=12)
ODD_LINES = ["", " ", "\t", "\u00a0", "{", '{"a": 1,}', '{"a": NaN}', '{"a": 1} x', "\ufeff{}",
             "{}", '{"a":1}{"b":2}']  # fmt: skip
NOT_UTF8 = [b"\xff", b"\xc3(", b"\xe9", b"\xed\xa0\x80"]
SPACES = st.sampled_from(["", " ", "\t", "  "])
LINES = st.one_of(
    st.builds(lambda a, o, b: a + o + b, SPACES, _object(VALUES), SPACES),
    _object(VALUES),
    _object(VALUES),
    VALUES,  # arrays and scalars: not objects
    st.sampled_from(ODD_LINES),
    st.builds(lambda o, cut: o[:cut], _object(VALUES), st.integers(0, 40)),  # cut short
)


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    """A JSON lines file: generated lines, some with bytes that are not UTF-8."""
    chunks = []
    for line in draw(st.lists(LINES, max_size=40)):
        raw = line.encode()
        if draw(st.integers(0, 15)) == 0:
            at = draw(st.integers(0, len(raw)))
            raw = raw[:at] + draw(st.sampled_from(NOT_UTF8)) + raw[at:]
        chunks.append(raw)
    ending = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    body = ending.join(chunks) + (ending if draw(st.booleans()) else b"")
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + body


def _yields(chunks: Iterator[tuple[Any, list[dict[str, Any]]]]) -> list[Any]:
    """Each yield as comparable values: table schema, columns, lines, raw texts, rejects (but
    the instant they were made)."""
    out = []
    for chunk, rejected in chunks:
        table = None
        if chunk is not None:
            table = (str(chunk.table.schema), chunk.table.num_rows, chunk.table.to_pydict(),
                     chunk.lines, chunk.raw_texts)  # fmt: skip
        out.append((table, [{k: v for k, v in r.items() if k != "rejected_at"} for r in rejected]))
    return out


def _both(data: bytes, batch_rows: int) -> tuple[list[Any], list[Any]]:
    contract = FileContract(columns={"event_id": "string"}, batch_rows=batch_rows)
    want = _yields(jsonl_reference.read_jsonl(io.BytesIO(data), "f.jsonl", contract))
    got = _yields(jsonl_reader.read_jsonl(io.BytesIO(data), "f.jsonl", contract))
    return want, got


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl_reader, "BLOCK_LINES", 4)


@pytest.mark.usefixtures("small_blocks")
@given(data=jsonl_files(), batch_rows=st.integers(1, 9))
@SETTINGS
def test_generated_files_read_exactly_as_the_reference_reads_them(data: bytes, batch_rows: int):
    want, got = _both(data, batch_rows)

    assert got == want


@given(lines=st.lists(st.tuples(st.integers(1, 10**6), LINES | st.text(max_size=30)), max_size=30))
@SETTINGS
def test_given_lines_with_breaks_and_lone_surrogates_read_as_the_reference_reads_them(lines):
    lines = [(n, text.replace("é", "\udcc3").replace("x", "\n")) for n, text in lines]
    contract = FileContract(columns={"event_id": "string"}, batch_rows=3)

    want = _yields(jsonl_reference.jsonl_line_chunks(lines, contract, "f"))
    got = _yields(jsonl_reader.jsonl_line_chunks(lines, contract, "f"))

    assert got == want


def test_a_file_of_many_blocks_and_batches_reads_as_the_reference_reads_it():
    rows = []
    for i in range(6000):
        row = {"event_id": f"{i * 2654435761 % 2**64:016x}", "customer_id": i if i % 7 else None,
               "properties": {"n": i / 3, "tags": ["a", i]} if i % 5 else "text"}  # fmt: skip
        rows.append(json.dumps(row))
    rows[2500] = '{"event_id": "3e456", "big": 1e-400}'
    rows[2501] = '{"event_id": "3e457", "big": 1e-400}'
    rows[4100] = '{"event_id": "y", "big": -9223372036854775809}'
    rows[5000] = "[1, 2]"
    data = ("\n".join(rows) + "\n").encode()
    assert sum(bool(re.search(r"[0-9][eE][0-9]{3}", row)) for row in rows) > 100  # a mark in text

    want, got = _both(data, batch_rows=2048)

    assert got == want
    rejected = [r["position"] for _, records in got for r in records]
    assert rejected == [2501, 2502, 4101, 5001]


def test_a_line_holding_a_line_break_does_not_hide_the_misread_number_of_the_next():
    lines = [(1, '{"a":\n1}'), (2, '{"b":\r1e-400}'), (3, "{}"), (4, '{"c": "3e456"}')]
    contract = FileContract(columns={"event_id": "string"}, batch_rows=10)

    want = _yields(jsonl_reference.jsonl_line_chunks(lines, contract, "f"))
    got = _yields(jsonl_reader.jsonl_line_chunks(lines, contract, "f"))

    assert got == want
    assert [r["position"] for r in got[0][1]] == [2]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"a": 1e-400}', "out of the float64 range"),
        ('{"a": 2.4703282292062327e-324}', "out of the float64 range"),
        ('{"a": -9223372036854775809}', "does not fit 64 bits"),
        ('{"a": 18446744073709551616}', "does not fit 64 bits"),
        ('{"a": 1, "a": 1e-400}', "out of the float64 range"),
        ('{"id": "3e-456", "a": [{"b": 1e-999}]}', "out of the float64 range"),
        ('{"a": "x\\"", "b": 0.0e-500, "c": 1E-0400}', "out of the float64 range"),
    ],
)
def test_a_number_orjson_would_misread_rejects_its_line(line: str, reason: str):
    want, got = _both((line + "\n").encode(), batch_rows=10)

    assert got == want
    [(table, [record])] = got
    assert table is None and record["position"] == 1 and reason in record["reason"]


@pytest.mark.parametrize(
    "line",
    [
        '{"id": "3e456", "n": 12}',
        '{"id": "-9223372036854775809", "s": "1e-400"}',
        '{"a": 9223372036854775807, "b": -9223372036854775808, "c": 18446744073709551615}',
        '{"a": 5e-324, "b": 0e-999, "c": 1.7976931348623157e308, "d": 1e-99}',
        '{"a\\"1e-400": 1, "b": "\\\\1e-400"}',
    ],
)
def test_a_number_read_as_written_loads_even_when_its_text_looks_suspect(line: str):
    want, got = _both((line + "\n").encode(), batch_rows=10)

    assert got == want
    [(table, rejected)] = got
    assert table is not None and not rejected


@pytest.mark.parametrize(
    ("values", "needle", "may"),
    [
        (["abc", None, "d\x00e"], b"\x00", True),
        (["abc", None, "de"], b"\x00", False),
        ([None, None], b"\x00", False),
        ([], b"\x00", False),
        (['{"a": "\\u0000"}', "{}"], b"\\u0000", True),
        (['{"a": "\\\\u0000"}'], b"\\u0000", True),  # an escaped backslash: exact check decides
        (['{"a": "u0000"}', "{}"], b"\\u0000", False),
    ],
)
def test_a_text_buffer_without_the_bytes_spares_the_search_per_value(values, needle, may):
    array = pa.array(values, type=pa.string())

    assert buffer_holds(array, needle) is may
    found = pc.any(pc.match_substring(array, needle.decode())).as_py() or False
    assert found <= may  # never False where a value holds the bytes


def test_a_nul_in_a_sliced_text_column_is_still_found_and_its_row_reported():
    array = pa.array(["a\x00", "b", "c\x00d", "e"], type=pa.string()).slice(1)

    typed, bad = text_problems(array, "note")

    assert list(bad) == [1] and "NUL" in bad[1]
    assert typed.to_pylist() == ["b", None, "e"]


def test_the_json_check_answers_alike_in_a_run_outside_one_and_in_another_thread():
    values = pa.array(['{"a": 1}', "{", None, '"x"'])
    alone = columns._duckdb_json_valid(values).to_pylist()
    other: dict[str, Any] = {}

    def check() -> None:
        other["answer"] = columns._duckdb_json_valid(values).to_pylist()

    with scratch.reading():
        first, again = columns._duckdb_json_valid(values), columns._duckdb_json_valid(values)
        thread = threading.Thread(target=check)
        thread.start()
        thread.join()

    assert alone == first.to_pylist() == again.to_pylist() == other["answer"]
    assert alone == [True, False, None, True]


def test_readers_share_one_scratch_database_which_closes_when_the_last_leaves():
    with scratch.reading(), scratch.reading():
        with scratch.cursor() as one:
            one.execute("create table seen as select 42 as answer")
        with scratch.cursor() as two:
            assert two.execute("select answer from seen").fetchall() == [(42,)]
        assert scratch._database is not None
    assert scratch._database is None
    with scratch.reading(), scratch.cursor() as fresh:
        assert fresh.execute("select count(*) from duckdb_tables()").fetchall() == [(0,)]
    with scratch.cursor() as alone:  # outside a run: a database of its own, closed after use
        assert alone.execute("select count(*) from duckdb_tables()").fetchall() == [(0,)]
    assert scratch._database is None


def test_a_cursor_taken_while_a_run_reads_keeps_working_after_the_run_ends():
    opened, go_on, answers = threading.Event(), threading.Event(), []

    def outside_any_run() -> None:
        with scratch.cursor() as con:
            opened.set()
            go_on.wait(10)
            answers.append(con.execute("select 6 * 7").fetchall())

    thread = threading.Thread(target=outside_any_run)
    with scratch.reading():
        thread.start()
        assert opened.wait(10)
    assert scratch._database is not None  # the cursor still holds it
    go_on.set()
    thread.join()

    assert answers == [[(42,)]]
    assert scratch._database is None


def test_a_database_that_fails_to_close_is_not_handed_out_again(monkeypatch):
    class Unclosable:
        def cursor(self) -> Any:
            raise AssertionError("a closed database was handed out again")

        def close(self) -> None:
            raise RuntimeError("close failed")

    with pytest.raises(RuntimeError, match="close failed"), scratch.reading():
        monkeypatch.setattr(scratch, "_database", Unclosable())

    assert scratch._database is None
    with scratch.reading(), scratch.cursor() as con:
        assert con.execute("select 1").fetchall() == [(1,)]


FORK_WHILE_READING = """
import os
from ingestion.filesystem import scratch
with scratch.reading():
    with scratch.cursor() as con:
        con.execute("select 1").fetchall()
    pid = os.fork()
    if pid == 0:
        ok = scratch._holders == 0 and scratch._database is None
        with scratch.reading(), scratch.cursor() as own:
            ok = ok and own.execute("select 2").fetchall() == [(2,)]
        os._exit(0 if ok and scratch._database is None else 1)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status), "parent closed", scratch._database is None)
"""


def test_a_child_forked_while_a_run_reads_starts_with_no_reader_and_its_own_database():
    run = subprocess.run(  # a fresh process: this one may hold other libraries' threads
        [sys.executable, "-c", FORK_WHILE_READING], capture_output=True, text=True, timeout=120
    )

    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["child", "0", "parent", "closed", "True"]
