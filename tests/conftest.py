"""Shared fixtures: a real PostgreSQL server, per-test warehouses, a demo shop, an isolated env."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo import pg_server
from tests.support import demo
from tests.support.battery import write_report
from tests.support.warehouse import fresh_env, new_database


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
    return new_database(postgres)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Point WAREHOUSE (and DUCKDB_PATH or PG*) at a fresh warehouse; runs once per warehouse."""
    server = request.getfixturevalue("postgres") if request.param == "postgres" else None
    env = fresh_env(request.param, tmp_path, server)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny demo shop (2 days, scale 0.05, malformed event lines), generated once per session.

    Tests copy it before changing it.
    """
    folder = tmp_path_factory.mktemp("tiny_demo") / "demo"
    return demo.generate(folder, scale=0.05, end_date=demo.END_DATE, malformed_rate=0.05)


@pytest.fixture(autouse=True)
def _isolated_dlt_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep dlt's local pipeline working dirs out of the user's home."""
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.delenv("WAREHOUSE", raising=False)
    monkeypatch.delenv("DUCKDB_PATH", raising=False)
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under `make faults`, the controller turns the battery's recorded figures into its report."""
    out = os.environ.get("FAULTS_REPORT_DIR")
    if out and not hasattr(session.config, "workerinput"):
        report = write_report(Path(out))
        if report is not None:
            print(f"\nfaults report: {report}")
