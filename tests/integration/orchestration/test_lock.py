"""One run at a time: overlapping runs are refused, stale locks from dead processes recovered."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.warehouse import Warehouse
from orchestration.ledger import Ledger
from orchestration.summary import RunRecord
from tests.support.cli import Cli
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import dict_rows

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ingestion import warehouse
    from orchestration.lock import run_lock
    with run_lock(warehouse.current(), Path(sys.argv[1]), "holder-run", "run"):
        print("locked", flush=True)
        time.sleep(120)
    """
)


@pytest.fixture
def lock_holder(cli_for_warehouse: Cli) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the run lock of the same warehouse."""
    env = cli_for_warehouse.env
    lock_file = Path(env.get("DUCKDB_PATH", "/nonexistent/x")).parent / ".run.lock"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_file)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    proc.kill()
    proc.wait()


def test_overlapping_run_is_refused_with_a_clear_message(
    cli_for_warehouse: Cli, lock_holder: subprocess.Popen[str]
) -> None:
    result = cli_for_warehouse("run", "--skip-ingest")

    assert result.returncode == 3
    assert "run refused: another run holds the" in result.stderr
    if cli_for_warehouse.env["WAREHOUSE"] == "duckdb":
        assert f"pid {lock_holder.pid}" in result.stderr
        assert "holder-run" in result.stderr
    else:
        assert "customer_analytics run holder-run" in result.stderr
    assert "dbt build" not in result.stderr  # nothing ran


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_lock_from_a_dead_process_is_recovered_and_its_run_marked_abandoned(
    cli_duckdb: Cli,
) -> None:
    env = cli_duckdb.env
    # a run that crashed while running: its ledger row says running and its lock file stayed
    ledger = Ledger(Warehouse("duckdb", duckdb_path=Path(env["DUCKDB_PATH"])))
    ledger.ensure()
    crashed = {"run_id": "20261101T000000-dead01"}
    ledger.save_run(RunRecord(crashed["run_id"], "run", "duckdb", socket.gethostname(), 1, {}))
    lock_file = Path(env["DUCKDB_PATH"]).parent / ".run.lock"
    lock_file.write_text(
        json.dumps(
            {
                "pid": _dead_pid(),
                "host": socket.gethostname(),
                "run_id": crashed["run_id"],
                "command": "run",
                "started_at": "2026-11-01T00:00:00+00:00",
            }
        )
    )

    result = cli_duckdb("run", "--skip-ingest")

    assert result.returncode == 0, result.stderr
    assert "recovered a stale run lock" in result.stderr
    assert not lock_file.exists()  # released at the end of the run
    statuses = dict_rows(env, "select run_id, status from ops.runs order by started_at")
    assert statuses[0] == {"run_id": crashed["run_id"], "status": "abandoned"}
    (error,) = dict_rows(env, f"select error from ops.runs where run_id = '{crashed['run_id']}'")
    assert "died; lock recovered" in error["error"]
    assert statuses[1]["status"] == "success"


def test_a_run_left_running_by_a_killed_process_is_marked_abandoned_by_the_next_run(
    cli_for_warehouse: Cli,
) -> None:
    env = cli_for_warehouse.env
    # on PostgreSQL the dead run's lock went with its session: only its ledger row is left
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        from ingestion import warehouse

        ledger = Ledger(warehouse.current(warehouse.LOADER))
        ledger.ensure()
        ledger.save_run(RunRecord("20261101T000000-dead02", "run", env["WAREHOUSE"], "h", 1, {}))

    result = cli_for_warehouse("build")

    assert result.returncode == 0, result.stderr
    rows = dict_rows(env, "select run_id, status, error from ops.runs order by started_at")
    assert [r["status"] for r in rows] == ["abandoned", "success"]
    assert "ended before the run finished" in rows[0]["error"]
