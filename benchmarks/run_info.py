"""What the report says about its run besides the steps: method, machine, commit and times."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime
from typing import Any

from benchmarks.settings import REPO_ROOT

METHOD_NOTES = [
    "Every step is its own process, timed wall-clock from start to exit, so the project's steps "
    "include Python start-up and imports (the no-op run shows that floor).",
    "DuckDB's own read: `create table as select * from read_parquet/read_json/read_csv(...)` of "
    "every event file into an empty DuckDB file (columns as stored; malformed lines skipped).",
    "PostgreSQL COPY: `psql \\copy` of the same rows from one typed CSV (written beforehand from "
    "DuckDB, not timed) into an empty unindexed table.",
    "Bare HTTP loop: `requests` over every page of CRM customers and campaigns, same page size "
    "as the loader, JSON parsed and discarded. Bare SELECT: `select *` of the shop's products, "
    "orders and order_items through the loader's driver, rows discarded. The shop and CRM "
    "ratios compare them with the loader of the whole source (all its tables).",
    "PostgreSQL is a throwaway server on 127.0.0.1 started by the harness (demo/pg_server.py: "
    "fsync off, shared_buffers 256MB); its memory is not in the peak RSS column.",
    "2× volume: after `demo advance`, both days are loaded into a second, empty warehouse, one "
    "process per source; 1× is the largest of the day-1, no-op and day-2 ingestion processes.",
    "Absolute targets (seconds) are set for scale 1000; at other scales read them as indicative.",
]
RSS_METHOD = (
    "ru_maxrss from os.wait4() on each step's process (what GNU time -v reports): the largest "
    "resident set of that process or any descendant it waited for. PostgreSQL server memory "
    "is not included (client processes only)."
)


def git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return (out.stdout.strip() or "unknown") + ("+dirty" if dirty else "")


def machine() -> str:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (
        f"{os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, {platform.system()} {platform.release()}"
    )


def times(started: datetime, now: datetime) -> dict[str, Any]:
    """Start, end (so far) and duration of the run."""
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": now.isoformat(timespec="seconds"),
        "duration_s": round((now - started).total_seconds(), 1),
    }


def host() -> dict[str, Any]:
    """The machine, its load average now and the Python version."""
    return {
        "machine": machine(),
        "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        "python": platform.python_version(),
    }
