"""The PostgreSQL side of change data capture: publication, slot, snapshot, stream, confirm.

psycopg2 speaks the replication protocol (``LogicalReplicationConnection``); ``pgoutput``
decodes the WAL on the server for the tables of one publication. A slot is created with an
exported snapshot, which a second connection imports (``SET TRANSACTION SNAPSHOT``) to read
the tables exactly as of the slot's start: every change after it comes through the stream.
"""

from __future__ import annotations

import select
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extras
from psycopg2 import sql

from ingestion.postgres_cdc import pgoutput
from ingestion.postgres_cdc.pgoutput import lsn_int, lsn_text

SESSION_OPTIONS = "-c timezone=UTC -c datestyle=ISO"


class CdcError(RuntimeError):
    """The slot or publication cannot serve this reader (the message says what to do)."""


@dataclass(frozen=True)
class TableColumn:
    name: str
    type_oid: int
    type_modifier: int


def connect_args(url: str) -> dict[str, Any]:
    """psycopg2 keyword arguments of a SQLAlchemy-style PostgreSQL URL (query keys kept)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    args: dict[str, Any] = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "dbname": parsed.database,
        "options": SESSION_OPTIONS,
    }
    args.update({k: v for k, v in parsed.query.items() if isinstance(v, str)})
    return {k: v for k, v in args.items() if v is not None}


def connect(url: str, replication: bool = False) -> Any:
    """A connection (autocommit), or a logical replication connection."""
    factory = psycopg2.extras.LogicalReplicationConnection if replication else None
    conn = psycopg2.connect(connection_factory=factory, **connect_args(url))
    if not replication:
        conn.autocommit = True
    return conn


def ensure_publication(conn: Any, name: str, tables: list[tuple[str, str]]) -> None:
    """Create the publication for ``(schema, table)`` pairs, or add the tables it lacks.

    Raises:
        CdcError: a table is missing from it and this role may not add it (names the SQL).
    """
    with conn.cursor() as cur:
        cur.execute(
            "select schemaname, tablename from pg_publication_tables where pubname = %s", (name,)
        )
        have = set(cur.fetchall())
        cur.execute("select count(*) from pg_publication where pubname = %s", (name,))
        exists = cur.fetchone()[0] > 0
        missing = [t for t in tables if t not in have]
        if exists and not missing:
            return
        names = sql.SQL(", ").join(sql.Identifier(s, t) for s, t in (missing or tables))
        statement = (
            sql.SQL("alter publication {} add table {}")
            if exists
            else sql.SQL("create publication {} for table {}")
        ).format(sql.Identifier(name), names)
        try:
            cur.execute(statement)
        except psycopg2.Error as exc:
            raise CdcError(
                f"publication {name!r} lacks {[f'{s}.{t}' for s, t in missing or tables]} and "
                f"this role cannot add them ({exc.pgcode}): run `{statement.as_string(conn)}` "
                "as the tables' owner"
            ) from None


def slot_position(conn: Any, slot: str) -> int | None:
    """The slot's confirmed position, or None when there is no such slot."""
    with conn.cursor() as cur:
        cur.execute(
            "select confirmed_flush_lsn::text from pg_replication_slots where slot_name = %s",
            (slot,),
        )
        row = cur.fetchone()
    return lsn_int(row[0]) if row and row[0] else None


def current_lsn(conn: Any) -> int:
    with conn.cursor() as cur:
        cur.execute("select pg_current_wal_lsn()::text")
        return lsn_int(cur.fetchone()[0])


def drop_slot(conn: Any, slot: str) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "select pg_drop_replication_slot(slot_name) from pg_replication_slots"
            " where slot_name = %s",
            (slot,),
        )


def advance_slot(conn: Any, slot: str, lsn: int) -> int | None:
    """Confirm the slot up to ``lsn`` (never backwards); returns its confirmed position."""
    position = slot_position(conn, slot)
    if position is not None and position < lsn:
        with conn.cursor() as cur:
            cur.execute("select pg_replication_slot_advance(%s, %s::pg_lsn)", (slot, lsn_text(lsn)))
        position = slot_position(conn, slot)
    return position


