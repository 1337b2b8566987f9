"""Fuzzing the file readers: generated event files in every format with random corruptions.

Properties, per generated file: nothing raises and no reader failure is recorded; a file cut
in its compression or its Parquet footer is recorded whole and loads nothing; otherwise every
data line is loaded or rejected, never both, never neither (loaded + rejected = lines read),
each bad line is rejected and each good line loaded with every declared value unchanged; an
extra column is landed or refused with a record naming it. The readers are fuzzed directly
(many files), and whole landing zones through `ingestion.load()` into DuckDB and PostgreSQL
(fewer), where symbolic links to files outside the zone are added too.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ingestion
from ingestion.filesystem.contract import FILE_LINE_COLUMN, FileContract
from ingestion.filesystem.listing import LandingZone, printable_name
from ingestion.filesystem.readers import FAILED, read_landed
from tests.faults.file_fuzz_files import BAD, Expect, gen_file, same, write
from tests.faults.file_fuzz_support import COLUMNS, REQUIRED, GenFile
from tests.support.battery import size
from tests.support.env import environment
from tests.support.warehouse import dict_rows, fresh_env, query

AREA = "file drops: fuzzed readers"
FUZZ = settings(
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM", "") == "",
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


class Tally:
    """What the generated files held and what became of them."""

    def __init__(self) -> None:
        self.files = self.lines = self.loaded = self.rejected = 0

    def add(self, lines: int, loaded: int, rejected: int) -> None:
        self.files += 1
        self.lines, self.loaded, self.rejected = (
            self.lines + lines, self.loaded + loaded, self.rejected + rejected)  # fmt: skip


Records = list[tuple[int, str, str | None]]  # (position, reason, raw_text)


def check(gen: GenFile, expect: Expect, rows: dict[int, dict[str, Any]], records: Records,
          columns: set[str], tally: Tally) -> None:  # fmt: skip
    """Compare what became of one generated file with the oracle's expectation."""
    failed = [reason for _, reason, _ in records if FAILED in reason]
    assert not failed, f"{gen.name}: {failed}"
    assert all(reason for _, reason, _ in records)
    whole = [p for p, _, _ in records if p == 0]
    if expect.whole:
        assert whole and not rows, f"{gen.name}: expected refused whole, got {records}"
        tally.add(0, 0, 0)
        return
    rejected = {p for p, _, _ in records if p > 0}
    assert not whole, f"{gen.name}: refused whole: {records}"
    assert not set(rows) & rejected, f"{gen.name}: lines both loaded and rejected"
    allowed = set(expect.lines) | ({expect.partial} if expect.partial else set())
    assert set(rows) | rejected <= allowed, f"{gen.name}: unexpected lines {set(rows) | rejected}"
    for line, values in expect.lines.items():
        if values is BAD:
            assert line in rejected, f"{gen.name}:{line} should be rejected, got {rows.get(line)}"
            continue
        assert line in rows, f"{gen.name}:{line} lost: {[r for r in records if r[0] == line]}"
        for name, value in values.items():
            got = rows[line].get(name)
            assert same(COLUMNS[name], got, value), (
                f"{gen.name}:{line} {name}: {got!r} != {value!r}"
            )
    refused = {raw for p, _, raw in records if p < 0}
    if rows:
        for name in gen.extras:
            assert name in columns or printable_name(name) in refused, f"{gen.name}: {name!r}"
    tally.add(len(expect.lines) + (1 if expect.partial in set(rows) | rejected else 0),
              len(rows), len(rejected))  # fmt: skip


def _contract() -> FileContract:
    return FileContract(columns=dict(COLUMNS), required=list(REQUIRED), batch_rows=3)


def _read(gen: GenFile, data: bytes) -> tuple[dict[int, Any], list[Any], set[str]]:
    """Read one generated file as the loader does: rows by line, records, column names."""
    rows: dict[int, dict[str, Any]] = {}
    records: list[tuple[int, str, str | None]] = []
    columns: set[str] = set()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / gen.name).write_bytes(data)
        zone = LandingZone(Path(folder).as_uri(), ["**/*"])
        for good, bad in read_landed(zone, gen.name, _contract()):
            records += [(r["position"], r["reason"], r["raw_text"]) for r in bad]
            if good is not None:
                columns |= set(good.column_names)
                rows.update({row[FILE_LINE_COLUMN]: row for row in good.to_pylist()})
    return rows, records, columns


def _report(figure: Any, tally: Tally, error: BaseException | None, where: str, wh: str) -> None:
    detail = f"{type(error).__name__}: {error}"[:300] if error else ""
    figure(AREA, f"generated files tried ({where})", tally.files,
           "no crash; every promise kept", error is None, wh, detail=detail)  # fmt: skip
    balanced = tally.lines == tally.loaded + tally.rejected
    figure(AREA, f"lines read = loaded + rejected ({where})",
           f"{tally.lines} = {tally.loaded} + {tally.rejected}", "equal", balanced, wh)  # fmt: skip


