"""Prefect flow: the same steps as ``python -m orchestration run``, one task per source.

Each task calls the run script's CLI, as the Airflow DAG does, so there is no second
implementation (one lock, one ledger, one summary, the same retries inside a step):

    enabled_sources  (python -m ingestion --list)               the sources to load
    load_<source>    (python -m orchestration ingest --source S) one task per source, in turn
      -> dbt_build     (python -m orchestration build)           once every source loaded
      -> health_report (python -m orchestration report)

The run lock is taken per task: every CLI call takes it and records its own run in the ledger
(an ``ingest`` run per source, then a ``build`` run). Tasks run one after another, never side by
side; another writer (cron, Airflow) may run between two tasks, which is safe because each run is
whole on its own. A task refused because another run holds the lock (exit 3), or killed by a
signal, is retried by Prefect after a delay; a failed step (exit 1) was already retried by the
run script where a retry can help, and a wrong setting (exit 2) cannot succeed, so neither is
retried again. A source that fails does not stop the others; ``dbt build`` runs only when every
source loaded, as in ``python -m orchestration run``.

Settings (environment of the flow's process):
    CUSTOMER_ANALYTICS_HOME    the repo checkout (default: two folders above this file)
    CUSTOMER_ANALYTICS_PYTHON  its interpreter (default: the one running the flow)
    WAREHOUSE, DUCKDB_PATH, PG*, DEMO_API_URL, ...  as for the CLI (docs/interfaces.md)

Run it: ``make prefect-flow`` (``python orchestration/prefect/flow.py [--source NAME]...``):
without ``PREFECT_API_URL`` Prefect starts a temporary local server for the run; with it, the
run is recorded by that server. ``flow.serve()`` or a deployment schedules it as usual.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

HOME = os.environ.get("CUSTOMER_ANALYTICS_HOME", str(Path(__file__).resolve().parents[2]))
PYTHON = os.environ.get("CUSTOMER_ANALYTICS_PYTHON", sys.executable)
EXIT_LOCKED = 3
RETRY_DELAYS_S = [30.0, 60.0, 120.0]


class RunScriptFailed(Exception):
    """A CLI call of the run script exited non-zero."""

    def __init__(self, args: list[str], returncode: int, detail: str) -> None:
        super().__init__(f"{' '.join(args)} exited {returncode}: {detail}")
        self.returncode = returncode


def run_script(*args: str) -> str:
    """Run ``<python> -m <args>`` from the repo root; its output goes to the task's log."""
    done = subprocess.run(
        [PYTHON, "-m", *args], cwd=HOME, capture_output=True, text=True, check=False
    )
    logger = get_run_logger()
    for line in done.stdout.splitlines():
        logger.info(line)
    for line in done.stderr.splitlines():
        logger.warning(line)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        detail = next((line for line in lines if "FAILED" in line or "refused" in line), "")
        raise RunScriptFailed(list(args), done.returncode, detail or (lines or [""])[-1])
    return done.stdout


def retry_when_it_can_help(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a call refused by the run lock (exit 3) or killed by a signal; nothing else."""
    try:
        state.result()
    except RunScriptFailed as exc:
        return exc.returncode == EXIT_LOCKED or exc.returncode < 0
    except Exception:
        return False
    return False


RETRYING: dict[str, Any] = {
    "retries": len(RETRY_DELAYS_S),
    "retry_delay_seconds": RETRY_DELAYS_S,
    "retry_condition_fn": retry_when_it_can_help,
}


@task(name="enabled_sources")
def enabled_sources() -> list[str]:
    """The enabled sources of the sources file, as the loaders read it."""
    return run_script("ingestion", "--list").split()


@task(name="load_source", **RETRYING)
def load_source(source: str) -> str:
    """``python -m orchestration ingest --source <source>``: one source, its own run."""
    return run_script("orchestration", "ingest", "--source", source)


@task(name="dbt_build", **RETRYING)
def dbt_build() -> str:
    """``python -m orchestration build``."""
    return run_script("orchestration", "build")


@task(name="health_report", **RETRYING)
def health_report(out: str) -> str:
    """``python -m orchestration report --out <out>``."""
    return run_script("orchestration", "report", "--out", out)


@flow(name="customer_analytics", log_prints=True)
def customer_analytics(
    sources: list[str] | None = None,
    retry_delays_s: list[float] | None = None,
    report: str = "reports/health.html",
) -> list[str]:
    """Load each source (all enabled ones by default), then ``dbt build``, then the report.

    Returns the sources loaded; raises when a source or a step failed.
    """
    delays = retry_delays_s if retry_delays_s is not None else RETRY_DELAYS_S
    retrying: dict[str, Any] = {"retries": len(delays), "retry_delay_seconds": delays}
    names = sources or enabled_sources()
    failed = []
    for name in names:
        load = load_source.with_options(task_run_name=f"load_{name}", **retrying)
        if load(name, return_state=True).is_failed():
            failed.append(name)
    if failed:
        raise RuntimeError(f"sources failed: {', '.join(failed)}; dbt build did not run")
    dbt_build.with_options(**retrying)()
    health_report.with_options(**retrying)(report)
    return names


def main(argv: list[str] | None = None) -> int:
    """``flow.py [--source NAME]... [--retry-delay S]... [--report PATH]``: 1 if it failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", dest="sources", action="append", metavar="NAME")
    parser.add_argument(
        "--retry-delay", dest="delays", action="append", type=float, metavar="S",
        help="seconds before each retry of a task refused by the run lock (repeatable)",
    )  # fmt: skip
    parser.add_argument("--report", default="reports/health.html", help="the report's path")
    args = parser.parse_args(argv)
    state = customer_analytics(args.sources, args.delays, args.report, return_state=True)
    return 1 if state.is_failed() else 0


if __name__ == "__main__":
    sys.exit(main())
