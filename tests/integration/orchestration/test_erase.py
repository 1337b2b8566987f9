"""``erase`` records a request in the ledger with a keyed hash of the subject, never the PII.

Carrying the erasure out is not built yet (docs/adr/0008-erasure.md): the request stays
``pending``, ``erase`` says so and exits 1, and ``status`` lists it.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from tests.support.cli import Cli, cli_env
from tests.support.warehouse import dict_rows, fresh_env, query

EMAIL = "Ada.Lovelace@Example.org"
SECRET = "erasure-secret-for-tests-3c9e1f"


@pytest.fixture(params=["duckdb", "postgres"])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Cli:
    server = request.getfixturevalue("postgres") if request.param == "postgres" else None
    env = cli_env(tmp_path)
    env.update(fresh_env(request.param, tmp_path, server))
    env.pop("ERASURE_SECRET", None)
    return Cli(env)


def _hmac(message: str) -> str:
    return hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_an_erasure_request_is_recorded_hashed_and_listed_as_pending(cli: Cli) -> None:
    unkeyed = cli("erase", "--email", EMAIL)
    assert unkeyed.returncode == 2
    assert "ERASURE_SECRET" in unkeyed.stderr

    by_email = cli("erase", "--email", EMAIL, "--requested-by", "dpo", ERASURE_SECRET=SECRET)
    by_id = cli("erase", "--customer-id", "42", ERASURE_SECRET=SECRET)
    status = cli("status")

    for proc in (by_email, by_id):
        assert proc.returncode == 1, proc.stderr[-2000:]
        assert "pending, NOT carried out" in proc.stderr
    rows = dict_rows(cli.env, "select * from ops.erasure_requests order by subject_kind")
    assert [(r["subject_kind"], r["state"], r["attempts"]) for r in rows] == [
        ("customer_id", "pending", 0),
        ("email", "pending", 0),
    ]
    assert rows[0]["subject_hash"] == _hmac("customer_id:42")
    assert rows[1]["subject_hash"] == _hmac("email:ada.lovelace@example.org")
    assert rows[1]["requested_by"] == "dpo"
    ledger_text = repr(query(cli.env, "select * from ops.erasure_requests")).lower()
    outputs = (by_email.stdout + by_email.stderr + status.stdout + status.stderr).lower()
    for secret_or_pii in (EMAIL.lower(), "lovelace", SECRET):
        assert secret_or_pii not in ledger_text
        assert secret_or_pii not in outputs
    assert status.returncode == 0, status.stderr
    listed = " ".join(status.stdout.split())
    assert "Erasure requests" in listed and listed.count("pending") == 2, status.stdout


def test_erase_names_exactly_one_subject(cli: Cli) -> None:
    both = cli("erase", "--email", EMAIL, "--customer-id", "1", ERASURE_SECRET=SECRET)
    neither = cli("erase", ERASURE_SECRET=SECRET)
    not_an_id = cli("erase", "--customer-id", "ada", ERASURE_SECRET=SECRET)
    assert (both.returncode, neither.returncode, not_an_id.returncode) == (2, 2, 2)
    assert "ada" not in not_an_id.stderr.replace("--customer-id", "")
