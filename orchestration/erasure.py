"""``python -m orchestration erase``: the erasure ledger (docs/adr/0008-erasure.md).

A request names its subject by customer id or email; the ledger (``ops.erasure_requests``)
keeps only a keyed hash of it (HMAC-SHA256 under ``ERASURE_SECRET``), the time, who asked and
the state, never the personal data. Carrying a request out (redaction in every layer, the
suppression list at load time, physical removal) is designed in ADR 0008 and not built yet: a
recorded request stays ``pending`` and ``erase`` says so and exits 1.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from ingestion import warehouse as wh
from ingestion.redact import register
from orchestration import settings
from orchestration.ledger import SCHEMA
from orchestration.lock import LockHeld, run_lock
from orchestration.summary import utcnow

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_NOT_DONE = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 3

SECRET_ENV = "ERASURE_SECRET"
MIN_SECRET_CHARS = 16
KINDS = ("customer_id", "email")
PENDING = "pending"
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
        """Normalise: an email trimmed and lower-cased, a customer id as a plain integer."""
        if kind == "email":
            value = raw.strip().lower()
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
    secret = os.environ.get(SECRET_ENV, "")
    if len(secret) < MIN_SECRET_CHARS:
        raise ErasureConfigError(
            f"set {SECRET_ENV} (at least {MIN_SECRET_CHARS} characters; keep it with the other "
            "secrets: the suppression list cannot be matched without it)"
        )
    register(secret)
    return secret.encode()


def subject_hash(subject: Subject, key: bytes) -> str:
    """HMAC-SHA256 of ``<kind>:<value>`` under ``key``, hex."""
    message = f"{subject.kind}:{subject.value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


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


def main(customer_id: str | None, email: str | None, requested_by: str | None) -> int:
    """Entry point of ``erase``: 1 (recorded, not carried out), 2 (settings), 3 (locked)."""
    try:
        if (customer_id is None) == (email is None):
            raise ErasureConfigError("name the subject with exactly one of --customer-id, --email")
        subject = (
            Subject.of("customer_id", customer_id)
            if customer_id is not None
            else Subject.of("email", email or "")
        )
        key = erasure_secret()
        warehouse = wh.current(wh.LOADER)
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
    except LockHeld as exc:
        log.error("erase refused: %s", exc)
        return EXIT_LOCKED
    log.error(
        "erasure request %s recorded (%s, subject %s hashed): pending, NOT carried out; "
        "carrying out erasure is not built yet (docs/adr/0008-erasure.md)",
        request_id,
        who,
        subject.kind,
    )
    return EXIT_NOT_DONE
