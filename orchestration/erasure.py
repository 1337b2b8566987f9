"""``python -m orchestration erase``: record an erasure request and carry it out (ADR 0008).

A request names its subject by customer id or email; the ledger (``ops.erasure_requests``)
keeps only a keyed hash of it (HMAC-SHA256 under ``ERASURE_SECRET``), the time, who asked and
the state, never the personal data. Carrying it out, under the run lock: find the person in raw
and list every identifier's hash for the loaders (``ingestion/suppression.py``), redact raw,
dlt's copies and the snapshot (``erasure_steps.py``), delete dbt's and dlt's local files,
rebuild the models, then remove the bytes below SQL (``erasure_physical.py``). A request that
fails is marked ``failed`` (exit 1) and retried by the next ``run`` before it loads.
"""

from __future__ import annotations

import getpass
import logging
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ingestion import suppression
from ingestion import warehouse as wh
from ingestion.redact import redact
from orchestration import erasure_physical, erasure_steps, settings
from orchestration.ledger import SCHEMA
from orchestration.lock import LockHeld, run_lock
from orchestration.summary import utcnow

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_NOT_DONE = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 3

SECRET_ENV = suppression.SECRET_ENV
MIN_SECRET_CHARS = suppression.MIN_SECRET_CHARS
KINDS = ("customer_id", "email")
PENDING = "pending"
DONE = "done"
FAILED = "failed"
TABLE = f"{SCHEMA}.erasure_requests"
DDL = f"""create table if not exists {TABLE} (
    request_id varchar(64) primary key,
    subject_kind varchar(16) not null,
    subject_hash varchar(64) not null,
    requested_at timestamp not null,
    requested_by varchar(255) not null,
    state varchar(16) not null,
    attempts integer not null,
    last_error text,
    completed_at timestamp
)"""


class ErasureConfigError(ValueError):
    """The erasure key is missing or too short, or the subject is not valid."""


@dataclass(frozen=True)
class Subject:
    """Who is to be erased: the kind of identifier and its normalised value (never stored)."""

    kind: str
    value: str = field(repr=False)

    @classmethod
    def of(cls, kind: str, raw: str) -> Subject:
        """Normalise as the suppression list does (``suppression.normalised``)."""
        if kind == "email":
            value = suppression.normalised("email", raw)
            if "@" not in value:
                raise ErasureConfigError("--email: not an email address (value hidden)")
            return cls(kind, value)
        if kind == "customer_id":
            try:
                return cls(kind, str(int(raw.strip())))
            except ValueError:
                raise ErasureConfigError("--customer-id: not an integer") from None
        raise ErasureConfigError(f"unknown subject kind {kind!r}; use one of {KINDS}")


def erasure_secret() -> bytes:
    """The key of the subject hashes, from ``ERASURE_SECRET`` (registered for masking)."""
    key = suppression.secret()
    if key is None:
        raise ErasureConfigError(
            f"set {SECRET_ENV} (at least {MIN_SECRET_CHARS} characters; keep it with the other "
            "secrets: the suppression list cannot be matched without it)"
        )
    return key


def subject_hash(subject: Subject, key: bytes) -> str:
    """HMAC-SHA256 of ``<kind>:<value>`` under ``key``, hex."""
    return suppression.keyed_hash(key, subject.kind, subject.value)


def ensure(warehouse: wh.Warehouse) -> None:
    """Create ``ops.erasure_requests`` if missing."""
    with wh.cursor(warehouse) as cur:
        wh.create_schema_if_missing(cur, warehouse.kind, SCHEMA)
        cur.execute(DDL)


def record(warehouse: wh.Warehouse, subject: Subject, key: bytes, requested_by: str) -> str:
    """Write one pending request; returns its id."""
    ensure(warehouse)
    request_id = f"erase-{uuid.uuid4().hex[:16]}"
    wh.execute(
        warehouse,
        f"insert into {TABLE} (request_id, subject_kind, subject_hash, requested_at, "
        "requested_by, state, attempts) values (%s, %s, %s, %s, %s, %s, 0)",
        [(request_id, subject.kind, subject_hash(subject, key), utcnow(), requested_by, PENDING)],
    )
    return request_id


def requests(warehouse: wh.Warehouse) -> list[dict[str, Any]]:
    """Every request, newest first (none when the table does not exist yet)."""
    found = wh.query(
        warehouse,
        "select count(*) from information_schema.tables "
        "where table_schema = %s and table_name = 'erasure_requests'",
        (SCHEMA,),
    )
    if not found or not found[0][0]:
        return []
    return wh.query_dicts(
        warehouse,
        f"select request_id, subject_kind, requested_at, requested_by, state, attempts, "
        f"last_error, completed_at from {TABLE} order by requested_at desc",
    )


