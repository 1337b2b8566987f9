"""MetricFlow's CLI (``mf``, from dbt-metricflow) on the repo's dbt project, in a test folder.

``mf`` reads ``<project root>/target/semantic_manifest.json`` and ignores dbt's
``--target-path``, so each test gets a project root of its own: links to the repo's
``dbt_project.yml`` and ``dbt_project/``, its own ``profiles.yml`` and ``target/``. dbt runs with
that folder as its work dir (:class:`~tests.support.dbt.DbtProject`), so the manifest lands where
``mf`` looks for it.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.dbt import DbtProject
from tests.support.paths import REPO_ROOT


def project_root(folder: Path) -> DbtProject:
    """A dbt project root in ``folder`` linking to the repo's project, with dbt run from there."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("dbt_project.yml", "dbt_project"):
        (folder / name).symlink_to(REPO_ROOT / name)
    return DbtProject(folder)


@dataclass
class MetricFlow:
    """``mf`` commands against the warehouse ``env`` names, from one project root."""

    root: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``mf <args>``; fails the test with mf's output when it exits non-zero."""
        done = subprocess.run(
            [str(Path(sys.executable).parent / "mf"), *args],
            cwd=self.root,
            env={**os.environ, **self.env, "DBT_PROFILES_DIR": str(self.root)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"mf {' '.join(args)}:\n{done.stdout[-3000:]}{done.stderr}"
        return done

    def query(self, *args: str) -> list[dict[str, str]]:
        """``mf query <args>`` written as CSV; its rows, column -> text."""
        out = self.root / "mf-query.csv"
        out.unlink(missing_ok=True)
        self.run("query", *args, "--csv", str(out), "--quiet")
        with out.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
