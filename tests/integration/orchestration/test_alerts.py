"""Alerts reach a real local webhook receiver, and no secret leaks into alerts or logs."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.support.cli import Cli
from tests.support.warehouse import dict_rows
from tests.support.webhook import Receiver

SECRET_PATH = "/services/T0000/B0000/wh-secret-9f8e7d6c"
PASSWORD = "pg-password-1a2b3c4d"
TOKEN = "crm-token-5e6f7a8b"


def _all_output(result: object, tmp_dbt_logs: Path) -> str:
    logs = "".join(p.read_text(errors="replace") for p in tmp_dbt_logs.rglob("*.log"))
    return result.stdout + result.stderr + logs  # type: ignore[attr-defined]


def test_failed_run_posts_an_alert_without_any_secret(
    cli_duckdb: Cli, tiny_dbt: Path, webhook: Receiver
) -> None:
    # the failing model puts the token into dbt's error message on purpose
    (tiny_dbt / "models" / "leaky.sql").write_text(
        "{{ config(materialized='table') }}\n"
        "select cast('{{ env_var(\"CRM_API_TOKEN\") }}' as integer) as id\n"
    )
    url = webhook.url + SECRET_PATH

    result = cli_duckdb(
        "run",
        "--skip-ingest",
        ORCHESTRATION__ALERT_WEBHOOK_URL=url,
        PGPASSWORD=PASSWORD,
        CRM_API_TOKEN=TOKEN,
    )

    assert result.returncode == 1
    assert len(webhook.bodies) == 1
    payload = webhook.bodies[0]
    assert set(payload) == {"text", "blocks"}
    assert "failed at step dbt_build" in payload["text"]
    assert any("leaky" in json.dumps(block) for block in payload["blocks"])
    (run,) = dict_rows(cli_duckdb.env, "select * from ops.runs")
    ledger_text = json.dumps(run, default=str) + json.dumps(
        dict_rows(cli_duckdb.env, "select * from ops.dbt_results"), default=str
    )
    assert "***" in run["error"]  # the token was in the error, and was masked
    everything = (
        b"".join(webhook.raw).decode()
        + ledger_text
        + _all_output(result, Path(cli_duckdb.env["DBT_LOG_PATH"]))
    )
    for secret in (SECRET_PATH, "wh-secret-9f8e7d6c", PASSWORD, TOKEN):
        assert secret not in everything


def test_failed_ingest_alerts_an_unreachable_webhook_without_logging_its_url(
    cli_duckdb: Cli, tmp_path: Path
) -> None:
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{closed_port}{SECRET_PATH}"

    result = cli_duckdb(
        "run", ORCHESTRATION__ALERT_WEBHOOK_URL=url, DEMO_DIR=str(tmp_path / "no_demo_here")
    )

    assert result.returncode == 2  # the CRM token file is missing: a setting, not retried
    (failed_line,) = [line for line in result.stderr.splitlines() if line.startswith("FAILED")]
    assert failed_line.startswith("FAILED at step ingest after 1 attempt(s): configuration error")
    assert "no_demo_here" in failed_line  # the loaders name the missing demo folder
    assert "alert webhook could not be reached" in result.stderr
    assert SECRET_PATH not in result.stderr + result.stdout
    (run,) = dict_rows(cli_duckdb.env, "select * from ops.runs")
    assert (run["status"], run["failed_step"], run["models_built"]) == ("failed", "ingest", 0)
