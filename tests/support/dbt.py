"""Run the real pipeline pieces the dbt tests need: the loaders, dbt, a tiny dbt project.

Everything is real: the demo's API runs on a free loopback port, ``ingestion.load()`` loads into
the warehouse, and dbt runs in a subprocess with its own profile, target and log folders (so
parallel test workers never share dbt state).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.env import environment
from tests.support.paths import PROFILES_EXAMPLE, REPO_ROOT

TINY_PROJECT = """\
name: tiny
version: "1.0"
profile: customer_analytics
model-paths: ["models"]
"""
TINY_MODEL = "select 1 as id union all select 2 as id\n"
TINY_YML = """\
models:
  - name: numbers
    columns:
      - name: id
        data_tests: [unique, not_null]
"""


def write_profiles(folder: Path) -> Path:
    """``folder`` holding a copy of the repo's ``profiles.example.yml`` as ``profiles.yml``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROFILES_EXAMPLE, folder / "profiles.yml")
    return folder


def tiny_project(project: Path) -> Path:
    """A real, minimal dbt project (one model, two tests) using the repo's profile."""
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(TINY_PROJECT)
    (project / "models" / "numbers.sql").write_text(TINY_MODEL)
    (project / "models" / "numbers.yml").write_text(TINY_YML)
    return write_profiles(project)


def _not_executed(result: dict[str, Any]) -> bool:
    """dbt build reports exposures and saved queries without exports as ``no-op``."""
    kinds = ("saved_query.", "exposure.")
    return str(result["unique_id"]).startswith(kinds) and result["status"] == "no-op"


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
            if r["status"] not in ("pass", "success", "warn") and not _not_executed(r)
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
        write_profiles(self.work_dir)

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


def ingest(demo_dir: Path, sources: list[str] | None = None) -> Any:
    """Load the demo's systems into the current warehouse through its own API server."""
    import ingestion
    from demo.server import running_server

    with running_server(demo_dir, port=0) as url, environment({"DEMO_API_URL": url}):
        summary = ingestion.load(sources=sources)
    assert summary.ok, f"ingestion failed: {summary.errors}"
    return summary
