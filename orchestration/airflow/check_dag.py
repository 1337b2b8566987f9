"""Import the DAG folder with Airflow's DagBag and check the tasks and their order.

Run by ``check_dag.sh`` inside the Airflow virtual environment (not the project's).
Exits non-zero with a message naming what is wrong.
"""

from __future__ import annotations

import itertools
import sys

EXPECTED_DAG = "customer_analytics"
EXPECTED_ORDER = ["ingest", "dbt_build", "health_report"]
EXPECTED_SUBCOMMANDS = {"ingest": " ingest", "dbt_build": " build", "health_report": " report"}


def main(dag_folder: str) -> int:
    """Check the DAG; print one line per problem, or one OK line."""
    from airflow import __version__
    from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=dag_folder, include_examples=False)
    problems = [f"import error in {path}: {err}" for path, err in bag.import_errors.items()]
    dag = bag.dags.get(EXPECTED_DAG)  # parsed DAGs; get_dag() would need the metadata DB
    if dag is None:
        problems.append(f"DAG {EXPECTED_DAG!r} not found in {dag_folder}")
    else:
        task_ids = [t.task_id for t in dag.topological_sort()]
        if task_ids != EXPECTED_ORDER:
            problems.append(f"tasks in order {task_ids}, expected {EXPECTED_ORDER}")
        for upstream, downstream in itertools.pairwise(EXPECTED_ORDER):
            if (
                dag.has_task(upstream)
                and downstream not in dag.get_task(upstream).downstream_task_ids
            ):
                problems.append(f"{downstream} does not run after {upstream}")
        for task_id, subcommand in EXPECTED_SUBCOMMANDS.items():
            if not dag.has_task(task_id):
                continue
            command = dag.get_task(task_id).bash_command
            if f"-m orchestration{subcommand}" not in command:
                problems.append(
                    f"task {task_id} does not call `python -m orchestration{subcommand}`"
                )
    for problem in problems:
        print(f"DAG check failed: {problem}", file=sys.stderr)
    if not problems:
        print(f"DAG {EXPECTED_DAG} OK on Airflow {__version__}: {' >> '.join(EXPECTED_ORDER)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
