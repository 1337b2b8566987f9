"""Pure logic of the run script: backoff, retries, settings, payloads, dbt outcomes, redaction,
the lock file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ingestion.redact import redact
from ingestion.results import TableCounts
from orchestration import alerts, settings
from orchestration.dbt_step import DbtOutcome, build_args
from orchestration.lock import LockHeld, file_lock
from orchestration.retry import Attempt, backoff_delays, with_retries
from orchestration.summary import NodeResult, RunRecord


def test_backoff_doubles_after_the_first_wait() -> None:
    assert backoff_delays(3, 5.0) == [5.0, 10.0, 20.0]
    assert backoff_delays(0, 5.0) == []


def test_retries_stop_at_the_first_success_and_wait_the_backoff_between() -> None:
    waits: list[float] = []
    outcomes = iter([Attempt(None, "boom"), Attempt(None, "boom again"), Attempt("done")])

    last, count = with_retries("step", lambda n: next(outcomes), 3, 1.5, sleep=waits.append)

    assert (last.value, count) == ("done", 3)
    assert waits == [1.5, 3.0]


def test_a_non_retryable_failure_is_not_retried() -> None:
    waits: list[float] = []

    last, count = with_retries(
        "step", lambda n: Attempt(None, "tests failed", retryable=False), 5, 1, sleep=waits.append
    )

    assert (last.ok, count, waits) == (False, 1, [])


def test_settings_come_from_the_environment_and_flags_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORCHESTRATION__RETRIES", "4")
    monkeypatch.setenv("ORCHESTRATION__BACKOFF_S", "2.5")
    monkeypatch.setenv("ORCHESTRATION__ALERT_WEBHOOK_URL", "http://127.0.0.1:1/hook")

    from_env = settings.load()
    from_flags = settings.load(retries=1, backoff_s=0)

    assert (from_env.retries, from_env.backoff_s) == (4, 2.5)
    assert from_env.alert_webhook_url == "http://127.0.0.1:1/hook"
    assert (from_flags.retries, from_flags.backoff_s) == (1, 0.0)


def _node(resource_type: str, status: str) -> NodeResult:
    return NodeResult(f"{resource_type}.p.x_{status}", resource_type, "x", status, 0.1)


def test_failed_data_tests_and_model_errors_are_not_worth_retrying_a_lost_connection_is() -> None:
    tests_only = DbtOutcome(False, "i", [_node("model", "success"), _node("test", "fail")])
    model_error = DbtOutcome(False, "i", [_node("model", "error"), _node("test", "pass")])
    no_results = DbtOutcome(False, None, [], error="profile not found")
    lost = _node("model", "error")
    lost.message = "Database Error in model x\n  server closed the connection unexpectedly"
    connection_lost = DbtOutcome(False, "i", [lost, _node("test", "pass")])

    assert not tests_only.retryable
    assert not model_error.retryable
    assert not no_results.retryable
    assert connection_lost.retryable
    assert (tests_only.models_built, tests_only.tests_failed) == (1, 1)


def test_build_args_pass_selection_full_refresh_and_vars(tmp_path) -> None:
    (tmp_path / "profiles.yml").write_text("x: 1\n")

    args = build_args("tag:a +b", True, {"start_date": "2026-11-01"}, tmp_path)

    assert args[:1] == ["build"]
    assert args[args.index("--select") + 1 : args.index("--select") + 3] == ["tag:a", "+b"]
    assert "--full-refresh" in args
    assert args[args.index("--vars") + 1] == '{"start_date": "2026-11-01"}'
    assert args[args.index("--exclude-resource-type") + 1] == "unit_test"  # CI runs them


def test_alert_payload_is_slack_compatible_and_names_the_failed_step() -> None:
    run = RunRecord("r1", "run", "duckdb", "h", 1, {}, status="failed")
    run.failed_step, run.error = "ingest", "HTTP 500 from the CRM"
    run.tables["raw_crm.customers"] = TableCounts(loaded=5, rejected=2)

    payload = alerts.build_payload(run, "warehouse/analytics.duckdb")

    assert payload["text"].endswith("r1: failed at step ingest")
    assert all(block["type"] == "section" for block in payload["blocks"])
    body = str(payload["blocks"])
    assert "Rows loaded:* 5" in body and "rejected:* 2" in body and "HTTP 500" in body


def test_redact_masks_url_credentials_bearer_tokens_and_password_settings() -> None:
    text = (
        "postgresql://loader:hunter22@db:5432/x failed; Authorization: Bearer abcdefgh12345678; "
        "password=s3cr3t! token: tkn-0001"
    )

    cleaned = redact(text)

    for secret in ("hunter22", "abcdefgh12345678", "s3cr3t!", "tkn-0001"):
        assert secret not in cleaned
    assert "postgresql://***@db:5432/x" in cleaned


def test_lock_of_another_host_is_never_taken_over(tmp_path: Path) -> None:
    lock_file = tmp_path / ".run.lock"
    lock_file.write_text(
        json.dumps({"pid": 1, "host": "elsewhere", "run_id": "r1", "command": "run",
                    "started_at": "2026-11-01T00:00:00+00:00"})
    )  # fmt: skip

    with (
        pytest.raises(LockHeld, match=r"on elsewhere.*delete .*\.run\.lock"),
        file_lock(lock_file, "r2", "run"),
    ):
        pass
    assert json.loads(lock_file.read_text())["run_id"] == "r1"


def test_lock_is_released_after_the_block_even_when_it_raises(tmp_path: Path) -> None:
    lock_file = tmp_path / ".run.lock"

    with pytest.raises(RuntimeError), file_lock(lock_file, "r1", "run"):
        assert json.loads(lock_file.read_text())["run_id"] == "r1"
        raise RuntimeError("boom")

    assert not lock_file.exists()


def test_full_history_tests_is_a_dbt_var_of_the_build() -> None:
    from orchestration.cli import build_parser, request_from_args

    parser = build_parser()
    weekly = request_from_args(parser.parse_args(["build", "--full-history-tests"]))
    daily = request_from_args(parser.parse_args(["build"]))

    assert weekly.dbt_vars == {"full_history_tests": True} and weekly.skip_ingest
    assert not daily.dbt_vars


def test_reload_needs_its_own_flag_and_yes_alone_is_refused() -> None:
    from orchestration.cli import build_parser, request_from_args

    parser = build_parser()
    full = request_from_args(parser.parse_args(["run", "--full-refresh"]))
    dry = request_from_args(parser.parse_args(["ingest", "--reload"]))
    confirmed = request_from_args(parser.parse_args(["run", "--reload", "--yes"]))

    assert (full.full_refresh, full.reload, full.confirmed) == (True, False, False)
    assert (dry.reload, dry.confirmed, dry.skip_dbt) == (True, False, True)
    assert (confirmed.reload, confirmed.confirmed) == (True, True)
    assert confirmed.as_args()["reload"] and confirmed.as_args()["confirmed"]
    with pytest.raises(argparse.ArgumentTypeError, match="--yes confirms --reload"):
        request_from_args(parser.parse_args(["run", "--yes"]))
