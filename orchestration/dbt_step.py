"""Run ``dbt build`` in-process through ``dbtRunner`` and summarise its node results.

dbt reads ``dbt_project.yml`` from the project dir (the repo root) and ``profiles.yml`` from
``DBT_PROFILES_DIR`` (default: the repo root, copied from ``profiles.example.yml`` when missing).
``DBT_TARGET_PATH`` / ``DBT_LOG_PATH`` move its artifacts and logs (tests use temp dirs).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion.redact import scrub_file
from orchestration.ledger import NodeResult

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent


def dbt_project_dir() -> Path:
    """The dbt project: ``DBT_PROJECT_DIR`` (dbt's own variable) or the repo root."""
    return Path(os.environ.get("DBT_PROJECT_DIR") or REPO_ROOT)


TEST_PASSED = {"pass"}
TEST_WARNED = {"warn"}
TEST_FAILED = {"fail", "error"}
NODE_FAILED = {"error", "fail", "runtime error"}


@dataclass
class DbtOutcome:
    """What one ``dbt build`` invocation did."""

    success: bool
    invocation_id: str | None
    results: list[NodeResult] = field(default_factory=list)
    error: str | None = None

    def _count(self, resource_type: str, statuses: set[str]) -> int:
        return sum(
            1 for r in self.results if r.resource_type == resource_type and r.status in statuses
        )

    @property
    def models_built(self) -> int:
        return self._count("model", {"success"})

    @property
    def tests_passed(self) -> int:
        return self._count("test", TEST_PASSED) + self._count("unit_test", TEST_PASSED)

    @property
    def tests_warned(self) -> int:
        return self._count("test", TEST_WARNED) + self._count("unit_test", TEST_WARNED)

    @property
    def tests_failed(self) -> int:
        return self._count("test", TEST_FAILED) + self._count("unit_test", TEST_FAILED)

    @property
    def retryable(self) -> bool:
        """False when the only problems are failed data tests: a retry would fail the same way."""
        if self.success:
            return False
        failing = [r for r in self.results if r.status in NODE_FAILED]
        if not failing:
            return True  # dbt itself failed (profile, connection, parse): worth another try
        return any(r.resource_type not in {"test", "unit_test"} for r in failing)


def profiles_dir(project_dir: Path) -> Path:
    """Where dbt finds ``profiles.yml``; copies ``profiles.example.yml`` in when none exists."""
    explicit = os.environ.get("DBT_PROFILES_DIR")
    if explicit:
        return Path(explicit)
    target = project_dir / "profiles.yml"
    example = project_dir / "profiles.example.yml"
    if not target.exists() and example.exists():
        shutil.copyfile(example, target)
        log.info("copied %s to %s", example.name, target.name)
    return project_dir


def build_args(
    select: str | None = None,
    full_refresh: bool = False,
    dbt_vars: dict[str, Any] | None = None,
    project_dir: Path | None = None,
) -> list[str]:
    """The dbt CLI arguments of one build."""
    project_dir = project_dir or dbt_project_dir()
    args = [
        "build",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(profiles_dir(project_dir)),
    ]
    if select:
        args += ["--select", *select.split()]
    if full_refresh:
        args.append("--full-refresh")
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    return args


def _node_result(result: Any) -> NodeResult:
    node = result.node
    adapter_response = result.adapter_response or {}
    message = result.message
    return NodeResult(
        unique_id=node.unique_id,
        resource_type=str(getattr(node.resource_type, "value", node.resource_type)),
        name=node.name,
        status=str(getattr(result.status, "value", result.status)),
        execution_time_s=float(result.execution_time or 0.0),
        rows_affected=adapter_response.get("rows_affected"),
        failures=result.failures,
        message=str(message) if message is not None else None,
    )


def default_log_dir(args: list[str]) -> Path:
    """The default dbt log folder of a build: ``<project dir>/logs``."""
    return Path(args[args.index("--project-dir") + 1]) / "logs"


def _failure_summary(results: Sequence[NodeResult]) -> str:
    failing = [r for r in results if r.status in NODE_FAILED]
    names = ", ".join(f"{r.name} ({r.status})" for r in failing[:5])
    more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
    first = next((r.message for r in failing if r.message), None)
    detail = f" — {failing[0].name}: {' '.join(first.split())[:400]}" if first else ""
    return f"{len(failing)} node(s) failed: {names}{more}{detail}"


def run_build(
    select: str | None = None,
    full_refresh: bool = False,
    dbt_vars: dict[str, Any] | None = None,
    project: Path | None = None,
) -> DbtOutcome:
    """Invoke ``dbt build`` once and return its outcome (never raises for dbt failures)."""
    from dbt.cli.main import dbtRunner
    from dbt_common.invocation import get_invocation_id

    args = build_args(select, full_refresh, dbt_vars, project)
    log.info("dbt %s", " ".join(args))
    try:
        res = dbtRunner().invoke(args)
    except Exception as exc:  # dbt's own crash: report it as a failed step
        return DbtOutcome(False, None, error=f"dbt crashed: {type(exc).__name__}: {exc}")
    invocation_id = get_invocation_id()
    scrub_file(Path(os.environ.get("DBT_LOG_PATH") or default_log_dir(args)) / "dbt.log")
    results = [_node_result(r) for r in getattr(res.result, "results", None) or []]
    if res.success:
        return DbtOutcome(True, invocation_id, results)
    if res.exception is not None:
        # one line: dbt puts the reason (e.g. "password authentication failed") on the second
        error = f"{type(res.exception).__name__}: {' '.join(str(res.exception).split())}"
    elif results:
        error = _failure_summary(results)
    else:
        error = "dbt build failed without node results (see dbt's log)"
    return DbtOutcome(False, invocation_id, results, error=error)
