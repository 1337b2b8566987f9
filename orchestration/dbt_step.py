"""Run ``dbt build`` in-process through ``dbtRunner`` and summarise its node results.

dbt reads ``dbt_project.yml`` from the project dir (``settings.dbt_project()``: this repo unless
configured) and ``profiles.yml`` from ``DBT_PROFILES_DIR`` (default: the project dir, where
``profiles.example.yml`` is copied when no ``profiles.yml`` exists). ``DBT_TARGET_PATH`` /
``DBT_LOG_PATH`` move its artifacts and logs (tests use temp dirs).
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

import yaml

from ingestion.redact import scrub_file
from orchestration import ops_models
from orchestration.dbt_failures import retry_can_help
from orchestration.ledger import NodeResult
from orchestration.settings import REPO_ROOT

log = logging.getLogger(__name__)


TEST_PASSED = {"pass"}
TEST_WARNED = {"warn"}
TEST_FAILED = {"fail", "error"}
NODE_FAILED = {"error", "fail", "runtime error"}
# dbt's advice: unit tests run in development and CI (`make test`), not in production builds
PRODUCTION_EXCLUDES = ["--exclude-resource-type", "unit_test"]


@dataclass
class DbtOutcome:
    """What one ``dbt build`` invocation did."""

    success: bool
    invocation_id: str | None
    results: list[NodeResult] = field(default_factory=list)
    error: str | None = None
    # the exceptions dbt raised before or instead of running nodes (type and message)
    exceptions: list[str] = field(default_factory=list)
    # (status, message) of the ops models that failed after this build (not its results)
    ops_failures: list[tuple[str, str | None]] = field(default_factory=list)

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
        """True only when every failure is the outside world's (network, lock, a killed
        connection): a compile error, an error in a model's SQL or a failed test is not."""
        if self.success:
            return False
        failing = [(r.status, r.message) for r in self.results if r.status in NODE_FAILED]
        return retry_can_help(self.exceptions, failing + self.ops_failures)

    def then(self, ops: DbtOutcome) -> DbtOutcome:
        """This build followed by the run of the ops models (the run script's own views: their
        nodes are not this build's results, a failure of theirs fails the step)."""
        if ops.success:
            return self
        failing = [(r.status, r.message) for r in ops.results if r.status in NODE_FAILED]
        return DbtOutcome(
            False,
            self.invocation_id,
            self.results,
            error=self.error or f"ops models ({ops_models.OPS_PACKAGE.name}): {ops.error}",
            exceptions=self.exceptions + ops.exceptions,
            ops_failures=self.ops_failures + failing,
        )


def profiles_dir(project_dir: Path, profile: str | None = None) -> Path:
    """Where dbt finds ``profiles.yml``: ``DBT_PROFILES_DIR`` (if it defines ``profile``, when
    one is named), else the project's folder, with ``profiles.example.yml`` copied in when it
    has none."""
    explicit = os.environ.get("DBT_PROFILES_DIR")
    if explicit and (profile is None or profile in _profile_names(Path(explicit))):
        return Path(explicit)
    target = project_dir / "profiles.yml"
    example = project_dir / "profiles.example.yml"
    if not target.exists() and example.exists():
        shutil.copyfile(example, target)
        log.info("copied %s to %s", example.name, target.name)
    return project_dir


def _profile_names(folder: Path) -> set[str]:
    """The profiles a folder's ``profiles.yml`` defines (none when unreadable)."""
    try:
        profiles = yaml.safe_load((folder / "profiles.yml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return set()
    return set(profiles) if isinstance(profiles, dict) else set()


def build_args(
    select: str | None = None,
    full_refresh: bool = False,
    dbt_vars: dict[str, Any] | None = None,
    project_dir: Path | None = None,
) -> list[str]:
    """The dbt CLI arguments of one build."""
    project_dir = project_dir or REPO_ROOT
    args = [
        "build",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(profiles_dir(project_dir)),
        *PRODUCTION_EXCLUDES,
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
    """The dbt log folder of a build: ``--log-path``, ``DBT_LOG_PATH`` or ``<project>/logs``."""
    if "--log-path" in args:
        return Path(args[args.index("--log-path") + 1])
    explicit = os.environ.get("DBT_LOG_PATH")
    return Path(explicit) if explicit else Path(args[args.index("--project-dir") + 1]) / "logs"


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
    """Invoke ``dbt build`` once and return its outcome (never raises for dbt failures).

    A project without the ops models (``status``/``report`` read them) is followed by a run of
    the ops package, whatever its own build did (``ops_models.py``).
    """
    project = project or REPO_ROOT
    outcome = invoke(build_args(select, full_refresh, dbt_vars, project))
    if ops_models.defined_in(project):
        return outcome
    ops_profiles = profiles_dir(REPO_ROOT, profile=ops_models.PROFILE)
    return outcome.then(invoke(ops_models.run_args(ops_profiles)))


def release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after an invocation.

    A process that goes on after a build (``watch``) would otherwise hold the file, and every
    other process (a scheduled run, ``status``) would fail to open it.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing is held
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
        DuckDBConnectionManager.close_all_connections()


def invoke(args: list[str]) -> DbtOutcome:
    """Run one dbt command in-process and summarise its results (never raises for dbt's)."""
    from dbt.cli.main import dbtRunner
    from dbt_common.invocation import get_invocation_id

    log.info("dbt %s", " ".join(args))
    try:
        res = dbtRunner().invoke(args)
    except Exception as exc:  # dbt's own crash: report it as a failed step
        crash = f"{type(exc).__name__}: {exc}"
        return DbtOutcome(False, None, error=f"dbt crashed: {crash}", exceptions=[crash])
    invocation_id = get_invocation_id()
    release_duckdb()
    scrub_file(default_log_dir(args) / "dbt.log")
    results = [_node_result(r) for r in getattr(res.result, "results", None) or []]
    if res.success:
        return DbtOutcome(True, invocation_id, results)
    exceptions = []
    if res.exception is not None:
        # one line: dbt puts the reason (e.g. "password authentication failed") on the second
        exceptions.append(f"{type(res.exception).__name__}: {' '.join(str(res.exception).split())}")
        error = exceptions[0]
    elif results:
        error = _failure_summary(results)
    else:
        error = "dbt build failed without node results (see dbt's log)"
    return DbtOutcome(False, invocation_id, results, error=error, exceptions=exceptions)
