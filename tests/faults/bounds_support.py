"""Helpers of the bounded-API battery: a CRM-only sources file per dlt paginator type, one load
in this process under a watchdog, and what it left behind (rows, cursors, pending packages)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from demo.faults import ApiFaults
from demo.server import running_server
from tests.faults.api_support import (
    fault_report,
    pending_packages,
    raw_rows,
    source_truth,
    stored_cursors,
)
from tests.support.env import environment
from tests.support.paths import SOURCES_FILE

# dlt's paginator type -> (its declaration in the sources file, the demo API's paging style)
PAGINATORS: dict[str, tuple[dict[str, Any] | None, str]] = {
    "cursor": (
        {"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"},
        "cursor",
    ),
    "header_link": ({"type": "header_link"}, "cursor"),
    "json_link": ({"type": "json_link", "next_url_path": "next"}, "json_link"),
    "header_cursor": (
        {"type": "header_cursor", "cursor_key": "X-Next-Cursor", "cursor_param": "cursor"},
        "header_cursor",
    ),
    "offset": (
        {"type": "offset", "limit": 0, "offset_param": "offset", "total_path": None},
        "offset",
    ),
    "page_number": (
        {"type": "page_number", "base_page": 1, "page_param": "page", "total_path": None},
        "page_number",
    ),
    "auto": (None, "cursor"),  # none declared: dlt detects the Link header
}
CRM_TABLES = ("raw_crm.customers", "raw_crm.campaigns", "raw_crm.customers__tags")
FAST_RETRIES = {
    "RUNTIME__REQUEST_MAX_ATTEMPTS": "12",
    "RUNTIME__REQUEST_BACKOFF_FACTOR": "0.05",
    "RUNTIME__REQUEST_MAX_RETRY_DELAY": "2",
}


def crm_sources(folder: Path, paginator: str, limit: int, **crm: Any) -> Path:
    """The shipped CRM declaration alone, with this paginator, page size and changes."""
    doc = yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))
    entry = doc["crm"]
    entry["resource_defaults"]["endpoint"]["params"]["limit"] = limit
    declared = PAGINATORS[paginator][0]
    if declared is None:
        entry["client"].pop("paginator", None)
    else:
        declared = dict(declared)
        if declared["type"] == "offset":
            declared["limit"] = limit
        entry["client"]["paginator"] = declared
    entry.update(crm)
    path = folder / "sources.yml"
    path.write_text(yaml.safe_dump({"crm": entry}, sort_keys=False), encoding="utf-8")
    return path


class Hung(Exception):
    """The load was still running when the watchdog expired (not an OSError: never retried)."""


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raise :class:`Hung` in this (main) thread when the block runs longer than ``seconds``."""

    def expire(signum: int, frame: object) -> None:
        raise Hung(f"the load was still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    """What one CRM load did and left behind."""

    ok: bool
    error: str
    seconds: float
    injected: dict[str, int]
    rows: dict[str, int]
    cursors: list[Any] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    @property
    def crm_rows(self) -> int:
        return sum(n for table, n in self.rows.items() if table.startswith("raw_crm."))


def load_crm(
    demo_dir: Path,
    folder: Path,
    warehouse: dict[str, str],
    sources: Path,
    faults: ApiFaults,
    paging: str,
    time_limit_s: float | None = None,
) -> Outcome:
    """``ingestion.load(["crm"])`` in this process against a demo API with ``faults``; in the
    main thread under a watchdog (60 s)."""
    import ingestion

    env = {
        **warehouse,
        **FAST_RETRIES,
        "DEMO_DIR": str(demo_dir),
        "DLT_DATA_DIR": str(folder / "dlt_data"),
        "INGESTION_SOURCES": str(sources),
    }
    with (
        environment(env),
        running_server(demo_dir, faults=faults, rate_limit=10_000, paging=paging) as url,
        environment({"DEMO_API_URL": url}),
    ):
        started = time.monotonic()
        try:
            main = threading.current_thread() is threading.main_thread()
            with watchdog(60.0) if main else nullcontext():
                limit = {"time_limit_s": time_limit_s} if time_limit_s else {}
                report = ingestion.load(["crm"], **limit)
            ok, error = report.ok, "; ".join(report.errors)
        except Hung as exc:  # a walk that never ends (dlt may not even get to wrap it)
            ok, error = False, f"Hung: {exc}"
        seconds = time.monotonic() - started
        injected = fault_report(url)["injected"]
    return Outcome(
        ok,
        error,
        seconds,
        injected,
        raw_rows(warehouse),
        [k for k in stored_cursors(warehouse) if k[0] == "crm"],
        [p for p in pending_packages(folder) if "/crm/" in p],
    )


def crm_truth(demo_dir: Path) -> dict[str, int]:
    """Rows the CRM serves, per raw table."""
    rows: dict[str, int] = source_truth(demo_dir)["rows"]
    return {table: rows[table] for table in CRM_TABLES}
