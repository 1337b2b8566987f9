"""Run the real pipeline pieces the dbt tests need: demo data, the loaders, dbt.

Everything is real: the demo source system writes SQLite databases and event files, its API
runs on a free loopback port, ``ingestion.run()`` loads into the warehouse, and dbt runs in a
subprocess with its own profile, target and log folders (so parallel test workers never share
dbt state).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DbtRun:
    """Outcome of one dbt invocation: exit code, per-node results, and the output."""

    args: list[str]
    returncode: int
    results: list[dict[str, Any]]
    output: str

    @property
    def success(self) -> bool:
        """dbt exited 0."""
        return self.returncode == 0

    def failures(self) -> list[str]:
        """Nodes that neither passed nor warned, with their message (or the output's tail)."""
        if self.returncode != 0 and not self.results:
            return [f"dbt {' '.join(self.args)} exited {self.returncode}: {self.output[-3000:]}"]
        return [
            f"{r['unique_id']}: {r['status']}: {r.get('message')}"
            for r in self.results
            if r["status"] not in ("pass", "success", "warn")
        ]

    def warnings(self) -> list[str]:
        """Nodes that finished with a warning."""
        return [r["unique_id"] for r in self.results if r["status"] == "warn"]


@dataclass
class DbtProject:
    """dbt invocations against one warehouse, with private profile, target and log folders.

    dbt runs in a subprocess: dbt-duckdb keeps its database open for the life of the process,
    which would lock out the loaders and the test's own queries.
    """

    work_dir: Path
    runs: list[DbtRun] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / "profiles.example.yml", self.work_dir / "profiles.yml")

    def invoke(self, *args: str) -> DbtRun:
        """Run ``dbt <args>`` from the repo root with the current environment."""
        target = self.work_dir / "target"
        run_results = target / "run_results.json"
        run_results.unlink(missing_ok=True)
        argv = [
            str(Path(sys.executable).parent / "dbt"),
            *args,
            "--profiles-dir",
            str(self.work_dir),
            "--target-path",
            str(target),
            "--log-path",
            str(self.work_dir / "logs"),
            "--threads",
            "4",
        ]
        done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        results = []
        if run_results.exists():
            results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
        run = DbtRun(list(args), done.returncode, results, done.stdout + done.stderr)
        self.runs.append(run)
        return run


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        yield


def ingest(demo_dir: Path, sources: list[str] | None = None) -> Any:
    """Load the demo's systems into the current warehouse through its own API server."""
    import ingestion
    from demo.server import running_server

    with running_server(demo_dir, port=0) as url, environment({"DEMO_API_URL": url}):
        summary = ingestion.run(sources=sources)
    assert summary.ok, f"ingestion failed: {summary.errors}"
    return summary


def query(env: Mapping[str, str], sql: str) -> list[tuple[Any, ...]]:
    """Run one query on the warehouse described by ``env`` and return all rows."""
    if env["WAREHOUSE"] == "duckdb":
        import duckdb

        conn = duckdb.connect(env["DUCKDB_PATH"], read_only=True)
        try:
            return [tuple(row) for row in conn.execute(sql).fetchall()]
        finally:
            conn.close()
    import psycopg2

    conn = psycopg2.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        dbname=env["PGDATABASE"],
        password=env.get("PGPASSWORD", ""),
    )
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(row) for row in cur.fetchall()]
    finally:
        conn.close()
