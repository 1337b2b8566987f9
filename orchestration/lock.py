"""One run at a time: the one lock every writing command takes (run, ingest, build, replay,
backfill, and ``python -m ingestion``), before dlt is imported.

DuckDB: a lock file next to the warehouse file (``warehouse/.run.lock``) created atomically with
``O_CREAT | O_EXCL``, holding JSON ``{pid, host, run_id, command, started_at}``. A lock left by a
dead process on this host is stale: it is moved aside and the run goes on. A lock from another
host cannot be checked and is never taken over: remove it by hand once that run is gone.

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held on a dedicated
connection for the whole run; PostgreSQL frees it when that session ends. The holder is named by
``pg_stat_activity.application_name`` (``... pid=<pid>@<host>``): a session whose client died on
this host mid-statement still holds the lock until the statement ends, so it is terminated and
the lock taken over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingestion import warehouse as wh

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x6361_5F72_756E  # "ca_run"
APPLICATION_NAME_PREFIX = "customer_analytics run"
ORPHAN_WAIT_S = 10.0  # how long to wait for the session of a dead run to end


class LockHeld(RuntimeError):
    """Another run holds the lock."""


@dataclass(frozen=True)
class LockInfo:
    """Who holds (or held) the lock."""

    pid: int
    host: str
    run_id: str
    command: str
    started_at: str

    def describe(self) -> str:
        """One line naming the holder."""
        return (
            f"run {self.run_id} ({self.command}) started {self.started_at} "
            f"by pid {self.pid} on {self.host}"
        )


@dataclass(frozen=True)
class Acquired:
    """The outcome of taking the lock: where it is and which stale holder it replaced."""

    location: str
    recovered_from: LockInfo | None = None


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: Path) -> LockInfo | None:
    try:
        data = json.loads(path.read_text())
        return LockInfo(
            pid=int(data["pid"]),
            host=str(data["host"]),
            run_id=str(data.get("run_id", "?")),
            command=str(data.get("command", "?")),
            started_at=str(data.get("started_at", "?")),
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        # unreadable content (e.g. a crash while writing): treat as a dead holder on this host
        return LockInfo(pid=-1, host=socket.gethostname(), run_id="?", command="?", started_at="?")


def describe_holder(path: Path) -> str | None:
    """Who holds the DuckDB run lock now (one line), or None when nobody does."""
    holder = _read(path)
    if holder is None or (holder.host == socket.gethostname() and not pid_alive(holder.pid)):
        return None
    return holder.describe()


def _try_create(path: Path, info: LockInfo) -> bool:
    """Create the lock with its content in one step (a hard link of a written file).

    A contender never reads it empty and mistakes it for a dead holder's (docs/operations.md).
    """
    written = path.with_name(f"{path.name}.new-{os.getpid()}")
    written.write_text(json.dumps(info.__dict__))
    try:
        os.link(written, path)
    except FileExistsError:
        return False
    finally:
        written.unlink(missing_ok=True)
    return True


@contextlib.contextmanager
def file_lock(path: Path, run_id: str, command: str) -> Iterator[Acquired]:
    """Hold the lock file for the duration of the block.

    Raises:
        LockHeld: a live process (or a process on another host) holds the lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    me = LockInfo(
        pid=os.getpid(),
        host=socket.gethostname(),
        run_id=run_id,
        command=command,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    recovered: LockInfo | None = None
    for _ in range(3):
        if _try_create(path, me):
            break
        holder = _read(path)
        if holder is None:
            continue  # released between our two calls: try again
        if holder.host != me.host or pid_alive(holder.pid):
            raise LockHeld(
                f"another run holds the lock {path}: {holder.describe()}. "
                + (
                    "Wait for it to finish."
                    if holder.host == me.host
                    else f"If that run is gone, delete {path}."
                )
            )
        # stale: move it aside atomically so only one contender removes it
        stale = path.with_name(f"{path.name}.stale-{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, stale)
            stale.unlink()
            recovered = holder
            log.warning("recovered a stale run lock left by %s", holder.describe())
    else:
        raise LockHeld(f"could not take the run lock {path} after 3 attempts")
    try:
        yield Acquired(location=str(path), recovered_from=recovered)
    finally:
        holder = _read(path)
        if holder is not None and holder.pid == me.pid and holder.run_id == run_id:
            path.unlink(missing_ok=True)


_HOLDERS_SQL = (
    "select a.pid, a.application_name, a.backend_start, a.client_addr "
    "from pg_locks l join pg_stat_activity a on a.pid = l.pid "
    "where l.locktype = 'advisory' and l.granted and l.classid = %s::oid "
    "and l.objid = %s::oid and l.objsubid = 1 and l.database = "
    "(select oid from pg_database where datname = current_database()) "
    "and a.pid <> pg_backend_pid()"
)
_HOLDER_NAME = re.compile(r"pid=(?P<pid>\d+)@(?P<host>\S+)$")


def _pg_holders(conn: Any) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(_HOLDERS_SQL, (ADVISORY_LOCK_KEY >> 32, ADVISORY_LOCK_KEY & 0xFFFFFFFF))
        return list(cur.fetchall())


def _describe_pg_holder(holders: list[tuple[Any, ...]]) -> str:
    if not holders:
        return "an unknown session"
    _, name, started, address = holders[0]
    return f"{name or 'a session'} (connected {started}, from {address or 'local socket'})"


def _dead_local_holder(name: str | None) -> bool:
    """The holder's application_name names a process of this host that no longer exists."""
    found = _HOLDER_NAME.search(name or "")
    if found is None:
        return False
    host = socket.gethostname()
    return host.startswith(found["host"]) and not pid_alive(int(found["pid"]))


def _end_orphaned_sessions(conn: Any) -> bool:
    """End lock-holding sessions whose client process died on this host; True if any was.

    A killed client's session lives on until its current statement ends, holding the lock.
    """
    ended = False
    with conn.cursor() as cur:
        for backend_pid, name, _, _ in _pg_holders(conn):
            if _dead_local_holder(name):
                cur.execute("select pg_terminate_backend(%s)", (backend_pid,))
                log.warning("ended the session of a dead run (%s): it still held the lock", name)
                ended = True
    return ended


def _try_lock(conn: Any) -> bool:
    with conn.cursor() as cur:
        cur.execute("select pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        return bool(cur.fetchone()[0])


@contextlib.contextmanager
def advisory_lock(warehouse: wh.Warehouse, run_id: str, command: str) -> Iterator[Acquired]:
    """Hold a PostgreSQL session advisory lock for the duration of the block.

    Raises:
        LockHeld: another live session holds the lock.
    """
    conn = wh.connect(warehouse)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            me = f"pid={os.getpid()}@{socket.gethostname()}"
            name = f"{APPLICATION_NAME_PREFIX} {run_id} {command}"[: 62 - len(me)] + " " + me
            cur.execute("select set_config('application_name', %s, false)", (name[:63],))
        got = _try_lock(conn)
        deadline = time.monotonic() + ORPHAN_WAIT_S
        while not got and _end_orphaned_sessions(conn) and time.monotonic() < deadline:
            time.sleep(0.2)  # the terminated session releases its lock as it exits
            got = _try_lock(conn)
        if not got:
            raise LockHeld(
                f"another run holds the advisory lock on {warehouse.describe()}: "
                f"{_describe_pg_holder(_pg_holders(conn))}. Wait for it to finish."
            )
        yield Acquired(location=f"pg_advisory_lock({ADVISORY_LOCK_KEY}) on {warehouse.describe()}")
    finally:
        conn.close()  # ends the session, which releases the lock


@contextlib.contextmanager
def run_lock(
    warehouse: wh.Warehouse, lock_file: Path, run_id: str, command: str
) -> Iterator[Acquired]:
    """Take the lock that fits the warehouse: a file for DuckDB, an advisory lock for PostgreSQL."""
    if warehouse.kind == "postgres":
        with advisory_lock(warehouse, run_id, command) as acquired:
            yield acquired
    else:
        with file_lock(lock_file, run_id, command) as acquired:
            yield acquired
