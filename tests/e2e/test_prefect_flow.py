"""The Prefect flow runs for real on Prefect's temporary local server: a task per source, then
dbt build and the report, each a run in the same ledger; a task refused by the run lock is
retried by Prefect once the lock is free."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration.lock import file_lock
from orchestration.settings import lock_path
from tests.support.cli import real_project_cli
from tests.support.demo import background_api, generate
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import dict_rows

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.prefect]

FLOW = REPO_ROOT / "orchestration" / "prefect" / "flow.py"


def test_flow_loads_each_source_in_its_own_task_then_builds_and_records_every_run(
    tmp_path: Path,
) -> None:
    demo_dir = generate(tmp_path / "demo_data", scale=0.01)
    cli = real_project_cli(tmp_path, demo_dir, "duckdb", None)
    env = {
        **cli.env,
        "PREFECT_HOME": str(tmp_path / "prefect"),  # its own temporary server and database
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",  # 20 s is short on 2 busy cores
    }
    env.pop("PREFECT_API_URL", None)
    report = tmp_path / "health.html"
    lock = lock_path(Path(env["DUCKDB_PATH"]))
    with background_api(demo_dir, cli.env) as api:
        env["DEMO_API_URL"] = api
        # another writer holds the run lock when the flow starts: its first task is refused
        with file_lock(lock, "someone-else", "ingest"):
            flow = subprocess.Popen(
                [sys.executable, str(FLOW), "--retry-delay", "1", "--retry-delay", "1",
                 "--report", str(report)],
                cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True,
            )  # fmt: skip
            assert flow.stdout is not None
            output = _read_until(flow, "exited 3", deadline=time.monotonic() + 180)
        output += flow.stdout.read()
        assert flow.wait(timeout=600) == 0, output[-4000:]

    assert "Flow run" in output and "Retry 1/" in output, output[-4000:]
    for name in ("crm", "fx", "shop", "events"):
        assert f"load_{name}" in output
    runs = dict_rows(env, "select * from ops.runs order by started_at")
    assert [(r["command"], r["status"]) for r in runs if r["status"] == "success"] == [
        *[("ingest", "success")] * 4,
        ("build", "success"),
    ], runs
    loaded = dict_rows(env, "select source_name from ops.run_sources where status = 'success'")
    assert sorted(r["source_name"] for r in loaded) == ["crm", "events", "fx", "shop"]
    (orders,) = dict_rows(env, "select count(*) as n from marts.fct_orders")
    assert orders["n"] > 0
    assert "<html" in report.read_text().lower()


def _read_until(flow: subprocess.Popen[str], text: str, deadline: float) -> str:
    """The flow's output up to the first line holding ``text`` (fails past the deadline)."""
    assert flow.stdout is not None
    seen = []
    for line in flow.stdout:
        seen.append(line)
        if text in line:
            return "".join(seen)
        assert time.monotonic() < deadline and flow.poll() is None, "".join(seen)[-4000:]
    raise AssertionError(f"the flow ended before {text!r}:\n" + "".join(seen)[-4000:])
