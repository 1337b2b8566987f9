"""Carrying an erasure out in raw, dlt's copies, the snapshot and local files (ADR 0008, 0011).

The person is found in every raw table a source declares under ``personal_data``
(``ingestion/sources.yml``) by the keyed hash of their customer id or email; their other
identifiers found there join the suppression list (``ingestion/suppression.py``). Then, in one
transaction: the declared columns are redacted and the nested rows deleted, dlt's ``*_staging``
copies emptied, ``rejected_records`` rows holding the person's email or phone deleted and the
snapshot's history of the person redacted. dbt's ``target/`` and logs and dlt's working folder
are deleted; the caller then rebuilds the models and removes the bytes below SQL.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion import config as sources_config
from ingestion import suppression
from ingestion import warehouse as wh
from orchestration import erasure_rejects
from orchestration.summary import utcnow

log = logging.getLogger(__name__)

SNAPSHOT_SCHEMA = "snapshots"
# Columns of the dbt snapshots that describe a person (the history dbt never rewrites).
SNAPSHOT_PERSONAL_COLUMNS = (
    "email",
    "email_hash",
    "email_domain",
    "first_name",
    "last_name",
    "phone",
    "city",
    "address_line1",
    "address_city",
    "address_postal_code",
)


@dataclass
class Person:
    """Everything that names one subject, found in raw (kept in memory only, never stored)."""

    request_id: str
    subject_hash: str
    ids: set[Any] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    rejected: set[tuple[str, str, int]] = field(default_factory=set)  # dataset, location, position

    def hashes(self, key: bytes) -> dict[str, str]:
        """Keyed hash -> kind of every identifier of the person (the request's own included)."""
        found = {suppression.keyed_hash(key, "customer_id", i): "customer_id" for i in self.ids}
        found.update({suppression.keyed_hash(key, "email", e): "email" for e in self.emails})
        found.setdefault(self.subject_hash, "request")
        return found


@dataclass
class Touched:
    """The tables an erasure changed, for the physical clean-up."""

    tables: list[str] = field(default_factory=list)


def _tables(warehouse: wh.Warehouse, schema: str) -> list[str]:
    rows = wh.query(
        warehouse,
        "select table_name from information_schema.tables where table_schema = %s "
        "and table_type = 'BASE TABLE'",
        (schema,),
    )
    return sorted(str(r[0]) for r in rows)


def _columns(warehouse: wh.Warehouse, schema: str, table: str) -> list[str]:
    rows = wh.query(
        warehouse,
        "select column_name from information_schema.columns where table_schema = %s "
        "and table_name = %s",
        (schema, table),
    )
    return [str(r[0]) for r in rows]


def personal_tables() -> list[tuple[str, str, sources_config.PersonalTable]]:
    """(dataset, table, declaration) of every declared personal table, enabled or not."""
    found = []
    for cfg in sources_config.load().values():
        for table, declared in cfg.personal_data.items():
            found.append((cfg.dataset, table, declared))
    return found


def datasets() -> list[str]:
    """Every raw dataset the sources file declares."""
    return sorted({cfg.dataset for cfg in sources_config.load().values()})


def resolve(warehouse: wh.Warehouse, key: bytes, pending: list[dict[str, Any]]) -> list[Person]:
    """Find each requested subject's identifiers: the hashes already listed for the request
    (:func:`remember_former`), the snapshots' history, the declared personal tables and
    rejected records' text."""
    people = [Person(r["request_id"], r["subject_hash"]) for r in pending]
    by_hash = {p.subject_hash: p for p in people}
    by_request = {p.request_id: p for p in people}
    for hashed, request_id in _listed_for(warehouse, list(by_request)):
        by_hash.setdefault(hashed, by_request[request_id])
    for table in _tables(warehouse, SNAPSHOT_SCHEMA):  # first: raw rows of these ids are read
        if "customer_id" not in _columns(warehouse, SNAPSHOT_SCHEMA, table):
            continue
        sql = f'select distinct customer_id from "{SNAPSHOT_SCHEMA}"."{table}"'
        for (customer_id,) in wh.query(warehouse, sql):
            person = by_hash.get(suppression.keyed_hash(key, "customer_id", customer_id))
            if person is not None:
                person.ids.add(customer_id)
    for dataset, table, declared in personal_tables():
        for schema in (dataset, f"{dataset}_staging"):
            if not wh.table_exists(warehouse, schema, table):
                continue
            present = set(_columns(warehouse, schema, table))
            phone = "phone" if "phone" in present else None
            wanted = [c for c in (declared.customer_id, declared.email, phone) if c]
            if not set(wanted) <= present:
                continue
            select = ", ".join(f'"{c}"' for c in wanted)
            for row in wh.query(warehouse, f'select {select} from "{schema}"."{table}"'):
                values = dict(zip(wanted, row, strict=True))
                _match(values, declared, key, by_hash, phone)
    erasure_rejects.match(warehouse, key, by_hash, datasets())
    return people


def _listed_for(warehouse: wh.Warehouse, request_ids: list[str]) -> list[tuple[str, str]]:
    """(hash, request id) of the suppression list's entries of these requests."""
    if not request_ids or not wh.table_exists(
        warehouse, suppression.SCHEMA, "erasure_suppressions"
    ):
        return []
    marks = ", ".join(["%s"] * len(request_ids))
    sql = f"select subject_hash, request_id from {suppression.TABLE} where request_id in ({marks})"
    return [(str(h), str(r)) for h, r in wh.query(warehouse, sql, request_ids)]


def remember_former(warehouse: wh.Warehouse, key: bytes, person: Person, address: str) -> None:
    """List the customer ids whose snapshot history holds ``address`` (an address the CRM has
    since changed) for ``person``'s request, while ``erase`` still knows the address: a retry
    of the request then finds them by their hashes."""
    # dbt's pii_hash: md5 of the trimmed, lower-cased address
    md5 = hashlib.md5(suppression.normalised("email", address).encode()).hexdigest()
    for table in _tables(warehouse, SNAPSHOT_SCHEMA):
        if not {"customer_id", "email_hash"} <= set(_columns(warehouse, SNAPSHOT_SCHEMA, table)):
            continue
        sql = (
            f'select distinct customer_id from "{SNAPSHOT_SCHEMA}"."{table}" where email_hash = %s'
        )
        person.ids.update(r[0] for r in wh.query(warehouse, sql, (md5,)) if r[0] is not None)
    if person.ids:
        with wh.cursor(warehouse) as cur:
            record_suppressions(cur, warehouse, key, [person])


def _match(
    values: dict[str, Any],
    declared: sources_config.PersonalTable,
    key: bytes,
    by_hash: dict[str, Person],
    phone: str | None,
) -> None:
    customer_id, email = values.get(declared.customer_id), values.get(declared.email or "")
    candidates = []
    if customer_id is not None:
        candidates.append(suppression.keyed_hash(key, "customer_id", customer_id))
    if email:
        candidates.append(suppression.keyed_hash(key, "email", email))
    for candidate in candidates:
        person = by_hash.get(candidate)
        if person is None:
            continue
        if customer_id is not None:
            person.ids.add(customer_id)
        if email and not str(email).endswith(suppression.ERASED_DOMAIN):
            person.emails.add(suppression.normalised("email", email))
        if phone and values.get(phone):
            person.phones.add(str(values[phone]).strip())


def record_suppressions(
    cur: Any, warehouse: wh.Warehouse, key: bytes, people: Iterable[Person]
) -> None:
    """Add every identifier's keyed hash to ``ops.erasure_suppressions`` (once each)."""
    wh.create_schema_if_missing(cur, warehouse.kind, suppression.SCHEMA)
    cur.execute(suppression.DDL)
    sql = wh.placeholders(
        warehouse,
        f"insert into {suppression.TABLE} (subject_hash, subject_kind, request_id, added_at) "
        f"select %s, %s, %s, %s where not exists "
        f"(select 1 from {suppression.TABLE} where subject_hash = %s)",
    )
    for person in people:
        for hashed, kind in person.hashes(key).items():
            cur.execute(sql, (hashed, kind, person.request_id, utcnow(), hashed))


def redact_in_place(cur: Any, warehouse: wh.Warehouse, people: list[Person]) -> Touched:
    """Redact the people in raw, dlt's staging copies, rejected records and the snapshots."""
    from ingestion import rejects  # imports dlt: not at the top (see orchestration/lock.py)

    touched = Touched()
    ids = sorted({str(i) for p in people for i in p.ids})  # compared as text: any id type
    texts = sorted({t.lower() for p in people for t in (*p.emails, *p.phones) if t})
    for dataset, table, declared in personal_tables() if ids else []:
        touched.tables += _redact_table(cur, warehouse, dataset, table, declared, ids)
    for dataset in datasets():
        for table in _tables(warehouse, f"{dataset}_staging"):  # dlt empties them every merge
            cur.execute(f'delete from "{dataset}_staging"."{table}"')
            touched.tables.append(f'"{dataset}_staging"."{table}"')
        if texts and wh.table_exists(warehouse, dataset, rejects.TABLE):
            where = " or ".join(["lower(raw_text) like %s escape '\\'"] * len(texts))
            sql = f'delete from "{dataset}"."{rejects.TABLE}" where {where}'
            cur.execute(wh.placeholders(warehouse, sql), [f"%{_literal(t)}%" for t in texts])
            touched.tables.append(f'"{dataset}"."{rejects.TABLE}"')
    touched.tables += erasure_rejects.delete(cur, warehouse, people)
    for table in _tables(warehouse, SNAPSHOT_SCHEMA) if ids else []:
        columns = _columns(warehouse, SNAPSHOT_SCHEMA, table)
        personal = [c for c in columns if c in SNAPSHOT_PERSONAL_COLUMNS]
        if "customer_id" not in columns or not personal:
            continue
        sets = ", ".join(f'"{c}" = null' for c in personal)
        marks = ", ".join(["%s"] * len(ids))
        where = f"cast(customer_id as varchar) in ({marks})"
        sql = f'update "{SNAPSHOT_SCHEMA}"."{table}" set {sets} where {where}'
        cur.execute(wh.placeholders(warehouse, sql), ids)
        touched.tables.append(f'"{SNAPSHOT_SCHEMA}"."{table}"')
    return touched


def _literal(text: str) -> str:
    """``text`` matched literally by ``like ... escape '\\'`` (``_`` and ``%`` are wildcards)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _redact_table(
    cur: Any,
    warehouse: wh.Warehouse,
    dataset: str,
    table: str,
    declared: sources_config.PersonalTable,
    ids: list[Any],
) -> list[str]:
    if not wh.table_exists(warehouse, dataset, table):
        return []
    marks = ", ".join(["%s"] * len(ids))
    key = f'cast("{declared.customer_id}" as varchar) in ({marks})'
    touched = [f'"{dataset}"."{table}"']
    for nested in declared.nested:
        child = f"{table}__{nested}"
        if wh.table_exists(warehouse, dataset, child):
            sql = (
                f'delete from "{dataset}"."{child}" where _dlt_root_id in '
                f'(select _dlt_id from "{dataset}"."{table}" where {key})'
            )
            cur.execute(wh.placeholders(warehouse, sql), ids)
            touched.append(f'"{dataset}"."{child}"')
    present = set(_columns(warehouse, dataset, table))
    sets = [f'"{c}" = null' for c in declared.redact if c in present and c != declared.email]
    if declared.email and declared.email in present:
        domain = suppression.ERASED_DOMAIN
        cast = f'cast("{declared.customer_id}" as varchar)'
        sets.append(f"\"{declared.email}\" = 'erased-' || {cast} || '@{domain}'")
    if sets:
        sql = f'update "{dataset}"."{table}" set {", ".join(sets)} where {key}'
        cur.execute(wh.placeholders(warehouse, sql), ids)
    return touched


def scrub_local_files(warehouse: wh.Warehouse, dbt_project_dir: Path) -> list[Path]:
    """Delete dbt's ``target/`` and logs and dlt's working folder; returns what was removed."""
    from ingestion.pipelines import pipelines_dir

    folders = [
        Path(os.environ.get("DBT_TARGET_PATH") or dbt_project_dir / "target"),
        Path(os.environ.get("DBT_LOG_PATH") or dbt_project_dir / "logs"),
        pipelines_dir(warehouse),
    ]
    removed = [f for f in folders if f.exists()]
    for folder in removed:
        shutil.rmtree(folder)
    return removed
