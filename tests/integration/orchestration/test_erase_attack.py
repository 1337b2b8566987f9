"""Adversarial erasures (issue 19): shapes of raw the erasure's author did not plant.

Raw, the snapshot and rejected records are written directly, as dlt and dbt leave them, for
seeded random people; the erasure runs through the CLI with the tiny dbt project. After it, no
byte of the DuckDB file nor dlt's working folder may hold the person's email, names or phone.
The identification steps also run in-process on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingestion import config, suppression
from ingestion import warehouse as wh
from orchestration import erasure, erasure_steps
from tests.support.cli import Cli
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import dict_rows, fresh_env, of_env

SECRET = "erasure-secret-for-tests-a77ac4"
CRM_COLUMNS = (
    "id bigint, email varchar, first_name varchar, last_name varchar, phone varchar, "
    "city varchar, address__line1 varchar, address__city varchar, address__postal_code varchar, "
    "updated_at timestamp, _dlt_load_id varchar, _dlt_id varchar"
)
REJECT_COLUMNS = (
    "source_name varchar, resource_name varchar, location varchar, position bigint, "
    "raw_text varchar, reason varchar, rejected_at timestamp, _dlt_load_id varchar, "
    "_dlt_id varchar"
)
SNAPSHOT_COLUMNS = (
    "customer_id bigint, email_hash varchar, email_domain varchar, city varchar, "
    "updated_at timestamp, dbt_valid_from timestamp, dbt_valid_to timestamp"
)


@dataclass
class Person:
    """Someone no other row resembles: seeded random names, email and phone."""

    customer_id: int
    first: str
    last: str
    email: str
    phone: str
    city: str

    @classmethod
    def drawn(cls, rng: random.Random) -> Person:
        token = "".join(rng.choices("bcdfghjklmnpqrstvwxz", k=8))
        return cls(
            customer_id=rng.randrange(1000, 10**6),
            first=f"Orsolya{token}",
            last=f"Vantablack{token}",
            email=f"O.Vantablack.{token}@Mail{token}.example",
            phone=f"+36 20 {rng.randrange(10**6, 10**7)}",
            city=f"Kecskemet{token}",
        )

    def needles(self) -> list[str]:
        return [self.first, self.last, self.email, self.email.lower(), self.phone, self.city]


def _md5(text: str) -> str:
    return hashlib.md5(text.strip().lower().encode()).hexdigest()


def _plant(env: dict[str, str], sql: list[tuple[str, list[object]]]) -> None:
    """Create raw, rejected records and the snapshot as dlt and dbt leave them; insert ``sql``."""
    warehouse = of_env(env)
    if warehouse.duckdb_path is not None:
        warehouse.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with wh.cursor(warehouse) as cur:
        for schema in ("raw_crm", "raw_crm_staging", "raw_events", "snapshots"):
            wh.create_schema_if_missing(cur, warehouse.kind, schema)
        cur.execute(f"create table if not exists raw_crm.customers ({CRM_COLUMNS})")
        cur.execute(
            "create table if not exists raw_crm.customers__tags (value varchar, "
            "_dlt_root_id varchar, _dlt_parent_id varchar, _dlt_list_idx bigint, _dlt_id varchar)"
        )
        for dataset in ("raw_crm", "raw_events"):
            rejected = f"{dataset}.rejected_records"
            cur.execute(f"create table if not exists {rejected} ({REJECT_COLUMNS})")
        cur.execute(f"create table if not exists snapshots.snap_customers ({SNAPSHOT_COLUMNS})")
        for statement, params in sql:
            cur.execute(wh.placeholders(warehouse, statement), params)


def _crm_row(p: Person, email: str | None = None, dlt_id: str = "d1") -> tuple[str, list[object]]:
    return (
        "insert into raw_crm.customers values (%s, %s, %s, %s, %s, %s, '1 Road', %s, 'PC1', "
        "now(), 'l1', %s)",
        [p.customer_id, email or p.email, p.first, p.last, p.phone, p.city, p.city, dlt_id],
    )


def _reject(dataset: str, position: int, text: str) -> tuple[str, list[object]]:
    return (
        f"insert into {dataset}.rejected_records values ('s', 'r', 'drop/file.jsonl', %s, %s, "
        "'cannot parse', now(), 'l1', %s)",
        [position, text, f"r{position}"],
    )


def _history(p: Person, addresses: list[str]) -> list[tuple[str, list[object]]]:
    """SCD2 versions of ``p`` in the snapshot, one per address (dbt keeps only its md5)."""
    return [
        (
            "insert into snapshots.snap_customers values (%s, %s, %s, %s, now(), now(), null)",
            [p.customer_id, _md5(address), address.split("@")[1], f"{p.city}{n}"],
        )
        for n, address in enumerate(addresses)
    ]


def _rejected_only(p: Person, position: int) -> list[tuple[str, list[object]]]:
    """``p`` only in malformed rows: a JSON line of the CRM's drop and a line of events."""
    line = json.dumps({"id": "not-a-number", "email": p.email, "name": f"{p.first} {p.last}"})
    return [_reject("raw_crm", position, line), _reject("raw_events", position, f"{p.email};x")]


