"""``erase`` records a request with a keyed hash of the subject, never the PII, and carries it out.

These tests use the tiny dbt project on an empty warehouse (seconds); the erasure of a real
person across every layer is ``test_erase_everywhere.py``.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from tests.support.cli import Cli, cli_env
from tests.support.dbt import tiny_project
from tests.support.warehouse import dict_rows, fresh_env, query

EMAIL = "Ada.Lovelace@Example.org"
SECRET = "erasure-secret-for-tests-3c9e1f"


@pytest.fixture(params=["duckdb", "postgres"])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Cli:
    server = request.getfixturevalue("postgres") if request.param == "postgres" else None
    project = tiny_project(tmp_path / "tiny_dbt")
    env = cli_env(tmp_path)
    env.update(fresh_env(request.param, tmp_path, server))
    env.update({"DBT_PROJECT_DIR": str(project), "DBT_PROFILES_DIR": str(project)})
    env.pop("ERASURE_SECRET", None)
    return Cli(env)


def _hmac(message: str) -> str:
    return hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_an_erasure_request_is_recorded_hashed_carried_out_and_listed(cli: Cli) -> None:
    unkeyed = cli("erase", "--email", EMAIL)
    assert unkeyed.returncode == 2
    assert "ERASURE_SECRET" in unkeyed.stderr

    by_email = cli(  # `--email -`: the address from stdin, out of `ps` and shell history
        "erase", "--email", "-", "--requested-by", "dpo", stdin=f"{EMAIL}\n", ERASURE_SECRET=SECRET
    )
    by_id = cli("erase", "--customer-id", "42", ERASURE_SECRET=SECRET)
    status = cli("status")

    for proc in (by_email, by_id):
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "erasure carried out" in proc.stderr
    rows = dict_rows(cli.env, "select * from ops.erasure_requests order by subject_kind")
    assert [(r["subject_kind"], r["state"], r["attempts"]) for r in rows] == [
        ("customer_id", "done", 1),
        ("email", "done", 1),
    ]
    assert rows[0]["subject_hash"] == _hmac("customer_id:42")
    assert rows[1]["subject_hash"] == _hmac("email:ada.lovelace@example.org")
    assert rows[1]["requested_by"] == "dpo"
    suppressed = {r[0] for r in query(cli.env, "select subject_hash from ops.erasure_suppressions")}
    assert suppressed == {_hmac("customer_id:42"), _hmac("email:ada.lovelace@example.org")}
    ledger_text = repr(query(cli.env, "select * from ops.erasure_requests")).lower()
    outputs = (by_email.stdout + by_email.stderr + status.stdout + status.stderr).lower()
    for secret_or_pii in (EMAIL.lower(), "lovelace", SECRET):
        assert secret_or_pii not in ledger_text
        assert secret_or_pii not in outputs
    assert status.returncode == 0, status.stderr
    listed = " ".join(status.stdout.split())
    assert "Erasure requests" in listed and listed.count("done") == 2, status.stdout


def test_an_erasure_that_fails_says_so_and_the_next_run_carries_it_out(
    cli: Cli, tmp_path: Path
) -> None:
    broken = tmp_path / "sources.yml"
    broken.write_text("crm: {type: rest_api, personal_data: {customers: {email: email}}}\n")
    failed = cli("erase", "--customer-id", "7", ERASURE_SECRET=SECRET,
                 INGESTION_SOURCES=str(broken))  # fmt: skip
    (after_failure,) = dict_rows(
        cli.env, "select state, attempts, last_error from ops.erasure_requests"
    )
    unkeyed_run = cli("build")
    retried = cli("build", ERASURE_SECRET=SECRET)

    assert failed.returncode == 1
    assert "erasure NOT complete" in failed.stderr and "customer_id" in failed.stderr
    assert (after_failure["state"], after_failure["attempts"]) == ("failed", 1)
    assert "customer_id" in after_failure["last_error"]
    assert unkeyed_run.returncode == 1  # open requests and no key: nothing runs
    assert "erasure" in unkeyed_run.stderr and "ERASURE_SECRET" in unkeyed_run.stderr
    assert retried.returncode == 0, retried.stderr[-2000:]
    (row,) = dict_rows(cli.env, "select state, attempts, last_error from ops.erasure_requests")
    assert (row["state"], row["attempts"], row["last_error"]) == ("done", 2, None)
    steps = dict_rows(cli.env, "select step, status from ops.run_steps where step = 'erasure'")
    assert {(s["step"], s["status"]) for s in steps} == {
        ("erasure", "failed"),
        ("erasure", "success"),
    }


def test_erase_names_exactly_one_subject(cli: Cli) -> None:
    both = cli("erase", "--email", EMAIL, "--customer-id", "1", ERASURE_SECRET=SECRET)
    neither = cli("erase", ERASURE_SECRET=SECRET)
    not_an_id = cli("erase", "--customer-id", "ada", ERASURE_SECRET=SECRET)
    assert (both.returncode, neither.returncode, not_an_id.returncode) == (2, 2, 2)
    assert "ada" not in not_an_id.stderr.replace("--customer-id", "")
