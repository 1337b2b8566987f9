"""Fixtures for the run script tests: a tiny real dbt project, a webhook receiver, the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Cli, cli_env
from tests.support.dbt import tiny_project
from tests.support.webhook import Receiver, receiver


@pytest.fixture
def tiny_dbt(tmp_path: Path) -> Path:
    """A real, minimal dbt project (one model, two tests) using the repo's profile."""
    return tiny_project(tmp_path / "tiny_dbt")


@pytest.fixture
def cli_duckdb(tmp_path: Path, tiny_dbt: Path) -> Cli:
    """The CLI on a fresh DuckDB warehouse with the tiny dbt project."""
    env = cli_env(tmp_path)
    env.update(
        {
            "WAREHOUSE": "duckdb",
            "DUCKDB_PATH": str(tmp_path / "warehouse" / "analytics.duckdb"),
            "DBT_PROJECT_DIR": str(tiny_dbt),
            "DBT_PROFILES_DIR": str(tiny_dbt),
        }
    )
    return Cli(env)


@pytest.fixture
def cli_for_warehouse(tmp_path: Path, tiny_dbt: Path, warehouse_env: dict[str, str]) -> Cli:
    """The CLI on a fresh warehouse of each kind (DuckDB, PostgreSQL) with the tiny project."""
    env = cli_env(tmp_path)
    env.update(warehouse_env)
    env.update({"DBT_PROJECT_DIR": str(tiny_dbt), "DBT_PROFILES_DIR": str(tiny_dbt)})
    return Cli(env)


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    """A local Slack-compatible webhook receiver."""
    with receiver() as received:
        yield received
