"""Pure logic of privacy and access: TLS settings per login, regional readers, subject hashes."""

from __future__ import annotations

import csv

import pytest

from ingestion import pg_tls, warehouse
from orchestration import erasure, regional
from tests.support.paths import REPO_ROOT

TLS = {
    "PGSSLMODE": "verify-full",
    "PGSSLROOTCERT": "/ca.crt",
    "PGSSLCERT": "/admin.crt",
    "PGSSLKEY": "/admin.key",
}


def test_each_role_presents_its_own_client_certificate_and_shares_the_ca(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in {**TLS, "LOADER_PGSSLCERT": "/loader.crt"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WAREHOUSE", "postgres")

    loader = warehouse.current(warehouse.LOADER)
    dbt = warehouse.current(warehouse.TRANSFORMER)

    assert warehouse.tls_params(loader) == {
        "sslmode": "verify-full",
        "sslrootcert": "/ca.crt",
        "sslcert": "/loader.crt",
        "sslkey": "/admin.key",
    }
    assert warehouse.tls_params(dbt)["sslcert"] == "/admin.crt"
    assert loader.describe().endswith("(sslmode=verify-full)")


def test_no_tls_variables_leave_libpq_its_defaults() -> None:
    assert pg_tls.settings(env={"PGSSLMODE": "", "PGHOST": "h"}) == {}


def test_reader_regions_name_one_role_per_region_and_refuse_unknown_codes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("READER_REGIONS", " eu, APAC,EU ")
    monkeypatch.setenv("READER_APAC_PGUSER", "asia_team")

    readers = regional.from_env(REPO_ROOT, "reader")

    assert [(r.name, r.region, r.password_env) for r in readers] == [
        ("reader_eu", "Europe", "READER_EU_PGPASSWORD"),
        ("asia_team", "Asia Pacific", "READER_APAC_PGPASSWORD"),
    ]
    monkeypatch.setenv("READER_REGIONS", "EU,MARS")
    with pytest.raises(ValueError, match=r"unknown region \['MARS'\]"):
        regional.from_env(REPO_ROOT, "reader")


def test_a_subject_hash_depends_on_the_key_and_the_normalised_identifier() -> None:
    one = erasure.Subject.of("email", "  Ada@Example.ORG ")
    assert one == erasure.Subject.of("email", "ada@example.org")
    first = erasure.subject_hash(one, b"k" * 16)
    assert first == erasure.subject_hash(erasure.Subject.of("email", "ADA@example.org"), b"k" * 16)
    assert first != erasure.subject_hash(one, b"j" * 16)
    assert "ada" not in first
    with pytest.raises(erasure.ErasureConfigError, match="value hidden"):
        erasure.Subject.of("email", "ada-at-example")


def test_every_country_belongs_to_a_listed_sales_region() -> None:
    seeds = REPO_ROOT / "dbt_project" / "seeds"
    with (seeds / "country_codes.csv").open(newline="") as countries:
        used = {row["region"] for row in csv.DictReader(countries)}
    listed = set(regional.sales_regions(REPO_ROOT).values())
    assert used and not used - listed, sorted(used - listed)