def _hits(cli: Cli, people: list[Person]) -> list[str]:
    """Needles found in the DuckDB file (and its WAL) or anywhere in dlt's working folder."""
    path = Path(cli.env["DUCKDB_PATH"])
    blobs = {p.name: p.read_bytes() for p in path.parent.glob(path.name + "*")}
    for file in Path(cli.env["DLT_DATA_DIR"]).rglob("*"):
        if file.is_file():
            blobs[str(file)] = file.read_bytes()
    return [
        f"{needle} in {name}"
        for person in people
        for needle in person.needles()
        for name, blob in blobs.items()
        if needle.encode() in blob
    ]


def _erase(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("erase", *args, ERASURE_SECRET=SECRET)


def _pending_package(cli: Cli, person: Person) -> None:
    """A load package a killed run left in dlt's working folder, holding ``person``."""
    from ingestion.pipelines import pipelines_dir  # dlt's data dir: DLT_DATA_DIR of the CLI

    folder = Path(cli.env["DLT_DATA_DIR"]) / "pipelines" / pipelines_dir(of_env(cli.env)).name
    job = folder / "crm" / "load" / "normalized" / "1764000000.1" / "new_jobs" / "customers.1.sql"
    job.parent.mkdir(parents=True)
    job.write_text(f"insert into customers values ('{person.email}', '{person.phone}')")


def test_people_raw_holds_in_unexpected_shapes_are_erased_to_the_last_byte(
    cli_duckdb: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(19001)
    only_rejected, versioned, moved, packaged, bystander = (Person.drawn(rng) for _ in range(5))
    former = f"former.{moved.email}"  # the CRM changed the address since; the history has it
    packaged.email = packaged.email.replace(".", "_", 1)  # '_' is a wildcard of SQL's like
    lookalike = packaged.email.replace("_", "x", 1)  # someone else's address, rejected
    _plant(
        cli_duckdb.env,
        [
            *_rejected_only(only_rejected, 1),
            _reject("raw_events", 2, f"{lookalike};y"),
            _crm_row(versioned, dlt_id="d1"),
            ("insert into raw_crm.customers__tags values ('vip', 'd1', 'd1', 0, 't1')", []),
            *_history(versioned, [f"old{n}.{versioned.email}" for n in range(3)]),
            _crm_row(moved, dlt_id="d2"),
            *_history(moved, [former]),
            _crm_row(packaged, dlt_id="d3"),
            _crm_row(bystander, dlt_id="d4"),
            *_history(bystander, [bystander.email]),
        ],
    )
    _pending_package(cli_duckdb, packaged)
    erased = [only_rejected, versioned, moved, packaged]
    assert all(_hits(cli_duckdb, [p]) for p in erased)
    monkeypatch.setenv("ERASURE_SECRET", SECRET)
    for kind, value in [
        ("email", f"\ufeff {only_rejected.email.upper()}\t"),
        ("customer_id", f" {versioned.customer_id} "),
        ("customer_id", str(packaged.customer_id)),
    ]:  # recorded, carried out by the erase below, as a run carries out open requests
        subject = erasure.Subject.of(kind, value)
        erasure.record(of_env(cli_duckdb.env), subject, erasure.erasure_secret(), "test")

    result = _erase(cli_duckdb, "--email", former.upper())
    again = _erase(cli_duckdb, "--customer-id", str(versioned.customer_id))

    assert (result.returncode, again.returncode) == (0, 0), result.stderr[-2000:]
    assert _hits(cli_duckdb, erased) == []
    assert any(bystander.first in hit for hit in _hits(cli_duckdb, [bystander]))
    states = dict_rows(cli_duckdb.env, "select state, attempts from ops.erasure_requests")
    assert sorted((s["state"], s["attempts"]) for s in states) == [("done", 1)] * 5
    history = dict_rows(cli_duckdb.env, "select * from snapshots.snap_customers")
    assert len(history) == 5
    kept = [r for r in history if r["email_hash"] is not None]
    assert [r["customer_id"] for r in kept] == [bystander.customer_id]
    assert dict_rows(cli_duckdb.env, "select * from raw_crm.customers__tags") == []
    kept_rejects = dict_rows(cli_duckdb.env, "select raw_text from raw_events.rejected_records")
    assert kept_rejects == [{"raw_text": f"{lookalike};y"}]
    printed = "".join(r.stdout + r.stderr for r in (result, again)).lower()
    assert not any(n.lower() in printed for p in erased for n in p.needles())


HOLDER = (
    "import sys, time; from pathlib import Path; from ingestion import warehouse; "
    "from orchestration.lock import run_lock\n"
    "with run_lock(warehouse.current(), Path(sys.argv[1]), 'holder-run', 'run'):\n"
    "    print('locked', flush=True); time.sleep(120)\n"
)


def test_an_erasure_refused_by_the_lock_says_it_was_not_recorded(cli_duckdb: Cli) -> None:
    person = Person.drawn(random.Random(19006))
    _plant(cli_duckdb.env, [_crm_row(person)])
    lock_file = Path(cli_duckdb.env["DUCKDB_PATH"]).parent / ".run.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_file)],
        cwd=REPO_ROOT,
        env=cli_duckdb.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        refused = _erase(cli_duckdb, "--email", person.email)
    finally:
        holder.kill()
        holder.wait()

    assert refused.returncode == 3
    assert "not recorded" in refused.stderr and "again" in refused.stderr
    assert person.email.lower() not in (refused.stdout + refused.stderr).lower()
    assert erasure.requests(of_env(cli_duckdb.env)) == []


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    server = request.getfixturevalue("postgres") if request.param == "postgres" else None
    return fresh_env(request.param, tmp_path, server)


def test_identification_finds_rejected_only_and_former_address_subjects(
    warehouse_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(19008)
    only_rejected, moved, bystander = (Person.drawn(rng) for _ in range(3))
    former = f"former.{moved.email}"
    _plant(
        warehouse_env,
        [
            *_rejected_only(only_rejected, 1),
            _crm_row(moved, dlt_id="d2"),
            *_history(moved, [former]),
            _crm_row(bystander, dlt_id="d4"),
        ],
    )
    monkeypatch.setenv("ERASURE_SECRET", SECRET)
    key = erasure.erasure_secret()
    subjects = {"r1": ("email", only_rejected.email.title()), "r2": ("email", former)}
    pending = [
        {"request_id": r, "subject_hash": erasure.subject_hash(erasure.Subject.of(*s), key)}
        for r, s in subjects.items()
    ]

    requested = erasure_steps.Person("r2", pending[1]["subject_hash"])
    erasure_steps.remember_former(of_env(warehouse_env), key, requested, former)  # as erase does

    people = erasure_steps.resolve(of_env(warehouse_env), key, pending)

    assert (people[0].ids, people[0].emails) == (set(), {only_rejected.email.lower()})
    assert {r[0] for r in people[0].rejected} == {"raw_crm", "raw_events"}
    assert (people[1].ids, people[1].emails) == ({moved.customer_id}, {moved.email.lower()})
    assert people[1].phones == {moved.phone}


def test_a_person_erased_before_being_loaded_stays_suppressed_when_the_crm_changes_address(
    warehouse_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(19007)
    person, bystander = Person.drawn(rng), Person.drawn(rng)
    monkeypatch.setenv("ERASURE_SECRET", SECRET)
    key = erasure.erasure_secret()
    requested = erasure_steps.Person(
        "r1", erasure.subject_hash(erasure.Subject.of("email", person.email), key)
    )
    placeholder = suppression.placeholder_email(person.customer_id)  # as the CRM served them
    _plant(warehouse_env, [_crm_row(person, email=placeholder), _crm_row(bystander)])
    with wh.cursor(of_env(warehouse_env)) as cur:  # erased by address before being loaded
        erasure_steps.record_suppressions(cur, of_env(warehouse_env), key, [requested])
    crm = config.load()["crm"]
    table = crm.personal_data["customers"]

    listed = suppression.listed(of_env(warehouse_env), [crm])

    assert listed is not None
    moved = {"id": person.customer_id, "email": f"new.{person.email}", "phone": person.phone}
    assert listed.names(moved, table)  # the CRM now serves a new address for the same id
    assert not listed.names({"id": bystander.customer_id, "email": bystander.email}, table)


def test_a_retried_request_by_a_former_address_still_finds_the_person(
    warehouse_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = Person.drawn(random.Random(19009))
    former = f"former.{moved.email}"
    _plant(warehouse_env, [_crm_row(moved), *_history(moved, [former])])
    monkeypatch.setenv("ERASURE_SECRET", SECRET)
    key = erasure.erasure_secret()
    hashed = erasure.subject_hash(erasure.Subject.of("email", former), key)
    requested = erasure_steps.Person("r1", hashed)
    erasure_steps.remember_former(of_env(warehouse_env), key, requested, former)  # as erase does

    (person,) = erasure_steps.resolve(  # a retry: the address is gone, its hashes are listed
        of_env(warehouse_env), key, [{"request_id": "r1", "subject_hash": hashed}]
    )

    assert person.ids == {moved.customer_id}
    assert person.emails == {moved.email.lower()}


def test_a_source_whose_customer_ids_are_text_is_erased_without_printing_them(
    warehouse_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(19010)
    person, other = Person.drawn(rng), Person.drawn(rng)
    text_ids = CRM_COLUMNS.replace("id bigint", "id varchar")
    with wh.cursor(of_env(warehouse_env)) as cur:
        wh.create_schema_if_missing(cur, warehouse_env["WAREHOUSE"], "raw_crm")
        cur.execute(f"create table raw_crm.customers ({text_ids})")
    person.customer_id, other.customer_id = f"CUST-{person.first}", "CUST-2"  # type: ignore[assignment]
    _plant(warehouse_env, [_crm_row(person), _crm_row(other, dlt_id="d2")])
    monkeypatch.setenv("ERASURE_SECRET", SECRET)
    key = erasure.erasure_secret()
    hashed = erasure.subject_hash(erasure.Subject.of("email", person.email), key)
    warehouse = of_env(warehouse_env)

    people = erasure_steps.resolve(warehouse, key, [{"request_id": "r1", "subject_hash": hashed}])
    with wh.cursor(warehouse) as cur:
        erasure_steps.record_suppressions(cur, warehouse, key, people)
        erasure_steps.redact_in_place(cur, warehouse, people)

    rows = dict_rows(warehouse_env, "select id, email, first_name from raw_crm.customers")
    assert sorted((r["id"], r["email"], r["first_name"]) for r in rows) == [
        ("CUST-2", other.email, other.first),
        (person.customer_id, f"erased-{person.customer_id}@erased.invalid", None),
    ]
    crm = config.load()["crm"]
    listed = suppression.listed(warehouse, [crm])
    assert listed is not None
    moved = {"id": person.customer_id, "email": "new@x.example"}
    assert listed.names(moved, crm.personal_data["customers"])
