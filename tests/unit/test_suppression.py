"""The load-time suppression list: an erased person's rows land redacted, others untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from ingestion import config, suppression

KEY = b"unit-test-erasure-key-0123"
CRM = config.PersonalTable(
    customer_id="id",
    email="email",
    redact=["email", "first_name", "phone", "address__line1"],
    nested=["tags"],
)


def _listed(*identifiers: tuple[str, object]) -> suppression.Suppressions:
    hashes = frozenset(suppression.keyed_hash(KEY, kind, value) for kind, value in identifiers)
    return suppression.Suppressions(KEY, hashes)


def _row(customer_id: int, email: str) -> dict[str, object]:
    return {
        "id": customer_id,
        "email": email,
        "first_name": "Ada",
        "phone": "+44 1",
        "country_code": "GB",
        "address": {"line1": "1 Road", "city": "London"},
        "tags": ["vip"],
    }


def test_a_row_named_by_its_email_in_any_case_is_redacted_with_its_nested_fields() -> None:
    listed = _listed(("email", "ada@example.org"))

    row = listed.redacted(_row(7, "  Ada@Example.ORG "), CRM)

    assert row["email"] == "erased-7@erased.invalid"
    assert (row["first_name"], row["phone"], row["tags"]) == (None, None, [])
    assert row["address"] == {"line1": None, "city": "London"}  # only the declared field
    assert row["country_code"] == "GB"


def test_a_row_named_by_its_customer_id_is_redacted_and_others_pass_unchanged() -> None:
    listed = _listed(("customer_id", 7))

    erased = listed.redacted(_row(7, "new-address@example.org"), CRM)
    other = listed.redacted(_row(8, "bob@example.org"), CRM)

    assert erased["email"] == "erased-7@erased.invalid" and erased["first_name"] is None
    assert other == _row(8, "bob@example.org")


def test_an_arrow_batch_is_redacted_row_by_row() -> None:
    listed = _listed(("customer_id", 2))
    table = pa.table(
        {"id": [1, 2, 3], "email": ["a@x.org", "b@x.org", "c@x.org"], "phone": ["1", "2", "3"]}
    )

    out = listed.redacted(table, CRM)

    assert out.column("email").to_pylist() == ["a@x.org", "erased-2@erased.invalid", "c@x.org"]
    assert out.column("phone").to_pylist() == ["1", None, "3"]


def test_the_hash_is_keyed_and_normalised() -> None:
    assert suppression.keyed_hash(KEY, "email", " A@B.org") == suppression.keyed_hash(
        KEY, "email", "a@b.org"
    )
    assert suppression.keyed_hash(KEY, "email", "a@b.org") != suppression.keyed_hash(
        b"another-key-of-16-chars", "email", "a@b.org"
    )


def test_personal_data_is_checked_with_the_sources_file() -> None:
    problems = config.problems(
        config.Declaration, {"type": "rest_api", "personal_data": {"t": {"redact": ["x"]}}}, "crm"
    )
    assert problems == ["crm.personal_data.t.customer_id: required key is missing"]
    crm = config.load()["crm"]
    assert crm.personal_data["customers"].email == "email"


@pytest.mark.parametrize("value", ["", "short"])
def test_no_key_means_no_suppression_can_be_matched(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(suppression.SECRET_ENV, value)
    assert suppression.secret() is None


def test_the_key_may_live_in_dlt_secrets_toml(tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "secrets.toml").write_text('erasure_secret = "from-secrets-toml-0123"\n')
    env = {k: v for k, v in os.environ.items() if k != suppression.SECRET_ENV}
    probe = "from ingestion import suppression; print(suppression.secret().decode())"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "from-secrets-toml-0123"
