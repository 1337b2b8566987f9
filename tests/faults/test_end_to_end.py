"""Correctness end to end: a scripted sequence of runs, faults and recoveries, then the marts
must equal the demo's ground truth to the cent.

The sequence, through the real CLIs (`python -m demo`, `python -m orchestration`) against the
demo API serving 429s, 5xx, truncated bodies, repeated records and an empty last page:
generate (malformed event lines, bad orders) -> a run SIGKILLed while loading the events ->
rerun -> advance with additive schema drift (new columns) and file faults -> run (more
advances under `make faults`) -> backfill of the whole history -> replay. The fast slice runs
it on DuckDB with one advance and one `dbt build` at the end; `make faults` on DuckDB and
PostgreSQL with three advances and `dbt build` in every step.

Breaking drift (a renamed or retyped column) is meant to stop the build: the schema-drift
guards (test `schema_drift` on each source table) fail naming table and column, and the marts built
from the drifted source keep their last good state. Under `make faults` the sequence ends with
a rename and checks exactly that.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from demo.faults import ApiFaults
from demo.server import running_server
from demo.state import load_state
from tests.faults.api_support import fault_report
from tests.faults.e2e_reconcile import reconcile
from tests.support.battery import full_battery, size
from tests.support.cli import Cli, real_project_cli
from tests.support.demo import demo_cli, generate
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import dict_rows

AREA = "correctness end to end"
API_FAULTS = ApiFaults(
    throttle_rate=0.1,
    error_rate=0.1,
    truncate_rate=0.1,
    duplicate_rate=0.2,
    empty_last_page=True,
    seed=8,
)
FILE_FAULTS = ("--malformed-rate", "0.03", "--bad-orders-rate", "0.03")

WAREHOUSES = [
    pytest.param("duckdb", marks=pytest.mark.xdist_group("e2e_faults_duckdb")),
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.xdist_group("e2e_faults_postgres"),
            pytest.mark.skipif(
                not full_battery(), reason="PostgreSQL runs the sequence in the full battery only"
            ),
        ],
    ),
]


@dataclass
class Sequence:
    """The scripted sequence on one warehouse: the CLI, the demo, and what each step did."""

    cli: Cli
    demo_dir: Path
    build_each_step: bool
    steps: list[tuple[str, int, float]] = field(default_factory=list)

    def demo(self, *args: str) -> None:
        demo_cli(self.demo_dir, *args)

    def run(self, *args: str, build: bool | None = None) -> subprocess.CompletedProcess[str]:
        """`python -m orchestration <args>`; without a build, `--skip-dbt` is added."""
        build = self.build_each_step if build is None else build
        argv = [*args] if build else [*args, "--skip-dbt"]
        started = time.monotonic()
        result = self.cli(*argv, timeout=900)
        self.steps.append((" ".join(argv), result.returncode, time.monotonic() - started))
        assert result.returncode == 0, f"{argv}: {result.stderr[-3000:]}"
        return result

    def killed_run(self) -> bool:
        """Start `orchestration run`, SIGKILL it once a load job has started; True if killed."""
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestration", "run", "--skip-dbt"],
            cwd=REPO_ROOT,
            env=self.cli.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        pipelines = Path(self.cli.env["DLT_DATA_DIR"]) / "pipelines"
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline and not _loading(pipelines):
            time.sleep(0.002)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        killed = proc.returncode == -signal.SIGKILL
        self.steps.append(("run (SIGKILL)", proc.returncode, time.monotonic() - started))
        return killed


def _loading(pipelines: Path) -> bool:
    """A load job of the events pipeline (the last and largest source) has started."""
    return any(pipelines.glob("*/events/load/normalized/*/started_jobs/*")) or any(
        pipelines.glob("*/events/load/normalized/*/completed_jobs/*")
    )


def play(seq: Sequence, advances: int) -> bool:
    """The scripted sequence; returns whether the SIGKILL hit a running load."""
    killed = seq.killed_run()  # the first load of the whole history, killed while loading
    seq.run("run")
    for i in range(advances):
        drift = ("--drift", "added") if i == 0 else ()  # additive: the marts absorb it
        seq.demo("advance", *drift, *FILE_FAULTS)
        seq.run("run")
    state = load_state(seq.demo_dir)
    seq.run("backfill", "--start", state.first_day, "--end", state.last_day)
    seq.run("replay", build=True)  # the last step always builds the marts
    return killed


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_after_faults_kills_backfill_and_replay_the_marts_equal_the_truth(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, figure: Callable[..., Any]
) -> None:
    demo_dir = generate(tmp_path / "demo_data", scale=0.05 * size(1, 4), faults=FILE_FAULTS)
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    cli = real_project_cli(tmp_path, demo_dir, kind, server)
    cli.env.update(
        {
            "RUNTIME__REQUEST_MAX_ATTEMPTS": "12",
            "RUNTIME__REQUEST_BACKOFF_FACTOR": "0.05",
            "RUNTIME__REQUEST_MAX_RETRY_DELAY": "2",
        }
    )
    seq = Sequence(cli, demo_dir, build_each_step=full_battery())
    started = time.monotonic()
    with running_server(demo_dir, faults=API_FAULTS, rate_limit=10_000) as url:
        cli.env["DEMO_API_URL"] = url
        killed = play(seq, advances=size(1, 3))
        injected = fault_report(url)["injected"]
    wall = time.monotonic() - started
    result = reconcile(cli.env, demo_dir)
    duplicates = sum(result.duplicated_keys.values())
    steps = "; ".join(f"{name} -> {rc} ({s:.0f} s)" for name, rc, s in seq.steps)
    detail = f"{len(seq.steps)} steps in {wall:.0f} s: {steps}"
    api_faults = sum(injected.values())

    figure(AREA, "ingestion run killed mid-load", str(killed), "True", killed, kind, detail)
    figure(AREA, "API faults met during the sequence", api_faults, "> 0", api_faults > 0, kind,
           str(injected))  # fmt: skip
    figure(AREA, "mismatched revenue cells vs truth", result.revenue_cells, "= 0",
           result.revenue_cells == 0, kind, f"of {result.revenue_cells_total} cells; "
           + " / ".join(result.detail))  # fmt: skip
    figure(AREA, "fct_orders ids off vs truth", result.orders, "= 0", result.orders == 0, kind)
    figure(AREA, "CRM customers missing in dim_customers", result.customers_missing, "= 0",
           result.customers_missing == 0, kind)  # fmt: skip
    figure(AREA, "staged events off vs truth", result.events, "= 0", result.events == 0, kind)
    figure(AREA, "quarantined orders off vs truth's bad orders", result.quarantined_orders,
           "= 0", result.quarantined_orders == 0, kind)  # fmt: skip
    figure(AREA, "loader rejections off vs truth's malformed lines", result.loader_rejections,
           "= 0", result.loader_rejections == 0, kind)  # fmt: skip
    figure(AREA, "duplicated keys in marts", duplicates, "= 0", duplicates == 0, kind,
           str(result.duplicated_keys))  # fmt: skip

    assert killed, "the run finished before it could be killed mid-load"
    assert api_faults > 0, injected
    assert result.mismatches == 0, result.detail
    assert result.revenue_cells_total > 0
    assert duplicates == 0, result.duplicated_keys

    if full_battery():
        with running_server(demo_dir, rate_limit=10_000) as url:
            cli.env["DEMO_API_URL"] = url
            check_a_rename_stops_the_event_marts_only(seq, kind, figure)


def check_a_rename_stops_the_event_marts_only(
    seq: Sequence, kind: str, figure: Callable[..., Any]
) -> None:
    """Events' `device` renamed at the source: the run fails naming table and column, the
    event marts keep their last good rows, everything else still equals the truth."""
    events_before = _count(seq.cli.env, "staging.stg_events__events")
    sessions_before = _count(seq.cli.env, "marts.fct_sessions")
    seq.demo("advance", "--drift", "renamed")
    run = seq.cli("run", timeout=900)
    output = run.stdout + run.stderr
    named = "raw_events.events" in output and "device" in output and "drift" in output
    after = reconcile(seq.cli.env, seq.demo_dir)
    events_kept = (
        _count(seq.cli.env, "staging.stg_events__events") == events_before
        and _count(seq.cli.env, "marts.fct_sessions") == sessions_before
    )
    others_off = after.revenue_cells + after.orders + after.customers_missing
    duplicates = sum(after.duplicated_keys.values())

    figure(AREA, "renamed column: run stops with exit 1 naming table and column",
           f"exit {run.returncode}, named {named}", "exit 1, named True",
           run.returncode == 1 and named, kind)  # fmt: skip
    figure(AREA, "renamed column: event marts keep their last good rows", str(events_kept),
           "True", events_kept, kind)  # fmt: skip
    figure(AREA, "renamed column: revenue, orders, customers off vs truth", others_off, "= 0",
           others_off == 0, kind, " / ".join(after.detail))  # fmt: skip
    figure(AREA, "renamed column: duplicated keys in marts", duplicates, "= 0", duplicates == 0,
           kind)  # fmt: skip
    assert run.returncode == 1, output[-3000:]
    assert named, output[-3000:]
    assert events_kept
    assert others_off == 0, after.detail
    assert duplicates == 0, after.duplicated_keys


def _count(env: dict[str, str], table: str) -> int:
    return int(dict_rows(env, f"select count(*) as n from {table}")[0]["n"])
