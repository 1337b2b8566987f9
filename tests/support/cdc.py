"""The demo shop as a PostgreSQL application database read by a ``postgres_cdc`` source.

A test copies the shop into a database of the test server, declares it as the ``shop`` system
of type ``postgres_cdc`` in a sources file of its own, syncs the SQLite shop's changes after
each demo step (``demo.shop_sync``) and compares the landed change tables with the source.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2

from demo import pg_server
from demo.shop import copy_to_postgres
from demo.shop_sync import KEYS, sync_to_postgres
from tests.support.warehouse import query

SYSTEM = "shop"


@dataclass
class CdcShop:
    """The shop's PostgreSQL database, its URL and the sources file declaring it."""

    server: pg_server.PostgresServer
    database: str
    url: str
    sources_file: Path
    changes: dict[str, int] = field(default_factory=dict)  # rows changed by syncs, by table.op

    def sync(self, demo_dir: Path) -> dict[str, int]:
        """Apply the SQLite shop's changes; adds them to ``changes``."""
        done = sync_to_postgres(demo_dir, self.url)
        for key, n in done.items():
            self.changes[key] = self.changes.get(key, 0) + n
        return done

    def rows(self, table: str) -> dict[Any, tuple[Any, ...]]:
        """The source table's rows by key, values normalised (``normalise``)."""
        conn = psycopg2.connect(**self.server.connect_args(self.database))
        try:
            with conn.cursor() as cur:
                cur.execute(f"select * from {table}")
                names = [d[0] for d in cur.description]
                at = names.index(KEYS[table])
                return {r[at]: tuple(normalise(v) for v in r) for r in cur.fetchall()}
        finally:
            conn.close()

    def columns(self, table: str) -> list[str]:
        conn = psycopg2.connect(**self.server.connect_args(self.database))
        try:
            with conn.cursor() as cur:
                cur.execute(f"select * from {table} limit 0")
                return [d[0] for d in cur.description]
        finally:
            conn.close()


def normalise(value: Any) -> Any:
    """A value as both sides compare it: timestamps naive UTC, decimals exact."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, float):
        return Decimal(str(value))
    return value


@contextmanager
def cdc_shop(
    server: pg_server.PostgresServer, demo_dir: Path, folder: Path, **settings: Any
) -> Iterator[CdcShop]:
    """The demo's shop copied into a new database, declared as ``shop`` (postgres_cdc); its
    slot is dropped at the end (a database with a slot cannot be dropped)."""
    database = f"shop_{uuid.uuid4().hex[:10]}"
    pg_server.create_database(server, database)
    # commits as a production source does: the test server commits asynchronously, and a slot
    # decodes (and its lag is measured to) only WAL already written
    admin = psycopg2.connect(**server.connect_args("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'alter database "{database}" set synchronous_commit = on')
    admin.close()
    url = f"postgresql+psycopg2://{server.user}@{server.host}:{server.port}/{database}"
    copy_to_postgres(demo_dir, url)
    extra = "".join(f"  {k}: {v}\n" for k, v in settings.items())
    sources = folder / "cdc_sources.yml"
    sources.write_text(
        f"{SYSTEM}:\n  type: postgres_cdc\n  dataset: raw_shop\n  credentials: {url}\n{extra}"
        "  tables:\n" + "".join(f"    {t}: {{primary_key: {k}}}\n" for t, k in KEYS.items()),
        encoding="utf-8",
    )
    shop = CdcShop(server, database, url, sources)
    try:
        yield shop
    finally:
        conn = psycopg2.connect(**server.connect_args(database))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                "select pg_terminate_backend(active_pid) from pg_replication_slots"
                " where database = %s and active_pid is not null",
                (database,),
            )
            cur.execute(
                "select pg_drop_replication_slot(slot_name) from pg_replication_slots"
                " where database = %s",
                (database,),
            )
        conn.close()


def landed_rows(env: Mapping[str, str], table: str, columns: list[str]) -> dict[Any, tuple]:
    """The source table as its change table says it is now: the last change of each key,
    unless that change is a delete."""
    key = KEYS[table]
    names = ", ".join(columns)
    rows = query(
        env,
        f"select {names} from (select *, row_number() over (partition by {key}"
        " order by _cdc_lsn desc, _cdc_seq desc) as newest"
        f" from raw_shop.{table}) as c where newest = 1 and _cdc_op <> 'delete'",
    )
    at = columns.index(key)
    return {r[at]: tuple(normalise(v) for v in r) for r in rows}


@dataclass
class Comparison:
    missing: int = 0  # source rows not landed, or landed with other values
    extra: int = 0  # landed rows the source no longer holds
    duplicates: int = 0  # change rows landed more than once
    mismatches: list[str] = field(default_factory=list)


def compare(env: Mapping[str, str], shop: CdcShop) -> Comparison:
    """The landed change tables against the source database, table by table."""
    result = Comparison()
    for table in KEYS:
        columns = shop.columns(table)
        source, landed = shop.rows(table), landed_rows(env, table, columns)
        wrong = [k for k, row in source.items() if landed.get(k) != row]
        extra = [k for k in landed if k not in source]
        (doubled,) = query(
            env,
            f"select count(*) - (select count(*) from (select distinct _cdc_lsn, _cdc_seq"
            f" from raw_shop.{table}) as d) from raw_shop.{table}",
        )[0]
        result.missing += len(wrong)
        result.extra += len(extra)
        result.duplicates += int(doubled)
        if wrong or extra:
            result.mismatches.append(f"{table}: {len(wrong)} wrong/missing, {len(extra)} extra")
    return result


def change_rows(env: Mapping[str, str]) -> dict[str, int]:
    """Change rows landed per ``<table>.<operation>`` (snapshot rows as ``.snapshot``)."""
    counts: dict[str, int] = {}
    for table in KEYS:
        for op, n in query(env, f"select _cdc_op, count(*) from raw_shop.{table} group by 1"):
            counts[f"{table}.{op}"] = int(n)
    return counts