def test_the_readers_keep_every_promise_for_generated_files(figure: Any) -> None:
    tally = Tally()

    @given(gen=gen_file(0))
    @settings(FUZZ, max_examples=size(300, 3000))
    def one_file(gen: GenFile) -> None:
        data, expect = write(gen)
        rows, records, columns = _read(gen, data)
        check(gen, expect, rows, records, columns, tally)

    error: BaseException | None = None
    try:
        one_file()
    except BaseException as exc:
        error = exc
    _report(figure, tally, error, "readers", "-")
    if error is not None:
        raise error
    assert tally.lines == tally.loaded + tally.rejected


GLOBS = ["**/*.parquet", "**/*.jsonl.gz", "**/*.jsonl", "**/*.csv", "**/*.csv.gz"]
SECRET = "SECRET-outside-the-landing-zone"


def _sources(folder: Path, bucket: Path) -> Path:
    events = {
        "type": "filesystem", "dataset": "raw_events", "bucket_url": str(bucket),
        "table": "events", "primary_key": "event_id", "globs": GLOBS,
        "columns": dict(COLUMNS), "required": list(REQUIRED),
    }  # fmt: skip
    path = folder / "sources.yml"
    path.write_text(yaml.safe_dump({"events": events}, sort_keys=False))
    return path


def _landed(env: dict[str, str]) -> tuple[dict[str, dict[int, Any]], dict[str, Records], set[str]]:
    """Rows by file and line, records by file, and the table's column names."""
    sql = (
        "select column_name from information_schema.columns "
        "where table_schema = 'raw_events' and table_name = 'events'"
    )
    columns = {str(r[0]) for r in query(env, sql)}
    rows: dict[str, dict[int, Any]] = defaultdict(dict)
    for row in dict_rows(env, "select * from raw_events.events") if columns else []:
        rows[row["_file_name"]][row["_file_line"]] = row
    records: dict[str, Records] = defaultdict(list)
    for location, position, reason, raw in query(
        env, "select location, position, reason, raw_text from raw_events.rejected_records"
    ):
        records[location].append((int(position), reason, raw))
    return rows, records, columns


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_generated_landing_zones_load_into_the_warehouse_keeping_every_promise(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, figure: Any
) -> None:
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    tally = Tally()
    examples = iter(range(10**6))

    @given(
        files=st.lists(st.integers(0, 10**9), min_size=2, max_size=5).flatmap(
            lambda seeds: st.tuples(*(gen_file(i) for i in range(len(seeds))))
        ),
        link=st.booleans(),
    )
    @settings(FUZZ, max_examples=size(3 if kind == "duckdb" else 2, 30))
    def landing_zone(files: tuple[GenFile, ...], link: bool) -> None:
        folder = tmp_path / f"example-{next(examples)}"
        day = folder / "landing" / "date=2026-11-01"
        day.mkdir(parents=True)
        written = {gen.name: write(gen) for gen in files}
        for name, (data, _) in written.items():
            (day / name).write_bytes(data)
        if link:
            (folder / "outside.jsonl").write_text(json.dumps({"event_id": SECRET}) + "\n")
            (day / "zz-link.jsonl").symlink_to(folder / "outside.jsonl")
        env = fresh_env(kind, folder, server)
        env.update(DLT_DATA_DIR=str(folder / "dlt"),
                   INGESTION_SOURCES=str(_sources(folder, folder / "landing")))  # fmt: skip
        with environment(env):
            first = ingestion.load(sources=["events"])
            again = ingestion.load(sources=["events"])
        assert first.ok and again.ok, first.errors + again.errors
        rows, records, columns = _landed(env)
        landed = {name for name in COLUMNS} | {
            name for gen in files for name in gen.extras if _landed_name(name) in columns
        }
        seen: dict[bytes, str] = {}
        for gen in sorted(files, key=lambda g: g.name):
            data, expect = written[gen.name]
            location = f"date=2026-11-01/{gen.name}"
            if data in seen:  # the same bytes as a file read before: recorded, not read
                assert not rows.get(location) and not records.get(location), location
                continue
            seen[data] = location
            check(gen, expect, rows.get(location, {}), records.get(location, []), landed, tally)
        if link:
            refused = records.get("date=2026-11-01/zz-link.jsonl", [])
            assert [p for p, _, _ in refused] == [0] and "symbolic link" in refused[0][1]
            assert not rows.get("date=2026-11-01/zz-link.jsonl")
        counts = again.tables.get("raw_events.events")
        assert counts is None or counts.loaded == counts.rejected == 0  # nothing read again

    error: BaseException | None = None
    try:
        landing_zone()
    except BaseException as exc:
        error = exc
    _report(figure, tally, error, "end to end", kind)
    if error is not None:
        raise error


def _landed_name(name: str) -> str:
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    try:
        return str(NamingConvention().normalize_path(name))
    except ValueError:
        return ""
