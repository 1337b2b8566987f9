"""The run script end to end with a tiny real dbt project: ledger, retries, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import Cli
from tests.support.warehouse import dict_rows
from tests.support.webhook import Receiver


def test_run_builds_dbt_and_records_the_run_in_the_ledger_without_alerting(
    cli_for_warehouse: Cli, webhook: Receiver
) -> None:
    result = cli_for_warehouse(
        "run", "--skip-ingest", ORCHESTRATION__ALERT_WEBHOOK_URL=webhook.url + "/hook"
    )

    assert result.returncode == 0, result.stderr
    assert webhook.bodies == []  # success: no alert
    assert "1 models built; tests 2 passed, 0 warned, 0 failed" in result.stdout
    env = cli_for_warehouse.env
    runs = dict_rows(env, "select * from ops.runs")
    assert len(runs) == 1
    run = runs[0]
    assert run["status"] == "success"
    assert (run["models_built"], run["tests_passed"], run["tests_failed"]) == (1, 2, 0)
    assert run["ended_at"] >= run["started_at"]
    results = dict_rows(env, "select * from ops.dbt_results order by unique_id")
    assert [r["unique_id"].split(".")[0] for r in results] == ["model", "test", "test"]
    assert {r["invocation_id"] for r in results} == {run["dbt_invocation_id"]}
    assert {r["status"] for r in results} == {"success", "pass"}
    artifact = json.loads((Path(env["DBT_TARGET_PATH"]) / "run_results.json").read_text())
    assert artifact["metadata"]["invocation_id"] == run["dbt_invocation_id"]
    assert sorted(r["unique_id"] for r in artifact["results"]) == [r["unique_id"] for r in results]
    steps = dict_rows(env, "select step, attempt, status from ops.run_steps")
    assert steps == [{"step": "dbt_build", "attempt": 1, "status": "success"}]


def test_a_model_error_is_not_retried_and_is_named_in_one_line_with_exit_code_1(
    cli_duckdb: Cli, tiny_dbt: Path
) -> None:
    (tiny_dbt / "models" / "broken.sql").write_text("select * from no_such_table\n")

    result = cli_duckdb("run", "--skip-ingest", "--retries", "2", "--backoff", "0.2")

    assert result.returncode == 1
    failed_lines = [line for line in result.stderr.splitlines() if line.startswith("FAILED")]
    assert len(failed_lines) == 1
    assert failed_lines[0].startswith("FAILED at step dbt_build after 1 attempt(s): ")
    assert "broken" in failed_lines[0]
    assert "not retried: a retry would fail the same way" in result.stderr
    steps = dict_rows(cli_duckdb.env, "select attempt, status from ops.run_steps order by 1")
    assert steps == [{"attempt": 1, "status": "failed"}]
    (run,) = dict_rows(cli_duckdb.env, "select * from ops.runs")
    assert (run["status"], run["failed_step"]) == ("failed", "dbt_build")
    # the good model was still built: a failed node does not undo the others
    assert run["models_built"] == 1


def test_failed_data_test_is_reported_but_not_retried(cli_duckdb: Cli, tiny_dbt: Path) -> None:
    (tiny_dbt / "models" / "numbers.yml").write_text(
        "models:\n  - name: numbers\n    columns:\n      - name: id\n        data_tests:\n"
        "          - accepted_values:\n              arguments:\n                values: [1]\n"
    )

    result = cli_duckdb("run", "--skip-ingest", "--retries", "2", "--backoff", "0.2")

    assert result.returncode == 1
    assert "FAILED at step dbt_build after 1 attempt(s)" in result.stderr
    (run,) = dict_rows(cli_duckdb.env, "select * from ops.runs")
    assert (run["tests_failed"], run["models_built"]) == (1, 1)
    (failed,) = dict_rows(
        cli_duckdb.env, "select * from ops.dbt_results where resource_type = 'test'"
    )
    assert failed["status"] == "fail"
    assert failed["failures"] == 1


def test_backfill_passes_the_window_to_dbt_as_vars(cli_duckdb: Cli, tiny_dbt: Path) -> None:
    (tiny_dbt / "models" / "window.sql").write_text(
        "select '{{ var(\"start_date\") }}' as start_date, '{{ var(\"end_date\") }}' as end_date\n"
    )

    result = cli_duckdb("backfill", "--start", "2026-11-01", "--end", "2026-11-03", "--skip-ingest")

    assert result.returncode == 0, result.stderr
    (row,) = dict_rows(cli_duckdb.env, "select args from ops.runs where command = 'backfill'")
    args = json.loads(row["args"])
    assert (args["start"], args["end"]) == ("2026-11-01", "2026-11-03")
    window = dict_rows(cli_duckdb.env, "select * from analytics.analytics.window")
    assert window == [{"start_date": "2026-11-01", "end_date": "2026-11-03"}]


def test_backfill_rejects_a_window_that_ends_before_it_starts(cli_duckdb: Cli) -> None:
    result = cli_duckdb("backfill", "--start", "2026-11-05", "--end", "2026-11-01")

    assert result.returncode == 2
    assert "--start 2026-11-05 is after --end 2026-11-01" in result.stderr


@pytest.mark.parametrize("bad", ["-1", "many"])
def test_invalid_retry_setting_is_a_configuration_error_naming_it(
    cli_duckdb: Cli, bad: str
) -> None:
    result = cli_duckdb("run", "--skip-ingest", ORCHESTRATION__RETRIES=bad)

    assert result.returncode == 2
    assert "retries" in result.stderr
