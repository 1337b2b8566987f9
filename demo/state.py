"""`state.json` (what has been simulated so far) and `manifest.json` (every event file)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"
MANIFEST_FILE = "manifest.json"
TOKEN_FILE = "api_token"
SHOP_DB = "shop.sqlite"
API_DB = "api.sqlite"
DELETIONS_FILE = "deletions.json"  # hard deletes made by demo.changes, for the ground truth
EVENTS_DIR = Path("landing") / "events"


@dataclass
class DemoState:
    """The simulator's memory between runs.

    Attributes:
        seed: seed of every random draw (each day draws from `(seed, day, stream)`).
        scale: volume multiplier (1 = 10k events, 1k orders, 100 new customers a day).
        first_day: first simulated day (ISO date).
        last_day: last simulated day (ISO date).
        next_event_seq: sequence number of the next event (event ids are a bijection of it).
        drift: schema drifts in effect, each `{"kind", "from_day", ...}`.
        runs: one entry per generate/advance run with the file faults it used.
    """

    seed: int
    scale: float
    first_day: str
    last_day: str
    next_event_seq: int = 0
    drift: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    version: int = 1

    @property
    def last(self) -> date:
        """The last simulated day as a date."""
        return date.fromisoformat(self.last_day)

    def drift_kinds(self) -> set[str]:
        """The kinds of schema drift in effect."""
        return {d["kind"] for d in self.drift}


def _write_json(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_state(demo_dir: Path) -> DemoState:
    """Read `state.json`.

    Raises:
        FileNotFoundError: when the directory holds no generated demo (run `generate` first).
    """
    path = demo_dir / STATE_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `python -m demo generate` first")
    return DemoState(**json.loads(path.read_text(encoding="utf-8")))


def save_state(demo_dir: Path, state: DemoState) -> None:
    """Write `state.json` atomically."""
    _write_json(demo_dir / STATE_FILE, asdict(state))


def load_manifest(demo_dir: Path) -> dict[str, Any]:
    """Read `manifest.json` (`{"files": [...]}`); empty when absent."""
    path = demo_dir / MANIFEST_FILE
    if not path.exists():
        return {"files": []}
    return json.loads(path.read_text(encoding="utf-8"))


def save_manifest(demo_dir: Path, manifest: dict[str, Any]) -> None:
    """Write `manifest.json` atomically."""
    _write_json(demo_dir / MANIFEST_FILE, manifest)
