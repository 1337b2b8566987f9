"""Shared fixtures: a real PostgreSQL server, per-test warehouses, an isolated environment."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pg_server
from tests.faults.battery import write_report

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def postgres() -> Iterator[pg_server.PostgresServer]:
    """A real PostgreSQL server on 127.0.0.1, started once per test session (or per xdist worker).

    Fails loudly (never skips) when the server cannot be started.
    """
    try:
        server = pg_server.start()
    except pg_server.PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL is required by this test and could not be started: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_database(postgres: pg_server.PostgresServer) -> dict[str, str]:
    """A fresh, empty database on the test server; returns its libpq environment."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(postgres, name)
    return postgres.env(name)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Point WAREHOUSE (and DUCKDB_PATH or PG*) at a fresh warehouse; runs once per warehouse."""
    env = {"WAREHOUSE": request.param}
    if request.param == "duckdb":
        env["DUCKDB_PATH"] = str(tmp_path / "warehouse" / "analytics.duckdb")
    else:
        env.update(request.getfixturevalue("pg_database"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(autouse=True)
def _isolated_dlt_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep dlt's local pipeline working dirs out of the user's home."""
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.delenv("WAREHOUSE", raising=False)
    monkeypatch.delenv("DUCKDB_PATH", raising=False)
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under `make faults`, the controller turns the recorded figures into the report."""
    out = os.environ.get("FAULTS_REPORT_DIR")
    if out and not hasattr(session.config, "workerinput"):
        report = write_report(Path(out))
        if report is not None:
            print(f"\nfaults report: {report}")
