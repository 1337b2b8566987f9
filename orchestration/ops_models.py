"""The ops models for any dbt project: built from this repo's ops package when a project lacks them.

``status`` and ``report`` read views over the run ledger (``ops_run_history``, ...) in schema
``ops`` of the run script's warehouse. They live in the dbt package
``dbt_project/ops_package``: this repo's project includes it by path, another project may add
it as a local package; any other project gets them from the run script, which runs the package
(its views, not its tests) as a project of its own after that project's build, with this repo's
profile (``customer_analytics``: the same warehouse variables as the ledger). ADR 7.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import yaml

from orchestration.settings import REPO_ROOT

log = logging.getLogger(__name__)

OPS_PACKAGE = REPO_ROOT / "dbt_project" / "ops_package"
# a model every copy of the ops models has; its presence in a manifest means "already there"
MARKER_MODEL = "ops_run_history"
SCHEMA = "ops"  # where status and report read them
PROFILE = "customer_analytics"  # the package's profile: this repo's, the ledger's warehouse


def manifest_path(project_dir: Path) -> Path:
    """Where dbt writes the project's ``manifest.json`` (``DBT_TARGET_PATH`` or its target-path)."""
    explicit = os.environ.get("DBT_TARGET_PATH")
    if explicit:
        return Path(explicit) / "manifest.json"
    try:
        project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        project = None
    target = (project or {}).get("target-path") if isinstance(project, dict) else None
    return project_dir / str(target or "target") / "manifest.json"


def defined_in(project_dir: Path) -> bool:
    """Whether the project's last parse (its manifest) builds the ops models in schema ``ops``,
    itself or by package (a project naming schemas the dbt default way puts them elsewhere)."""
    if project_dir.resolve() in (REPO_ROOT, OPS_PACKAGE.resolve()):
        return True
    try:
        nodes = json.loads(manifest_path(project_dir).read_text(encoding="utf-8"))["nodes"]
    except (OSError, ValueError, KeyError, TypeError):
        return False  # never parsed, or a parse that failed: the run script builds them
    return any(
        node.get("resource_type") == "model"
        and node.get("name") == MARKER_MODEL
        and node.get("schema") == SCHEMA
        for node in nodes.values()
    )


def _own_folder(variable: str, name: str) -> Path:
    """A folder of the package's build: under ``$variable`` when set, else in the package."""
    explicit = os.environ.get(variable)
    return Path(explicit) / "ops_package" if explicit else OPS_PACKAGE / name


def run_args(profiles_dir: Path) -> list[str]:
    """``dbt run`` of the ops package on its own, with its own target and log folders."""
    return [
        "run",
        "--project-dir",
        str(OPS_PACKAGE),
        "--profiles-dir",
        str(profiles_dir),
        "--target-path",
        str(_own_folder("DBT_TARGET_PATH", "target")),
        "--log-path",
        str(_own_folder("DBT_LOG_PATH", "logs")),
        "--no-send-anonymous-usage-stats",
    ]
