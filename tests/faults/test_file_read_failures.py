"""A file whose reading fails midway (a disk or network error) is finished by a later run.

Generated landing zones (JSON lines, gzipped JSON lines, CSV and Parquet, some with a bad line)
are loaded while the storage under the reader fails at a random byte of random files. The
promise: the other files load; each failed file keeps what was read and one record of the
failure; the next run without the fault reads it again, so every good row lands exactly once
and only the bad lines stay rejected; the run after that reads nothing.
"""

from __future__ import annotations

import errno
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pytest

import ingestion
from ingestion.filesystem import listing
from ingestion.filesystem.readers import FAILED
from tests.faults.file_drop_support import (
    COLUMNS,
    DAY,
    csv_row,
    event,
    jsonl_line,
    loaded_events,
    parquet_bytes,
    rejects,
    text,
    use_landing,
    use_warehouse,
    write,
)
from tests.support.warehouse import query_current

AREA = "file drops: reads failing midway"
FORMATS = ("jsonl", "jsonl.gz", "csv", "parquet")
SEEDS = [int(s) for s in os.environ.get("READ_FAILURE_SEEDS", "1,2").split(",")]


@pytest.fixture(params=["duckdb", "postgres"])
def kind(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    use_warehouse(request.param, tmp_path, monkeypatch, request)
    return str(request.param)


@dataclass
class Drop:
    """The generated files: the good rows of each and the bad lines (file, line) expected."""

    good: dict[str, set[str]] = field(default_factory=dict)
    bad_lines: set[tuple[str, int]] = field(default_factory=set)
    sizes: dict[str, int] = field(default_factory=dict)


def _drop(root: Path, rng: random.Random) -> Drop:
    drop, number = Drop(), 0
    for index in range(rng.randint(4, 7)):
        kind = rng.choice(FORMATS)
        name = f"{DAY}/part-{index}.{kind}"
        rows = [event(number + n) for n in range(rng.randint(150, 900))]
        number += len(rows)
        drop.good[name] = {row["event_id"] for row in rows}
        if kind == "parquet":
            typed = [dict(r, properties=json.dumps(r["properties"])) for r in rows]
            data = parquet_bytes(pa.Table.from_pylist(typed))
        else:
            lines = [jsonl_line(r) for r in rows] if kind != "csv" else [csv_row(r) for r in rows]
            if rng.random() < 0.5:  # a bad line in the middle: rejected, never retried away
                at = rng.randrange(len(lines))
                lines.insert(at, '{"event_id": "cut' if kind != "csv" else "only,two")
                drop.bad_lines.add((name, at + 1 + (kind == "csv")))
            data = text([",".join(COLUMNS), *lines] if kind == "csv" else lines)
        drop.sizes[name] = write(root / name, data).stat().st_size
    return drop


class _FailingStream:
    """A file whose storage fails with EIO once ``budget`` bytes were read from it."""

    def __init__(self, stream: IO[bytes], budget: int) -> None:
        self._stream, self._budget = stream, budget

    def readinto(self, buffer: Any) -> int:
        if self._budget <= 0:
            raise OSError(errno.EIO, "Input/output error")
        view = memoryview(buffer)[: self._budget]
        read = self._stream.readinto(view)  # type: ignore[attr-defined]
        self._budget -= read
        return int(read)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _failing(monkeypatch: pytest.MonkeyPatch, budgets: dict[str, int]) -> None:
    """Make reading each file of ``budgets`` fail after that many bytes (hashing still works)."""
    original = listing._ReadErrors.__init__

    def init(self: Any, stream: IO[bytes], location: str) -> None:
        if location in budgets:
            stream = _FailingStream(stream, budgets[location])  # type: ignore[assignment]
        original(self, stream, location)

    monkeypatch.setattr(listing._ReadErrors, "__init__", init)


def _outcomes() -> dict[str, str]:
    rows = query_current("select location, outcome from raw_events.file_registry")
    return {str(location): str(outcome) for location, outcome in rows}


def _failed_records() -> dict[str, int]:
    found: dict[str, int] = {}
    for location, _, reason in rejects():
        if FAILED in reason:
            found[location] = found.get(location, 0) + 1
    return found


def _faults(rng: random.Random, drop: Drop, among: list[str], least: int) -> dict[str, int]:
    chosen = rng.sample(among, rng.randint(least, max(least, len(among) // 2)))
    return {name: rng.randrange(drop.sizes[name]) for name in chosen}


@pytest.mark.parametrize("seed", SEEDS)
def test_a_file_whose_read_fails_midway_is_read_again_by_the_next_run_and_lands_once(
    kind: str, seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figure: Any
) -> None:
    rng = random.Random(seed)
    root = tmp_path / "landing"
    use_landing(tmp_path, monkeypatch, root, batch_rows=100)
    drop = _drop(root, rng)
    every_good = set().union(*drop.good.values())

    budgets: dict[str, int] = {}
    with monkeypatch.context() as faulty:
        _failing(faulty, budgets)
        first_faults = _faults(rng, drop, sorted(drop.sizes), 1)
        budgets.update(first_faults)
        first = ingestion.load(sources=["events"])
        landed_first = loaded_events()
        outcomes_first, failed_first = _outcomes(), _failed_records()

        # the next run reads the failed files again, and some of them fail again elsewhere
        second_faults = _faults(rng, drop, sorted(first_faults), 0)
        budgets.clear()
        budgets.update(second_faults)
        second = ingestion.load(sources=["events"])
        failed_second = _failed_records()

    third = ingestion.load(sources=["events"])
    landed = loaded_events()
    events = int(query_current("select count(*) from raw_events.events")[0][0])
    kept_bad = {(f, p) for f, p, reason in rejects() if p > 0 and FAILED not in reason}
    outcomes = _outcomes()
    fourth = ingestion.load(sources=["events"])

    clean_first = set(drop.good) - set(first_faults)
    figure(AREA, "runs with reads failing midway that went on", f"{first.ok}/{second.ok}",
           "True/True", first.ok and second.ok, kind, detail=f"seed {seed}")  # fmt: skip
    figure(AREA, "good rows landed once after the storage recovered",
           f"{len(every_good & set(landed))}/{len(every_good)}", "all",
           set(landed) == every_good and events == len(every_good), kind,
           detail=f"seed {seed}, {len(drop.good)} files, {len(first_faults)} + "
                  f"{len(second_faults)} failing")  # fmt: skip

    assert first.ok and second.ok and third.ok and fourth.ok, (first.errors, second.errors)
    for name in clean_first:
        assert drop.good[name] <= set(landed_first), f"{name} lost rows in a run it did not fail"
    for name in first_faults:
        assert {i for i, row in landed_first.items() if row[0] == name} <= drop.good[name]
    assert {n for n, o in outcomes_first.items() if o == "partly_read"} == set(first_faults)
    assert failed_first == dict.fromkeys(first_faults, 1)
    assert failed_second == dict.fromkeys(second_faults, 1), "a failure recorded twice"
    assert set(landed) == every_good, sorted(every_good ^ set(landed))[:5]
    assert events == len(every_good), "rows read twice landed twice"
    assert kept_bad == drop.bad_lines
    assert not _failed_records()
    assert set(outcomes.values()) == {"read"}, outcomes
    assert fourth.tables["raw_events.events"].loaded == 0


def test_a_failed_file_replaced_by_a_copy_of_another_drops_its_failure_record(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "landing"
    use_landing(tmp_path, monkeypatch, root, batch_rows=100)
    original = text([jsonl_line(event(n)) for n in range(300)])
    write(root / DAY / "a.jsonl", original)
    write(root / DAY / "b.jsonl", text([jsonl_line(event(n)) for n in range(300, 600)]))
    b = f"{DAY}/b.jsonl"
    with monkeypatch.context() as faulty:
        _failing(faulty, {b: 5_000})
        assert ingestion.load(sources=["events"]).ok
    failed = _failed_records()

    write(root / DAY / "b.jsonl", original, 1_700_000_000)  # now a copy of a.jsonl
    assert ingestion.load(sources=["events"]).ok

    assert failed == {b: 1}
    assert not _failed_records()
    assert _outcomes()[b] == "same_content"
