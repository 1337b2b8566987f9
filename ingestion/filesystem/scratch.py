"""The in-memory DuckDB that the readers' vectorised checks share while files are read.

``reading()`` keeps it open while a run reads, and it is closed when the last reader and the
last cursor let go. DuckDB is not fork-safe: a process forked later from another thread (pyspark
starts its gateway from a dbt thread) crashes when it tears down a copy of an open database. So
none outlives the reading.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

_lock = threading.Lock()
_holders = 0  # runs reading and cursors open on the shared database
_database: duckdb.DuckDBPyConnection | None = None
_inherited: list[duckdb.DuckDBPyConnection] = []  # a forked child's copy: never used or closed


@contextmanager
def reading() -> Iterator[None]:
    """Share one database among the checks run inside this block (and any other thread's)."""
    _hold()
    try:
        yield
    finally:
        _release()


@contextmanager
def cursor() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection of the caller's own: to the shared database while a run reads, else a new
    database of its own."""
    global _holders, _database
    with _lock:
        shared = _holders > 0
        if shared:
            if _database is None:
                _database = duckdb.connect()
            con = _database.cursor()
            _holders += 1
    if not shared:
        con = duckdb.connect()
    try:
        yield con
    finally:
        con.close()
        if shared:
            _release()


def _hold() -> None:
    global _holders
    with _lock:
        _holders += 1


def _release() -> None:
    global _holders, _database
    with _lock:
        _holders = max(0, _holders - 1)  # a forked child starts from none
        if _holders == 0 and _database is not None:
            database, _database = _database, None  # never left set once closed
            database.close()


def _after_fork_in_child() -> None:
    global _lock, _holders, _database
    _lock = threading.Lock()  # another thread may have held it at the fork
    _holders = 0  # the parent's readers do not run here
    if _database is not None:
        _inherited.append(_database)
        _database = None


os.register_at_fork(after_in_child=_after_fork_in_child)
