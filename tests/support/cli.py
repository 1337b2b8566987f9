"""Shared set-up for the end-to-end tests: demo data, a warehouse per kind, the CLI env."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from tests import pg_server
from tests.orchestration.conftest import REPO_ROOT, Cli, base_env


def generate_demo(folder: Path, malformed_rate: float = 0.0) -> Path:
    """A tiny demo shop (2 days, scale 0.01) in ``folder``."""
    args = [sys.executable, "-m", "demo", "--demo-dir", str(folder), "generate", "--days", "2"]
    args += ["--scale", "0.01"]
    if malformed_rate:
        args += ["--malformed-rate", str(malformed_rate)]
    subprocess.run(args, cwd=REPO_ROOT, check=True, capture_output=True, text=True)
    return folder


def real_project_cli(
    tmp: Path, demo_dir: Path, kind: str, server: pg_server.PostgresServer | None
) -> Cli:
    """The CLI with the real dbt project, the demo source system and a fresh warehouse."""
    env = base_env(tmp)
    profiles = tmp / "profiles"
    profiles.mkdir(exist_ok=True)
    shutil.copyfile(REPO_ROOT / "profiles.example.yml", profiles / "profiles.yml")
    env.update({"DEMO_DIR": str(demo_dir), "DBT_PROFILES_DIR": str(profiles), "WAREHOUSE": kind})
    if kind == "duckdb":
        env["DUCKDB_PATH"] = str(tmp / "warehouse" / "analytics.duckdb")
    else:
        assert server is not None
        name = f"t_{uuid.uuid4().hex[:12]}"
        pg_server.create_database(server, name)
        env.update(server.env(name))
    return Cli(env)
