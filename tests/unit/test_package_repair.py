"""A package a killed run left half loaded de-duplicates its staged rows when it is resumed."""

from __future__ import annotations

import json
from pathlib import Path

from ingestion.package_repair import DEDUPLICATED_HINT, dedupe_resumed_packages


def _package(root: Path, load_id: str, jobs_folder: str) -> Path:
    package = root / "load" / "normalized" / load_id
    (package / jobs_folder).mkdir(parents=True)
    (package / jobs_folder / "events.abc.0.parquet").write_bytes(b"")
    tables = {
        "events": {"name": "events", DEDUPLICATED_HINT: True},
        "rejected_records": {"name": "rejected_records", DEDUPLICATED_HINT: True},
        "file_registry": {"name": "file_registry"},
    }
    (package / "schema.json").write_text(json.dumps({"tables": tables}), encoding="utf-8")
    return package


def _hints(package: Path) -> dict[str, object]:
    tables = json.loads((package / "schema.json").read_text(encoding="utf-8"))["tables"]
    return {name: table.get(DEDUPLICATED_HINT) for name, table in tables.items()}


def test_a_package_whose_load_began_stops_skipping_deduplication(tmp_path: Path) -> None:
    begun = _package(tmp_path, "1700000000.1", "started_jobs")
    done_in_part = _package(tmp_path, "1700000000.2", "completed_jobs")
    fresh = _package(tmp_path, "1700000000.3", "new_jobs")

    assert dedupe_resumed_packages(tmp_path) == ["1700000000.1", "1700000000.2"]
    for package in (begun, done_in_part):
        cleared = {"events": False, "rejected_records": False, "file_registry": None}
        assert _hints(package) == cleared
    assert _hints(fresh) == {"events": True, "rejected_records": True, "file_registry": None}
    assert dedupe_resumed_packages(tmp_path) == []


def test_no_working_folder_yet_is_nothing_to_repair(tmp_path: Path) -> None:
    assert dedupe_resumed_packages(tmp_path / "missing") == []
