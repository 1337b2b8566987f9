"""How much WAL each change-data-capture slot holds back on its source server.

A slot keeps every WAL segment from its confirmed position on: a reader that stopped (or a
source that was disabled) makes the server's disk fill without bound. ``status`` shows each
slot's retained WAL and flags one past ``max_retained_wal_bytes``, one PostgreSQL no longer
reserves WAL for (``wal_status`` ``unreserved`` or ``lost``) and one that does not exist.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass

from ingestion.postgres_cdc import replication


@dataclass(frozen=True)
class SlotHealth:
    source: str
    slot: str
    active: bool | None = None
    retained_bytes: int | None = None
    wal_status: str | None = None
    limit_bytes: int = 0
    problem: str | None = None


def slot_health(source: str, url: str, slot: str, limit_bytes: int) -> SlotHealth:
    """The slot's state on its server (``problem`` says what is wrong, None when nothing)."""
    try:
        with closing(replication.connect(url)) as conn, conn.cursor() as cur:
            cur.execute(
                "select active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn),"
                " wal_status from pg_replication_slots where slot_name = %s",
                (slot,),
            )
            row = cur.fetchone()
    except Exception as exc:  # the source server is down: say so, status goes on
        return SlotHealth(source, slot, limit_bytes=limit_bytes, problem=type(exc).__name__)
    if row is None:
        return SlotHealth(source, slot, limit_bytes=limit_bytes, problem="no such slot")
    active, retained, wal_status = bool(row[0]), int(row[1] or 0), row[2]
    problem = None
    if wal_status in ("unreserved", "lost"):
        problem = f"WAL {wal_status}: changes may be gone, load again with --reload --yes"
    elif retained > limit_bytes:
        problem = f"retains {retained:,} bytes of WAL (> {limit_bytes:,}): is the loader running?"
    return SlotHealth(source, slot, active, retained, wal_status, limit_bytes, problem)
