"""A run with nothing new over a large landing zone: one listing, one registry read, no file
opened (`make faults`: 100k tiny files; `make test`: 1k)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import ingestion
from ingestion.filesystem import registry
from ingestion.filesystem.listing import LandingZone
from tests.faults.file_drop_support import event_count, use_landing, use_warehouse
from tests.support.battery import size

FILES = size(300, 100_000)
PER_FOLDER = 1_000
# seconds a run with nothing new may take per 100k files (listing + registry read + start-up)
NOOP_S_PER_100K = 30.0


def _landing(root: Path, files: int) -> None:
    for number in range(files):
        folder = (
            root
            / f"date=2026-{1 + number // PER_FOLDER // 28:02d}-{1 + number // PER_FOLDER % 28:02d}"
        )
        if number % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        row = {"event_id": f"e{number}", "occurred_at": "2026-11-01T10:00:00Z"}
        (folder / f"e{number:06d}.jsonl").write_text(json.dumps(row) + "\n")


def test_a_run_with_nothing_new_lists_once_and_opens_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, figure: Any
) -> None:
    area = "file drops: listing cost"
    use_warehouse("duckdb", tmp_path, monkeypatch, request)
    root = tmp_path / "landing"
    use_landing(tmp_path, monkeypatch, root)
    _landing(root, FILES)
    started = time.perf_counter()
    first = ingestion.load(sources=["events"])
    first_s = time.perf_counter() - started

    opened: list[str] = []
    reads: list[str] = []
    open_raw, read = LandingZone.open_raw, registry.read
    monkeypatch.setattr(
        LandingZone, "open_raw", lambda zone, loc: opened.append(loc) or open_raw(zone, loc)
    )
    monkeypatch.setattr(registry, "read", lambda *a: reads.append(a[1]) or read(*a))
    started = time.perf_counter()
    noop = ingestion.load(sources=["events"])
    noop_s = time.perf_counter() - started

    bound = max(5.0, NOOP_S_PER_100K * FILES / 100_000)
    figure(area, f"first run over {FILES} tiny files, s", round(first_s, 1), "recorded", first.ok,
           "duckdb")  # fmt: skip
    figure(area, f"run with nothing new over {FILES} files, s", round(noop_s, 2),
           f"< {bound:.0f}", noop_s < bound and not opened, "duckdb",
           detail=f"files opened: {len(opened)}; registry reads: {len(reads)}")  # fmt: skip
    assert first.ok and noop.ok, first.errors + noop.errors
    assert event_count() == FILES
    assert noop.tables["raw_events.events"].loaded == 0
    assert not opened and len(reads) == 1
    assert noop_s < bound
