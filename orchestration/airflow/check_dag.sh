#!/usr/bin/env bash
# Load the Airflow DAG in a real Airflow and check its tasks and their order.
# Usage: orchestration/airflow/check_dag.sh [DAG_FOLDER]   (default: orchestration/airflow)
#
# Airflow lives in its own virtual environment (its pins clash with the project's), created on
# first use and cached: AIRFLOW_VENV (default .cache/airflow-venv, git-ignored). The versions are
# pinned by constraints-airflow-2.10.5-py3.11.txt beside this script (what pip resolved for
# apache-airflow==2.10.5 on Python 3.11; the upstream constraints URL is not reachable offline).
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=orchestration/airflow
VENV="${AIRFLOW_VENV:-.cache/airflow-venv}"
PYTHON="${AIRFLOW_BASE_PYTHON:-$(command -v python3.11 || command -v python3)}"
AIRFLOW_VERSION=2.10.5

mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"  # parallel callers (pytest -n 2) wait for one install
flock 9
if [[ ! -f "$VENV/.installed-$AIRFLOW_VERSION" ]]; then
  echo "creating $VENV with apache-airflow==$AIRFLOW_VERSION (first use only)..." >&2
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    "apache-airflow==$AIRFLOW_VERSION" -c "$HERE/constraints-airflow-$AIRFLOW_VERSION-py3.11.txt"
  touch "$VENV/.installed-$AIRFLOW_VERSION"
fi
flock -u 9

AIRFLOW_HOME="$(mktemp -d)"
trap 'rm -rf "$AIRFLOW_HOME"' EXIT
export AIRFLOW_HOME AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__UNIT_TEST_MODE=True
"$VENV/bin/python" "$HERE/check_dag.py" "${1:-$HERE}"
