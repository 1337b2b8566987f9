"""What one benchmark run measures and where it works (``benchmarks.cli`` reads the flags)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_PER_SCALE = 10_000
DEFAULT_SOURCES = ("crm", "fx", "shop", "events")


@dataclass
class Settings:
    """What to run and where (see ``benchmarks.cli`` for the flags)."""

    scale: float = 1000.0
    warehouses: list[str] = field(default_factory=lambda: ["duckdb", "postgres"])
    skip_naive: bool = False
    skip_2x: bool = False
    skip_dbt: bool = False
    skip_next_day: bool = False
    demo_from: Path | None = None
    rebuild_report: Path | None = None
    sources: list[str] | None = None
    naive_rows: int = 1_000_000
    work_dir: Path = REPO_ROOT / "benchmarks" / "work"
    results_dir: Path = REPO_ROOT / "benchmarks" / "results"
    name: str = "latest"
    seed: int = 42
    step_timeout_s: float = 1800.0
    history_days: int = 0  # > 0: the next day after this many days of history (history.py)


def sources_config() -> dict[str, Any]:
    """The loaders' ``sources.yml`` (``$INGESTION_SOURCES`` or the repo's); empty when missing."""
    path = Path(os.environ.get("INGESTION_SOURCES") or REPO_ROOT / "ingestion" / "sources.yml")
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text()) or {}
