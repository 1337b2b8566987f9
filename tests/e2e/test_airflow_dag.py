"""The Airflow DAG loads in a real Airflow (own cached venv), run-script steps in order."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

pytestmark = [pytest.mark.slow]

CHECK = REPO_ROOT / "orchestration" / "airflow" / "check_dag.sh"
DAG = REPO_ROOT / "orchestration" / "airflow" / "customer_analytics_dag.py"


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    # first use creates .cache/airflow-venv (pip install, ~1.5-2 min); later runs reuse it
    return subprocess.run(
        ["bash", str(CHECK), *args],
        cwd=REPO_ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_dag_loads_in_airflow_with_ingest_then_dbt_build_then_report() -> None:
    result = _check()

    assert result.returncode == 0, result.stderr[-3000:]
    assert "DAG customer_analytics OK on Airflow 2.10.5: ingest >> dbt_build >> health_report" in (
        result.stdout
    )


def test_dag_check_fails_when_the_task_order_is_wrong(tmp_path: Path) -> None:
    wrong = DAG.read_text().replace(
        "ingest >> dbt_build >> health_report", "dbt_build >> ingest >> health_report"
    )
    assert wrong != DAG.read_text()
    (tmp_path / DAG.name).write_text(wrong)

    result = _check(str(tmp_path))

    assert result.returncode == 1
    assert "tasks in order ['dbt_build', 'ingest', 'health_report']" in result.stderr


def test_dag_check_reports_an_import_error(tmp_path: Path) -> None:
    shutil.copyfile(DAG, tmp_path / DAG.name)
    (tmp_path / "broken_dag.py").write_text("from airflow import DAG\nraise ValueError('nope')\n")

    result = _check(str(tmp_path))

    assert result.returncode == 1
    assert "import error in" in result.stderr and "nope" in result.stderr
