"""The run script's CLI in a subprocess: its environment, and a runner over the real project."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from demo import pg_server
from tests.support.dbt import write_profiles
from tests.support.env import clean_env
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import fresh_env

# settings a CLI test sets itself, never inherited from the shell running pytest
CLI_OWNED = ("PG", "DBT_", "ORCHESTRATION__", "WAREHOUSE", "DUCKDB_PATH")


@dataclass
class Cli:
    """Runs ``python -m orchestration`` in a subprocess with a controlled environment."""

    env: dict[str, str]
    cwd: Path = REPO_ROOT

    def __call__(
        self, *args: str, timeout: float = 240, stdin: str | None = None, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **extra_env}
        return subprocess.run(
            [sys.executable, "-m", "orchestration", *args],
            cwd=self.cwd,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def cli_env(tmp_path: Path) -> dict[str, str]:
    """The CLI's environment: private dbt and dlt folders under ``tmp_path``, no retries."""
    env = clean_env(*CLI_OWNED)
    env.update(
        {
            "DBT_TARGET_PATH": str(tmp_path / "dbt_target"),
            "DBT_LOG_PATH": str(tmp_path / "dbt_logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DLT_DATA_DIR": str(tmp_path / "dlt_data"),
            "RUNTIME__LOG_LEVEL": "WARNING",
            "ORCHESTRATION__RETRIES": "0",
            "ORCHESTRATION__BACKOFF_S": "0",
        }
    )
    return env


def real_project_cli(
    tmp: Path, demo_dir: Path, kind: str, server: pg_server.PostgresServer | None
) -> Cli:
    """The CLI with the real dbt project, the demo source system and a fresh warehouse."""
    env = cli_env(tmp)
    profiles = write_profiles(tmp / "profiles")
    env.update({"DEMO_DIR": str(demo_dir), "DBT_PROFILES_DIR": str(profiles)})
    env.update(fresh_env(kind, tmp, server))
    return Cli(env)
