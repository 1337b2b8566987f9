"""The demo source system in tests: generate a shop, serve its API, read its ground truth."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO_ROOT

END_DATE = date(2026, 11, 20)  # a Friday: the history spans a weekend
SCALE = 0.1  # 1,000 events, 100 orders, 10 new customers a day
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


def generate(
    folder: Path,
    scale: float,
    days: int = 2,
    end_date: date | None = None,
    malformed_rate: float = 0.0,
    faults: Sequence[str] = (),
) -> Path:
    """``python -m demo generate`` into ``folder`` (the demo's own end date unless given)."""
    args = ["generate", "--days", str(days), "--scale", str(scale)]
    if end_date is not None:
        args += ["--end-date", end_date.isoformat()]
    if malformed_rate:
        args += ["--malformed-rate", str(malformed_rate)]
    demo_cli(folder, *args, *faults)
    return folder


def make_demo(folder: Path, days: int = 4, scale: float = SCALE, **faults: float) -> Path:
    """Generate a demo shop in ``folder`` ending on END_DATE, in this process (seed 42)."""
    from demo import generator
    from demo.faults import FileFaults

    generator.generate(folder, days, scale, seed=42, end_date=END_DATE, faults=FileFaults(**faults))
    return folder


def fingerprint(folder: Path) -> dict[str, str]:
    """A hash of every table's rows and every event file's bytes (the token is random)."""
    prints = {}
    for db in ("shop.sqlite", "api.sqlite"):
        conn = sqlite3.connect(folder / db)
        for (table,) in conn.execute("select name from sqlite_master where type = 'table'"):
            rows = conn.execute(f"select * from {table} order by 1").fetchall()
            prints[f"{db}:{table}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
        conn.close()
    for path in sorted((folder / "landing").rglob("*.*")):
        prints[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    prints["manifest"] = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    return prints


def serve(demo_dir: Path, monkeypatch: pytest.MonkeyPatch, faults: Any = None) -> Iterator[str]:
    """Serve the demo API on a free port and point the loaders at it (``DEMO_API_URL``)."""
    from demo.server import running_server

    with running_server(demo_dir, port=0, faults=faults) as url:
        monkeypatch.setenv("DEMO_API_URL", url)
        yield url


@contextmanager
def background_api(demo_dir: Path, env: Mapping[str, str]) -> Iterator[str]:
    """The demo API as `make run` serves it (a background process found by its pid file)."""
    from demo.pg_server import free_port

    port = free_port()
    demo = [sys.executable, "-m", "demo", "--demo-dir", str(demo_dir)]
    started = subprocess.run(
        [*demo, "serve", "--background", "--port", str(port)],
        cwd=REPO_ROOT, env=dict(env), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run([*demo, "stop"], cwd=REPO_ROOT, env=dict(env), timeout=60, check=True)


def truth(demo_dir: Path) -> dict[str, Any]:
    """The demo's ground truth (``demo.truth.compute``)."""
    from demo.truth import compute

    return compute(demo_dir)


def truth_counts(demo_dir: Path) -> dict[str, int]:
    """The truth's counts for the raw tables."""
    counts = truth(demo_dir)["counts"]
    return {key: int(counts[key]) for key in TRUTH_KEYS}


def raw_counts() -> dict[str, int]:
    """Row counts of the raw tables in this process's warehouse, keyed like ``truth_counts``."""
    from tests.support.warehouse import count

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