def open_requests(warehouse: wh.Warehouse) -> list[dict[str, Any]]:
    """The requests not carried out yet (``pending`` or ``failed``), oldest first."""
    return [r for r in reversed(requests(warehouse)) if r["state"] in (PENDING, FAILED)]


def carry_out(warehouse: wh.Warehouse, cfg: settings.Settings) -> int:
    """Carry out every open request (the caller holds the run lock); returns how many.

    Raises:
        ErasureConfigError: requests are open but ``ERASURE_SECRET`` is not set.
        RuntimeError: a step failed; the requests are marked ``failed`` with the error.
    """
    pending = open_requests(warehouse)
    if not pending:
        return 0
    key = erasure_secret()
    hashes = wh.query(warehouse, f"select request_id, subject_hash from {TABLE}")
    by_id = {str(r[0]): str(r[1]) for r in hashes}
    for request in pending:
        request["subject_hash"] = by_id[request["request_id"]]
    ids = [r["request_id"] for r in pending]
    started = time.monotonic()
    try:
        people = erasure_steps.resolve(warehouse, key, pending)
        with wh.cursor(warehouse) as cur:
            erasure_steps.record_suppressions(cur, warehouse, key, people)
            touched = erasure_steps.redact_in_place(cur, warehouse, people)
        erasure_steps.scrub_local_files(warehouse, cfg.dbt_project_dir)
        if any(p.ids or p.emails for p in people):  # models derive from raw and rejects
            rebuild(cfg)
        erasure_physical.purge(warehouse, touched.tables)
    except Exception as exc:
        error = redact(f"{type(exc).__name__}: {exc}")[:2000]
        _mark(warehouse, ids, FAILED, error)
        raise RuntimeError(f"erasure of {len(ids)} request(s) failed: {error}") from exc
    _mark(warehouse, ids, DONE, None)
    log.info("erasure: %d request(s) carried out in %.1f s", len(ids), time.monotonic() - started)
    return len(ids)


def rebuild(cfg: settings.Settings) -> None:
    """``dbt build`` in a child process, so no DuckDB handle outlives it in this one."""
    script = (
        "import sys; from pathlib import Path; from orchestration import dbt_step; "
        "o = dbt_step.run_build(select=sys.argv[1] or None, project=Path(sys.argv[2])); "
        "print(o.error or ''); sys.exit(0 if o.success else 1)"
    )
    args = [sys.executable, "-c", script, cfg.dbt_select or "", str(cfg.dbt_project_dir)]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stdout.strip().splitlines() or proc.stderr.strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"dbt build after the redaction failed: {last}")


def _mark(warehouse: wh.Warehouse, ids: list[str], state: str, error: str | None) -> None:
    done = utcnow() if state == DONE else None
    wh.execute(
        warehouse,
        f"update {TABLE} set state = %s, attempts = attempts + 1, last_error = %s, "
        "completed_at = %s where request_id = %s",
        [(state, error, done, request_id) for request_id in ids],
    )


def main(customer_id: str | None, email: str | None, requested_by: str | None) -> int:
    """Entry point of ``erase``: 0 (carried out), 1 (failed), 2 (settings), 3 (locked)."""
    try:
        if (customer_id is None) == (email is None):
            raise ErasureConfigError("name the subject with exactly one of --customer-id, --email")
        subject = (
            Subject.of("customer_id", customer_id)
            if customer_id is not None
            else Subject.of("email", email or "")
        )
        key = erasure_secret()
        warehouse = wh.current()
        if warehouse.kind == "spark":
            raise ErasureConfigError("erase is not available on Spark (docs/adr/0008-erasure.md)")
    except (ErasureConfigError, wh.WarehouseConfigError) as exc:
        log.error("erase: %s", exc)
        return EXIT_CONFIG
    who = requested_by or getpass.getuser()
    lock_file = settings.lock_path(warehouse.local_path)
    try:
        with run_lock(warehouse, lock_file, f"erase-{uuid.uuid4().hex[:8]}", "erase"):
            request_id = record(warehouse, subject, key, who)
            log.info("erasure request %s recorded (%s, subject %s hashed)", request_id, who,
                     subject.kind)  # fmt: skip
            if subject.kind == "email":  # the address is known now only, never stored
                requested = erasure_steps.Person(request_id, subject_hash(subject, key))
                erasure_steps.remember_former(warehouse, key, requested, subject.value)
            done = carry_out(warehouse, settings.load())
    except LockHeld as exc:
        log.error("erase refused, request not recorded, nothing erased: %s Run erase again "
                  "once it has finished.", exc)  # fmt: skip
        return EXIT_LOCKED
    except Exception as exc:
        log.error("erasure NOT complete, marked failed; the next run retries it: %s", exc)
        return EXIT_NOT_DONE
    log.warning("erasure carried out: %d request(s) done", done)
    return EXIT_OK
