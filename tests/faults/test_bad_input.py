"""Bad input in event file drops: every row written is loaded or rejected, never lost.

A landing folder of crafted files (wrong column counts, wrong types, unbalanced quotes,
Latin-1 bytes, byte order marks, empty and header-only files, a file without its header,
invalid JSON lines, a Parquet and a gzip file cut in half) is loaded by the real events loader.
Each row the test wrote is tagged with what must happen to it; the warehouse must hold exactly
the good rows, `rejected_records` exactly the bad ones (file, line, reason), and each cut file
one record for the whole file (position 0) while the other files load in the same run.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import ingestion
from ingestion import config
from tests.support.battery import full_battery, size
from tests.support.warehouse import query_current

AREA = "bad input"
COLUMNS = list(yaml.safe_load(config.DEFAULT_SOURCES_FILE.read_text())["events"]["columns"])
DAY = "date=2026-11-01"


@dataclass
class Drop:
    """The files written and what must become of each of their rows."""

    root: Path
    good_ids: set[str] = field(default_factory=set)
    bad_rows: set[tuple[str, int]] = field(default_factory=set)  # (file, line)
    cut_files: set[str] = field(default_factory=set)
    rows_in: int = 0  # data rows in readable files
    rows_in_cut_files: int = 0
    next_id: int = 0

    def event(self, **override: Any) -> dict[str, Any]:
        self.next_id += 1
        row = {
            "event_id": f"evt-{self.next_id:06d}",
            "anonymous_id": f"anon-{self.next_id % 7}",
            "customer_id": self.next_id % 50 + 1,
            "event_type": "page_view",
            "url": "/products/1",
            "referrer": None,
            "utm_source": None,
            "utm_medium": None,
            "utm_campaign": None,
            "device": "mobile",
            "occurred_at": "2026-11-01T10:00:00+02:00",
            "properties": {"product_id": 1},
        }
        row.update(override)
        return row

    def path(self, name: str) -> Path:
        path = self.root / DAY / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def expect(self, name: str, line: int, row: dict[str, Any] | None, good: bool) -> None:
        self.rows_in += 1
        if good:
            assert row is not None
            self.good_ids.add(row["event_id"])
        else:
            self.bad_rows.add((f"{DAY}/{name}", line))


def _csv_line(row: dict[str, Any]) -> str:
    out = io.StringIO()
    values = [
        json.dumps(row[c]) if c == "properties" else ("" if row[c] is None else row[c])
        for c in COLUMNS
    ]
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


HEADER = ",".join(COLUMNS)


def write_csv(
    drop: Drop, name: str, lines: list[tuple[str, dict[str, Any] | None, bool]], **opts: Any
) -> None:
    """Lines after the header: (text, row or None, loads?). opts: encoding, bom, header."""
    text_lines = []
    if opts.get("header", True):
        text_lines.append(HEADER)
    for text, row, good in lines:
        text_lines.append(text)
        drop.expect(name, len(text_lines), row, good)
    data = "\n".join(text_lines) + ("\n" if text_lines else "")
    encoded = data.encode(opts.get("encoding", "utf-8"))
    if opts.get("bom"):
        encoded = b"\xef\xbb\xbf" + encoded
    drop.path(name).write_bytes(encoded)


def write_jsonl(
    drop: Drop, name: str, lines: list[tuple[str, dict[str, Any] | None, bool]], **opts: Any
) -> None:
    data = "\n".join(text for text, _, _ in lines) + "\n"
    for number, (_, row, good) in enumerate(lines, start=1):
        drop.expect(name, number, row, good)
    encoded = data.encode(opts.get("encoding", "utf-8"))
    if opts.get("bom"):
        encoded = b"\xef\xbb\xbf" + encoded
    if name.endswith(".gz"):
        encoded = gzip.compress(encoded)
    drop.path(name).write_bytes(encoded)


def _parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    table = pa.table(
        {c: [json.dumps(r[c]) if c == "properties" else r[c] for r in rows] for c in COLUMNS}
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=max(1, len(rows) // 4))
    return buffer.getvalue()


def build_drop(root: Path, n: int) -> Drop:
    """Write every kind of bad file, `n` good rows in each besides its bad ones."""
    d = Drop(root)
    good = lambda: [(_csv_line(r), r, True) for r in (d.event() for _ in range(n))]  # noqa: E731

    def bad(text: str) -> tuple[str, None, bool]:
        return (text, None, False)

    # CSV: wrong column counts
    r1, r2 = d.event(), d.event()
    write_csv(
        d,
        "wrong_columns.csv",
        [
            *good(),
            bad(_csv_line(r1) + ",extra"),
            *good(),
            bad(_csv_line(r2).rsplit(",", 3)[0]),
            *good(),
        ],
    )
    # CSV: values of the wrong type
    write_csv(
        d,
        "wrong_types.csv",
        [
            *good(),
            bad(_csv_line(d.event(customer_id="abc"))),
            bad(_csv_line(d.event(occurred_at="yesterday"))),
            bad(_csv_line(d.event(occurred_at="2026-11-01T10:00:00"))),  # no UTC offset
            bad(_csv_line(d.event(customer_id="1.5"))),
            bad(_csv_line(d.event(event_id=""))),  # required
            *good(),
        ],
    )
    # CSV: an unbalanced quote on one line
    write_csv(
        d,
        "unbalanced_quotes.csv",
        [
            *good(),
            bad(_csv_line(d.event()).replace(",anon", ',"anon', 1)),
            *good(),
        ],
    )
    # CSV in Latin-1: rows with non-ASCII bytes are refused (not loaded altered)
    write_csv(
        d,
        "latin1.csv",
        [
            *good(),
            bad(_csv_line(d.event(url="/café"))),
            *good(),
        ],
        encoding="latin-1",
    )
    # CSV and JSONL with a UTF-8 byte order mark: read as if it were not there
    write_csv(d, "bom.csv", good(), bom=True)
    # empty, header-only, and a file whose header line is missing
    write_csv(d, "empty.csv", [], header=False)
    write_csv(d, "header_only.csv", [])
    rows = [d.event() for _ in range(n + 1)]
    write_csv(d, "no_header.csv", [bad(_csv_line(r)) for r in rows], header=False)

    def jgood() -> list[tuple[str, dict[str, Any], bool]]:
        return [(json.dumps(r), r, True) for r in (d.event() for _ in range(n))]

    write_jsonl(
        d,
        "invalid.jsonl",
        [
            *jgood(),
            bad(json.dumps(d.event())[:-7]),  # cut JSON
            bad("[1, 2, 3]"),
            bad("42"),
            bad("null"),
            bad(json.dumps({"event_id": "x-no-time"})),
            bad(json.dumps(d.event(customer_id="seven"))),
            *jgood(),
        ],
    )
    write_jsonl(d, "invalid.jsonl.gz", [*jgood(), bad("{not json"), *jgood()])
    write_jsonl(d, "bom.jsonl", jgood(), bom=True)
    write_jsonl(
        d,
        "latin1.jsonl",
        [
            *jgood(),
            bad(json.dumps(d.event(url="/crème"), ensure_ascii=False)),
            *jgood(),
        ],
        encoding="latin-1",
    )

    # Parquet: one good file, one cut in half (its footer is gone)
    rows = [d.event() for _ in range(4 * n)]
    d.path("good.parquet").write_bytes(_parquet_bytes(rows))
    for number, row in enumerate(rows, start=1):
        d.expect("good.parquet", number, row, True)
    whole = _parquet_bytes([d.event() for _ in range(4 * n)])
    d.path("cut.parquet").write_bytes(whole[: len(whole) // 2])
    whole_gz = gzip.compress(
        "\n".join(json.dumps(d.event()) for _ in range(4 * n)).encode(), mtime=0
    )
    d.path("cut.jsonl.gz").write_bytes(whole_gz[: len(whole_gz) // 2])
    d.cut_files = {f"{DAY}/cut.parquet", f"{DAY}/cut.jsonl.gz"}
    d.rows_in_cut_files = 8 * n
    return d


def _sources_file(tmp_path: Path, bucket: Path) -> Path:
    events = yaml.safe_load(config.DEFAULT_SOURCES_FILE.read_text())["events"]
    events.update(demo=False, bucket_url=str(bucket))
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump({"events": events}, sort_keys=False))
    return path


WAREHOUSES = ["duckdb", "postgres"] if full_battery() else ["duckdb"]


@pytest.mark.parametrize("warehouse_kind", WAREHOUSES)
def test_every_bad_row_is_rejected_with_file_line_and_reason_and_none_is_lost(
    warehouse_kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    figure: Any,
) -> None:
    if warehouse_kind == "duckdb":
        monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    else:
        monkeypatch.setenv("WAREHOUSE", "postgres")
        for key, value in request.getfixturevalue("pg_database").items():
            monkeypatch.setenv(key, value)
    drop = build_drop(tmp_path / "landing", size(5, 500))
    monkeypatch.setenv("INGESTION_SOURCES", str(_sources_file(tmp_path, drop.root)))

    summary = ingestion.load(sources=["events"])

    loaded_ids = {r[0] for r in query_current("select event_id from raw_events.events")}
    rejected = query_current(
        "select location, position, reason, source_name, resource_name"
        " from raw_events.rejected_records"
    )
    row_rejects = {(r[0], r[1]) for r in rejected if r[1] > 0}
    file_rejects = {r[0] for r in rejected if r[1] == 0}
    unaccounted = drop.rows_in - len(loaded_ids) - len(row_rejects)
    incomplete = [r for r in rejected if not (r[0] and r[1] is not None and r[2])]
    wh = warehouse_kind
    figure(AREA, "rows in (readable files)", drop.rows_in, "= loaded + rejected", True, wh)
    figure(
        AREA,
        "rows loaded",
        len(loaded_ids),
        f"= {len(drop.good_ids)} good rows written",
        loaded_ids == drop.good_ids,
        wh,
    )
    figure(
        AREA,
        "rows rejected",
        len(row_rejects),
        f"= {len(drop.bad_rows)} bad rows written",
        row_rejects == drop.bad_rows,
        wh,
    )
    figure(
        AREA, "rows unaccounted (in - loaded - rejected)", unaccounted, "= 0", unaccounted == 0, wh
    )
    figure(AREA, "rejects without file/position/reason", len(incomplete), "= 0", not incomplete, wh)
    figure(
        AREA,
        "cut files recorded as rejected files / cut",
        f"{len(file_rejects & drop.cut_files)}/{len(drop.cut_files)}",
        "all",
        file_rejects == drop.cut_files,
        wh,
        detail=f"{drop.rows_in_cut_files} rows in cut files; other files loaded in the same run",
    )

    assert summary.ok, summary.errors  # a cut file does not stop the run
    assert loaded_ids == drop.good_ids
    assert row_rejects == drop.bad_rows, (
        f"missing: {sorted(drop.bad_rows - row_rejects)[:5]}, "
        f"unexpected: {sorted(row_rejects - drop.bad_rows)[:5]}"
    )
    assert unaccounted == 0
    assert not incomplete
    assert file_rejects == drop.cut_files
    assert all(r[3] == "events" and r[4] == "events" for r in rejected)
    reasons = {r[0].rsplit("/", 1)[1]: r[2] for r in rejected}
    assert "not valid UTF-8" in reasons["latin1.csv"]
    assert "header" in reasons["no_header.csv"] or "required column" in reasons["no_header.csv"]
    assert "unreadable Parquet file" in reasons["cut.parquet"]
    assert "unreadable compressed file" in reasons["cut.jsonl.gz"]
    assert summary.tables["raw_events.events"].rejected == len(rejected)

    # a second run reads nothing new and changes nothing
    again = ingestion.load(sources=["events"])
    assert again.ok, again.errors
    assert {r[0] for r in query_current("select event_id from raw_events.events")} == loaded_ids
    assert len(query_current("select location from raw_events.rejected_records")) == len(rejected)