def create_slot(repl: Any, slot: str) -> tuple[int, str]:
    """Create the slot, exporting its snapshot; returns (consistent point, snapshot name).

    The snapshot lives until ``repl`` runs its next command or closes.
    """
    with repl.cursor() as cur:
        cur.execute(f"CREATE_REPLICATION_SLOT {slot} LOGICAL pgoutput EXPORT_SNAPSHOT")
        _, consistent_point, snapshot_name, _ = cur.fetchone()
    return lsn_int(consistent_point), snapshot_name


def table_columns(conn: Any, schema: str, table: str) -> list[TableColumn]:
    """A table's columns as pgoutput sends them (no dropped or generated columns)."""
    with conn.cursor() as cur:
        cur.execute(
            "select a.attname, a.atttypid, a.atttypmod from pg_attribute as a"
            " where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped"
            " and a.attgenerated = '' order by a.attnum",
            (sql.Identifier(schema, table).as_string(conn),),
        )
        return [TableColumn(*row) for row in cur.fetchall()]


def read_snapshot(
    url: str, snapshot: str, tables: list[tuple[str, str]], batch_rows: int
) -> Iterator[tuple[str, list[TableColumn], list[tuple[str | None, ...]]]]:
    """Every row of the tables as of the exported ``snapshot``, as text, in batches."""
    with closing(psycopg2.connect(**connect_args(url))) as conn:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            cur.execute("set transaction snapshot %s", (snapshot,))
        for schema, table in tables:
            columns = table_columns(conn, schema, table)
            select_list = sql.SQL(", ").join(
                sql.SQL("{}::text").format(sql.Identifier(c.name)) for c in columns
            )
            with conn.cursor(name=f"cdc_snapshot_{table}") as cur:
                cur.itersize = batch_rows
                cur.execute(
                    sql.SQL("select {} from {}").format(select_list, sql.Identifier(schema, table))
                )
                while rows := cur.fetchmany(batch_rows):
                    yield table, columns, rows
        conn.rollback()


def stream(
    repl: Any, slot: str, publication: str, start_lsn: int, target_lsn: int, max_wait_s: float
) -> Iterator[tuple[pgoutput.Message, int]]:
    """Decoded messages from ``start_lsn`` until the server has sent everything before
    ``target_lsn``; each with the position a reader may resume from after it.

    The resume position moves at each commit and, between transactions, to the server's
    reported end of what it decoded (so a slot of idle tables still advances).

    Raises:
        CdcError: the server sent nothing new for ``max_wait_s`` before reaching the target.
    """
    cur = repl.cursor()
    cur.start_replication(
        slot_name=slot,
        decode=False,
        start_lsn=start_lsn,
        options={"proto_version": "1", "publication_names": publication},
    )
    resume, in_transaction = start_lsn, False
    last_progress = time.monotonic()
    while True:
        message = cur.read_message()
        if message is not None:
            decoded = pgoutput.decode(message.payload)
            if isinstance(decoded, pgoutput.Begin):
                in_transaction = True
            elif isinstance(decoded, pgoutput.Commit):
                in_transaction, resume = False, max(resume, decoded.end_lsn)
            last_progress = time.monotonic()
            yield decoded, resume
            if not in_transaction and resume >= target_lsn:
                return
            continue
        if not in_transaction and cur.wal_end >= target_lsn:
            yield pgoutput.Other("keepalive"), max(resume, cur.wal_end)
            return
        if time.monotonic() - last_progress > max_wait_s:
            raise CdcError(
                f"slot {slot!r}: no change for {max_wait_s:.0f} s while reading up to "
                f"{lsn_text(target_lsn)} (at {lsn_text(resume)})"
            )
        ready = select.select([cur], [], [], 0.5)[0]
        if not ready:  # ask the server where it is (it answers with a keepalive)
            cur.send_feedback(reply=True)
