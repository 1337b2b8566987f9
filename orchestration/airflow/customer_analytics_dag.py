"""Airflow DAG: the same steps as ``python -m orchestration run``, one task per step.

Each task calls the run script's CLI, so there is no second implementation:

    ingest  (python -m orchestration ingest)      load every enabled source
      -> dbt_build  (python -m orchestration build)  dbt build over what is loaded
      -> health_report (python -m orchestration report)

Settings (environment of the Airflow worker):
    CUSTOMER_ANALYTICS_HOME    the repo checkout (default: two folders above this file)
    CUSTOMER_ANALYTICS_PYTHON  its interpreter (default: <home>/.venv/bin/python)
    WAREHOUSE, DUCKDB_PATH, PG*  as for the CLI (docs/interfaces.md)

Retries and backoff happen inside the run script ([orchestration] retries/backoff_s), so the
tasks have no Airflow retries. Exit code 3 (another run holds the lock) skips the task instead of
failing it.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow import DAG

try:  # Airflow 3 moved BashOperator to the standard provider
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2.x
    from airflow.operators.bash import BashOperator

HOME = os.environ.get("CUSTOMER_ANALYTICS_HOME", str(Path(__file__).resolve().parents[2]))
PYTHON = os.environ.get("CUSTOMER_ANALYTICS_PYTHON", f"{HOME}/.venv/bin/python")
EXIT_LOCKED = 3


def orchestration_command(subcommand: str) -> str:
    """The shell command of one task: the run script's CLI, from the repo root."""
    return f'cd "{HOME}" && "{PYTHON}" -m orchestration {subcommand}'


with DAG(
    dag_id="customer_analytics",
    description="dlt loaders -> dbt build -> health report (same steps as `make run`)",
    schedule="0 3 * * *",
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 0, "execution_timeout": timedelta(hours=2)},
    tags=["customer-analytics"],
) as dag:
    ingest = BashOperator(
        task_id="ingest",
        bash_command=orchestration_command("ingest"),
        skip_on_exit_code=EXIT_LOCKED,
    )
    dbt_build = BashOperator(
        task_id="dbt_build",
        bash_command=orchestration_command("build"),
        skip_on_exit_code=EXIT_LOCKED,
    )
    health_report = BashOperator(
        task_id="health_report",
        bash_command=orchestration_command("report --out reports/health.html"),
        skip_on_exit_code=EXIT_LOCKED,
    )
    ingest >> dbt_build >> health_report
