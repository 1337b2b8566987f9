"""Fixtures for the loader tests: a tiny real demo shop, its real HTTP API, warehouse queries."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestion import warehouse

REPO_ROOT = Path(__file__).resolve().parents[2]
END_DATE = "2026-11-20"
SCALE = "0.05"
MALFORMED_RATE = "0.05"


def demo_cli(demo_dir: Path, *args: str) -> None:
    """Run ``python -m demo`` on ``demo_dir`` (fails the test with its output on error)."""
    proc = subprocess.run(
        [sys.executable, "-m", "demo", "--demo-dir", str(demo_dir), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"demo {args} failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny demo shop (2 days, ~1k events, malformed lines) generated once per session."""
    folder = tmp_path_factory.mktemp("demo_template") / "demo"
    demo_cli(
        folder,
        "generate",
        "--days",
        "2",
        "--scale",
        SCALE,
        "--end-date",
        END_DATE,
        "--malformed-rate",
        MALFORMED_RATE,
    )
    return folder


@pytest.fixture
def demo_dir(demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the demo shop; ``$DEMO_DIR`` points at it."""
    folder = tmp_path / "demo"
    shutil.copytree(demo_template, folder)
    monkeypatch.setenv("DEMO_DIR", str(folder))
    return folder


def start_api(demo_dir: Path, monkeypatch: pytest.MonkeyPatch, faults: Any = None) -> Iterator[str]:
    """Serve the demo API on a free port and point the loaders at it."""
    from demo.server import running_server

    with running_server(demo_dir, port=0, faults=faults) as url:
        monkeypatch.setenv("DEMO_API_URL", url)
        yield url


@pytest.fixture
def demo_api(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The demo API (no faults) serving ``demo_dir``."""
    yield from start_api(demo_dir, monkeypatch)


def truth(demo_dir: Path) -> dict[str, Any]:
    """The demo's ground truth (``demo.truth.compute``)."""
    from demo.truth import compute

    return compute(demo_dir)


def query(sql: str) -> list[tuple[Any, ...]]:
    """Run a query on the current warehouse."""
    conn = warehouse.connect()
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def count(table: str, where: str = "true") -> int:
    """Rows of ``<dataset>.<table>`` matching ``where``."""
    return int(query(f"select count(*) from {table} where {where}")[0][0])


@pytest.fixture
def raw_counts() -> Callable[[], dict[str, int]]:
    """Row counts of the raw tables, keyed like the demo truth's counts."""

    def counts() -> dict[str, int]:
        return {
            "customers": count("raw_crm.customers"),
            "campaigns": count("raw_crm.campaigns"),
            "fx_rates": count("raw_fx.rates"),
            "products": count("raw_shop.products"),
            "orders": count("raw_shop.orders"),
            "order_items": count("raw_shop.order_items"),
            "events": count("raw_events.events"),
            "events_malformed": count("raw_events.rejected_records"),
        }

    return counts


TRUTH_KEYS = (
    "customers",
    "campaigns",
    "fx_rates",
    "products",
    "orders",
    "order_items",
    "events",
    "events_malformed",
)


def truth_counts(demo_dir: Path) -> dict[str, int]:
    """The truth's counts for the raw tables."""
    counts = truth(demo_dir)["counts"]
    return {key: int(counts[key]) for key in TRUTH_KEYS}
