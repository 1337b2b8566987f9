"""Adversarial erasures on DuckDB (issue 19): shapes of raw the erasure's author did not plant.

Raw, the snapshot and rejected records are written directly, as dlt and dbt leave them, for
seeded random people; the erasure runs through the CLI with the tiny dbt project (seconds).
After it, no byte of the DuckDB file nor dlt's working folder may hold the person's email,
names or phone.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.support.cli import Cli
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import dict_rows, of_env

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
    path = Path(env["DUCKDB_PATH"])
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(path))
    try:
        for schema in ("raw_crm", "raw_crm_staging", "raw_events", "snapshots"):
            conn.execute(f"create schema if not exists {schema}")
        conn.execute(f"create table if not exists raw_crm.customers ({CRM_COLUMNS})")
        conn.execute(
            "create table if not exists raw_crm.customers__tags (value varchar, "
            "_dlt_root_id varchar, _dlt_parent_id varchar, _dlt_list_idx bigint, _dlt_id varchar)"
        )
        for dataset in ("raw_crm", "raw_events"):
            conn.execute(
                f"create table if not exists {dataset}.rejected_records ({REJECT_COLUMNS})"
            )
        conn.execute(f"create table if not exists snapshots.snap_customers ({SNAPSHOT_COLUMNS})")
        for statement, params in sql:
            conn.execute(statement, params)
    finally:
        conn.close()


def _crm_row(p: Person, email: str | None = None, dlt_id: str = "d1") -> tuple[str, list[object]]:
    return (
        "insert into raw_crm.customers values (?, ?, ?, ?, ?, ?, '1 Road', ?, 'PC1', "
        "now(), 'l1', ?)",
        [p.customer_id, email or p.email, p.first, p.last, p.phone, p.city, p.city, dlt_id],
    )


def _reject(dataset: str, position: int, text: str) -> tuple[str, list[object]]:
    return (
        f"insert into {dataset}.rejected_records values ('s', 'r', 'drop/file.jsonl', ?, ?, "
        "'cannot parse', now(), 'l1', ?)",
        [position, text, f"r{position}"],
    )


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


def test_a_person_known_only_from_rejected_records_is_erased_by_email(cli_duckdb: Cli) -> None:
    rng = random.Random(19001)
    people = [Person.drawn(rng) for _ in range(3)]
    rows = [_crm_row(people[2])]  # a loaded bystander, untouched
    for i, p in enumerate(people[:2]):
        line = json.dumps({"id": "not-a-number", "email": p.email, "name": f"{p.first} {p.last}"})
        rows += [_reject("raw_crm", 2 * i, line), _reject("raw_events", 2 * i + 1, f"{p.email};x")]
    _plant(cli_duckdb.env, rows)
    assert len(_hits(cli_duckdb, people[:2])) > 0

    results = [_erase(cli_duckdb, "--email", f"  {p.email.upper()} ") for p in people[:2]]

    assert [r.returncode for r in results] == [0, 0], results[0].stderr[-2000:]
    assert _hits(cli_duckdb, people[:2]) == []
    assert len(_hits(cli_duckdb, people[2:])) > 0  # the bystander is still there
    for r in results:
        assert not any(n.lower() in (r.stdout + r.stderr).lower() for n in people[0].needles())


def test_erasure_by_id_redacts_every_version_of_the_snapshot_history(cli_duckdb: Cli) -> None:
    rng = random.Random(19002)
    person, bystander = Person.drawn(rng), Person.drawn(rng)
    olds = [f"old{n}.{person.email}" for n in range(3)]
    rows = [_crm_row(person), _crm_row(bystander, dlt_id="d2")]
    rows.append(("insert into raw_crm.customers__tags values ('vip', 'd1', 'd1', 0, 't1')", []))
    for n, old in enumerate([*olds, person.email]):
        rows.append(
            (
                "insert into snapshots.snap_customers values (?, ?, ?, ?, now(), now(), null)",
                [person.customer_id, _md5(old), old.split("@")[1], f"{person.city}{n}"],
            )
        )
    _plant(cli_duckdb.env, rows)

    result = _erase(cli_duckdb, "--customer-id", str(person.customer_id))

    assert result.returncode == 0, result.stderr[-2000:]
    assert _hits(cli_duckdb, [person]) == []
    history = dict_rows(
        cli_duckdb.env,
        f"select * from snapshots.snap_customers where customer_id = {person.customer_id}",
    )
    assert len(history) == 4
    assert all(r["email_hash"] is None and r["city"] is None for r in history)
    assert dict_rows(cli_duckdb.env, "select * from raw_crm.customers__tags") == []
    assert len(_hits(cli_duckdb, [bystander])) > 0


def test_an_erasure_by_an_address_only_the_snapshot_history_knows_finds_the_person(
    cli_duckdb: Cli,
) -> None:
    rng = random.Random(19003)
    person = Person.drawn(rng)
    old = f"former.{person.email}"  # the CRM has changed the address since
    _plant(
        cli_duckdb.env,
        [
            _crm_row(person),
            (
                "insert into snapshots.snap_customers values (?, ?, 'x.example', null, now(), "
                "now(), now())",
                [person.customer_id, _md5(old)],
            ),
        ],
    )

    result = _erase(cli_duckdb, "--email", old)

    assert result.returncode == 0, result.stderr[-2000:]
    assert _hits(cli_duckdb, [person]) == []


def test_two_erasures_in_a_row_and_a_repeat_are_each_done_once(cli_duckdb: Cli) -> None:
    rng = random.Random(19004)
    people = [Person.drawn(rng) for _ in range(2)]
    _plant(cli_duckdb.env, [_crm_row(p, dlt_id=f"d{i}") for i, p in enumerate(people)])

    runs = [
        _erase(cli_duckdb, "--email", people[0].email),
        _erase(cli_duckdb, "--customer-id", str(people[0].customer_id)),  # the same person
        _erase(cli_duckdb, "--email", people[1].email.swapcase()),
        _erase(cli_duckdb, "--email", people[1].email),  # already erased: finds nobody, done
    ]

    assert [r.returncode for r in runs] == [0, 0, 0, 0], [r.stderr[-800:] for r in runs]
    states = dict_rows(cli_duckdb.env, "select state, attempts from ops.erasure_requests")
    assert [(s["state"], s["attempts"]) for s in states] == [("done", 1)] * 4
    assert _hits(cli_duckdb, people) == []
    emails = dict_rows(cli_duckdb.env, "select id, email from raw_crm.customers order by id")
    assert all(e["email"] == f"erased-{e['id']}@erased.invalid" for e in emails)


def test_a_pending_dlt_package_holding_the_person_is_deleted(cli_duckdb: Cli) -> None:
    from ingestion.pipelines import pipelines_dir  # reads DLT_DATA_DIR through dlt's context

    person = Person.drawn(random.Random(19005))
    _plant(cli_duckdb.env, [_crm_row(person)])
    wh = of_env(cli_duckdb.env)
    fingerprint = pipelines_dir(wh).name
    package = Path(cli_duckdb.env["DLT_DATA_DIR"]) / "pipelines" / fingerprint / "crm" / "load"
    pending = package / "normalized" / "1764000000.1" / "new_jobs" / "customers.1.insert_values"
    pending.parent.mkdir(parents=True)
    pending.write_text(f"insert into customers values ('{person.email}', '{person.phone}')")

    result = _erase(cli_duckdb, "--customer-id", str(person.customer_id))

    assert result.returncode == 0, result.stderr[-2000:]
    assert _hits(cli_duckdb, [person]) == []


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
    retried = _erase(cli_duckdb, "--email", person.email)

    assert refused.returncode == 3
    assert "not recorded" in refused.stderr and "again" in refused.stderr
    assert person.email.lower() not in (refused.stdout + refused.stderr).lower()
    assert retried.returncode == 0, retried.stderr[-2000:]
    assert _hits(cli_duckdb, [person]) == []


def test_a_person_erased_before_being_loaded_stays_suppressed_when_the_crm_changes_address(
    cli_duckdb: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingestion import config, suppression

    rng = random.Random(19007)
    person, bystander = Person.drawn(rng), Person.drawn(rng)
    assert _erase(cli_duckdb, "--email", person.email).returncode == 0  # nobody loaded yet
    placeholder = suppression.placeholder_email(person.customer_id)
    _plant(cli_duckdb.env, [_crm_row(person, email=placeholder), _crm_row(bystander)])
    monkeypatch.setenv("ERASURE_SECRET", SECRET)  # as the CRM served it: landed redacted
    crm = config.load()["crm"]
    table = crm.personal_data["customers"]

    listed = suppression.listed(of_env(cli_duckdb.env), [crm])

    assert listed is not None
    moved = {"id": person.customer_id, "email": f"new.{person.email}", "phone": person.phone}
    assert listed.names(moved, table)  # the CRM now serves a new address for the same id
    assert not listed.names({"id": bystander.customer_id, "email": bystander.email}, table)
