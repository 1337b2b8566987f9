"""File drops keep their promises for whole classes of input, on DuckDB and PostgreSQL.

- identity: every file is loaded once whatever its modification time; a renamed file doubles
  nothing; a changed file is re-read whole; backfills re-read their window;
- bad values: a value a warehouse cannot hold faithfully is rejected with file, line and column,
  a column that cannot be landed is rejected on its own, and everything else loads;
- a missing landing folder is an error naming it, and nothing is created;
- the landing zone is a trust boundary: symbolic links are refused and recorded, never read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import ingestion
from tests.faults.file_drop_support import (
    COLUMNS,
    DAY,
    EPOCH,
    csv_row,
    event,
    event_count,
    jsonl_line,
    loaded_events,
    parquet_bytes,
    rejects,
    text,
    use_landing,
    use_warehouse,
    write,
)

WAREHOUSES = ["duckdb", "postgres"]


@pytest.fixture(params=WAREHOUSES)
def kind(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    use_warehouse(request.param, tmp_path, monkeypatch, request)
    return str(request.param)


def _load(**window: Any) -> ingestion.LoadReport:
    return ingestion.load(sources=["events"], **window)


def _ids(first: int, last: int) -> set[str]:
    return {f"evt-{n:06d}" for n in range(first, last + 1)}


def test_every_file_is_loaded_once_by_identity_whatever_its_modification_time(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figure: Any
) -> None:
    area = "file drops: identity"
    root = tmp_path / "landing"
    day = root / DAY
    use_landing(tmp_path, monkeypatch, root)
    write(day / "a.jsonl", text([*map(jsonl_line, map(event, range(1, 4))), "{cut"]), EPOCH + 200)
    header = ",".join(COLUMNS)
    write(day / "b.csv", text([header, *(csv_row(event(n)) for n in range(4, 7))]), EPOCH + 300)
    first = _load()
    assert first.ok, first.errors

    # published by mv, rsync -a, cp -p or tar x: older than every file already loaded
    write(day / "late.jsonl", text([jsonl_line(event(n)) for n in range(7, 10)]), EPOCH + 100)
    late = _load()
    late_rows = len(_ids(7, 9) & set(loaded_events()))
    noop = _load()

    # renamed: the same content under a new path (mv keeps the modification time)
    os.rename(day / "a.jsonl", day / "a-renamed.jsonl")
    rejects_before, events_before = rejects(), event_count()
    renamed = _load()
    doubled_rejects = len(rejects()) - len(rejects_before)
    doubled_rows = event_count() - events_before

    # changed in place, keeping its old modification time: re-read whole, old rejects replaced
    bad = csv_row(event(5, customer_id="five"))
    write(day / "b.csv", text([header, csv_row(event(4, device="tablet")), bad]), EPOCH + 300)
    changed = _load()
    b_rejects = [(f, p) for f, p, _ in rejects() if f.endswith("b.csv")]
    write(day / "b.csv", text([header, csv_row(event(4, device="tablet"))]), EPOCH + 300)
    fixed = _load()
    b_left = [(f, p) for f, p, _ in rejects() if f.endswith("b.csv")]

    # a backfill of the day re-reads its files: rows merge, rejects stay as they are
    rows_before, rejects_before = event_count(), rejects()
    backfill = _load(start="2026-11-01", end="2026-11-01")
    backfill_doubles = event_count() - rows_before + len(rejects()) - len(rejects_before)

    loaded = {name: report.tables["raw_events.events"].loaded for name, report in (
        ("noop", noop), ("renamed", renamed))}  # fmt: skip
    figure(area, "rows of a file older than the loaded ones, loaded", f"{late_rows}/3", "3/3",
           late_rows == 3, kind)  # fmt: skip
    figure(area, "rows loaded by a run with nothing new", loaded["noop"], "= 0",
           loaded["noop"] == 0, kind)  # fmt: skip
    figure(area, "rows / rejects doubled by a rename", f"{doubled_rows}/{doubled_rejects}",
           "0/0", doubled_rows == 0 and doubled_rejects == 0, kind,
           detail=f"rows read again: {loaded['renamed']}")  # fmt: skip
    new_value = loaded_events()["evt-000004"][2]
    figure(area, "changed file re-read: new value, its rejects replaced", new_value,
           "tablet; rejects 1 then 0", new_value == "tablet" and len(b_rejects) == 1
           and not b_left, kind)  # fmt: skip
    figure(area, "rows or rejects doubled by a backfill of the day", backfill_doubles, "= 0",
           backfill_doubles == 0, kind)  # fmt: skip

    for report in (late, noop, renamed, changed, fixed, backfill):
        assert report.ok, report.errors
    assert late_rows == 3
    assert loaded["noop"] == 0
    assert doubled_rows == 0 and doubled_rejects == 0
    assert new_value == "tablet"
    assert b_rejects == [(f"{DAY}/b.csv", 3)] and not b_left
    assert backfill_doubles == 0
    assert set(loaded_events()) == _ids(1, 9)


# (file, line): the column a bad value sits in; each must be rejected naming that column.
BAD_VALUES: dict[tuple[str, int], str] = {}


def _values_drop(day: Path) -> set[str]:
    """Files with good rows and values no warehouse should receive; returns the good ids."""
    good: set[str] = set()
    n = 100

    def ok(**override: Any) -> dict[str, Any]:
        nonlocal n
        n += 1
        good.add(f"evt-{n:06d}")
        return event(n, **override)

    def bad(name: str, line: int, column: str, **override: Any) -> dict[str, Any]:
        nonlocal n
        n += 1
        BAD_VALUES[(f"{DAY}/{name}", line)] = column
        return event(n, **override)

    header = ",".join(COLUMNS)
    rows = [
        csv_row(ok()),
        csv_row(bad("values.csv", 3, "customer_id", customer_id="99999999999999999999")),
        csv_row(bad("values.csv", 4, "occurred_at", occurred_at="10000-01-01T00:00:00+00:00")),
        csv_row(bad("values.csv", 5, "url", url="/a\x00b")),
        csv_row(ok()),
    ]
    write(day / "values.csv", text([header, *rows]))
    # a year-0 instant in a file whose other instants all parse: the vectorised path
    write(day / "year0.csv", text([header, csv_row(ok()), csv_row(bad(
        "year0.csv", 3, "occurred_at", occurred_at="0000-06-01T00:00:00+00:00"))]))  # fmt: skip
    lines = [
        jsonl_line(ok()),
        jsonl_line(bad("values.jsonl", 2, "customer_id", customer_id="9223372036854775808")),
        jsonl_line(bad("values.jsonl", 3, "url", url="nul \x00 inside")),
        jsonl_line(bad("values.jsonl", 4, "properties", properties='{"price": NaN}')),
        jsonl_line(ok()),
    ]
    write(day / "values.jsonl", text(lines))
    # columns that cannot be landed: names colliding with declared ones after dlt's
    # normalisation, a name dlt cannot use, the loader's own column, a type dlt cannot land
    collide = [dict(ok(), **{"eventId": "x", "": 1, "_file_name": "forged"}) for _ in range(2)]
    write(day / "columns.jsonl", text([jsonl_line(r) for r in collide]))
    rows = [ok(), bad("values.parquet", 2, "url"), ok(), bad("values.parquet", 4, "occurred_at"),
            bad("values.parquet", 5, "huge")]  # fmt: skip
    table = pa.table({c: [json.dumps(r[c]) if c == "properties" else r[c] for r in rows]
                      for c in COLUMNS if c not in ("url", "occurred_at")})  # fmt: skip
    # not UTF-8; a nanosecond the warehouses cannot hold; past int64; a type dlt cannot land
    urls = pa.array([b"/a", b"/caf\xe9", b"/b", b"/c", b"/d"], pa.binary()).view(pa.string())
    nanos = [1_790_000_000_000_000_000 + (1 if i == 3 else 0) for i in range(5)]
    table = table.append_column("url", urls).append_column(
        "occurred_at", pa.array(nanos, pa.timestamp("ns", tz="UTC"))
    )
    table = table.append_column("Event ID", pa.array(["dup"] * 5))
    table = table.append_column("huge", pa.array([1, 2, 3, 4, 2**64 - 1], pa.uint64()))
    table = table.append_column("wait", pa.array([1, 2, 3, 4, 5], pa.duration("s")))
    write(day / "values.parquet", parquet_bytes(table))
    # an undeclared column whose type changes from one file to the next
    write(day / "x1.jsonl", text([jsonl_line(dict(ok(), size=5))]))
    write(day / "x2.jsonl", text([jsonl_line(dict(ok(), size="big"))]))
    return good


def test_values_a_warehouse_cannot_hold_are_rejected_by_file_line_and_column_and_the_rest_loads(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figure: Any
) -> None:
    area = "file drops: bad values"
    root = tmp_path / "landing"
    use_landing(tmp_path, monkeypatch, root)
    BAD_VALUES.clear()
    good = _values_drop(root / DAY)

    summary = _load()

    landed = set(loaded_events()) if summary.ok else set()
    found = rejects() if summary.ok else []
    by_line = {(f, p): reason for f, p, reason in found if p > 0}
    named = {k for k, column in BAD_VALUES.items() if column in by_line.get(k, "")}
    columns = {(f.rsplit("/", 1)[1], reason.split("'")[1]) for f, p, reason in found if p < 0}
    expected_columns = {
        ("columns.jsonl", "eventId"), ("columns.jsonl", ""), ("columns.jsonl", "_file_name"),
        ("values.parquet", "Event ID"), ("values.parquet", "wait"),
    }  # fmt: skip
    size_rejects = {c for c in columns if c[1] == "size"}
    figure(area, "source loaded despite bad values", summary.ok, "True", summary.ok, kind,
           detail="; ".join(summary.errors)[:300])  # fmt: skip
    figure(area, "good rows loaded", f"{len(landed & good)}/{len(good)}", "all",
           landed == good, kind)  # fmt: skip
    figure(area, "bad values rejected naming file, line and column",
           f"{len(named)}/{len(BAD_VALUES)}", "all", len(named) == len(BAD_VALUES), kind,
           detail=", ".join(f"{f}:{p}" for f, p in sorted(set(BAD_VALUES) - named)))  # fmt: skip
    figure(area, "columns that cannot be landed, rejected on their own",
           f"{len(columns & expected_columns)}/{len(expected_columns)}", "all",
           expected_columns <= columns and len(size_rejects) == 1, kind)  # fmt: skip

    assert summary.ok, summary.errors
    assert landed == good
    assert set(by_line) == set(BAD_VALUES), sorted(set(by_line) ^ set(BAD_VALUES))
    assert named == set(BAD_VALUES), {k: by_line[k] for k in set(BAD_VALUES) - named}
    assert expected_columns <= columns, sorted(columns)
    assert len(size_rejects) == 1  # the later file's type is refused, the earlier one lands
    assert summary.tables["raw_events.events"].rejected == len(found)


def test_a_missing_landing_folder_is_an_error_naming_it_and_nothing_is_created(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figure: Any
) -> None:
    area = "file drops: missing folder"
    missing = tmp_path / "not-mounted" / "events"
    use_landing(tmp_path, monkeypatch, missing)

    summary = _load()
    error = " ".join(summary.errors)

    named = str(missing) in error
    figure(area, "run over a missing landing folder fails naming it", not summary.ok, "fails",
           not summary.ok and named, kind, detail=error[:300])  # fmt: skip
    figure(area, "folders created at the source", int(missing.parent.exists()), "= 0",
           not missing.parent.exists(), kind)  # fmt: skip
    assert not summary.ok
    assert named, error
    assert not missing.parent.exists()


def test_symbolic_links_are_refused_and_recorded_without_their_content(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figure: Any
) -> None:
    area = "file drops: trust boundary"
    root = tmp_path / "landing"
    day = root / DAY
    use_landing(tmp_path, monkeypatch, root)
    secret = "SECRET-do-not-load"
    outside = tmp_path / "elsewhere"
    write(outside / "private.jsonl", text([jsonl_line(event(900)), f"{secret} not json"]))
    write(outside / "dir" / "more.jsonl", text([jsonl_line(event(901)), secret]))
    write(day / "real.jsonl", text([jsonl_line(event(1))]))
    day.joinpath("outside.jsonl").symlink_to(outside / "private.jsonl")
    day.joinpath("outside-dir").symlink_to(outside / "dir", target_is_directory=True)
    day.joinpath("inside.jsonl").symlink_to(day / "real.jsonl")

    summary = _load()
    again = _load()

    landed = set(loaded_events()) if summary.ok else set()
    found = rejects() if summary.ok else []
    refused = {f.rsplit("/", 1)[1]: reason for f, p, reason in found if p == 0}
    leaked = [r for r in query_all_text() if secret in r]
    links = {"outside.jsonl", "outside-dir", "inside.jsonl"}
    figure(area, "rows read through symbolic links", len(landed - {"evt-000001"}), "= 0",
           summary.ok and landed == {"evt-000001"}, kind)  # fmt: skip
    figure(area, "symbolic links refused and recorded", f"{len(set(refused) & links)}/3",
           "3/3", set(refused) == links, kind)  # fmt: skip
    figure(area, "warehouse values holding the link targets' content", len(leaked), "= 0",
           not leaked, kind)  # fmt: skip
    assert summary.ok and again.ok, summary.errors + again.errors
    assert landed == {"evt-000001"}
    assert set(refused) == links, found
    assert all("symbolic link" in reason for reason in refused.values())
    assert "outside the landing zone" in refused["outside.jsonl"]
    assert not leaked
    assert again.tables["raw_events.events"].rejected == 0  # recorded once, not every run


def query_all_text() -> list[str]:
    """Every text value of the events and rejected_records tables."""
    from tests.support.warehouse import query_current

    out: list[str] = []
    for table in ("raw_events.events", "raw_events.rejected_records"):
        for row in query_current(f"select * from {table}"):
            out += [v for v in row if isinstance(v, str)]
    return out


def test_a_full_refresh_and_a_reload_read_every_file_again_and_double_nothing(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figure: Any
) -> None:
    area = "file drops: identity"
    root = tmp_path / "landing"
    use_landing(tmp_path, monkeypatch, root)
    write(root / DAY / "a.jsonl", text([*map(jsonl_line, map(event, (1, 2, 3))), "{cut"]), EPOCH)
    first = _load()
    before = (event_count(), rejects())

    refreshed = ingestion.load(sources=["events"], full_refresh=True)
    after_refresh = (event_count(), rejects())
    reloaded = ingestion.load(sources=["events"], reload=True)
    after_reload = (event_count(), rejects())

    read = [r.tables["raw_events.events"].loaded for r in (refreshed, reloaded)]
    figure(area, "rows read again by --full-refresh / --reload", f"{read[0]}/{read[1]}", "3/3",
           read == [3, 3], kind)  # fmt: skip
    figure(area, "rows or rejects changed by them", int(after_refresh != before) + int(
        after_reload != before), "= 0", after_refresh == before == after_reload, kind)  # fmt: skip
    assert first.ok and refreshed.ok and reloaded.ok, refreshed.errors + reloaded.errors
    assert read == [3, 3]
    assert after_refresh == before == after_reload
