"""The in-memory DuckDB that the readers' vectorised checks share while files are read.

``reading()`` keeps it open while a run reads, and closes it when the last reader leaves. DuckDB
is not fork-safe: a process forked later from another thread (pyspark starts its gateway from a
dbt thread) crashes when it tears down a copy of an open database. So none outlives the reading.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

_lock = threading.Lock()
_readers = 0
_database: duckdb.DuckDBPyConnection | None = None
_inherited: list[duckdb.DuckDBPyConnection] = []  # a forked child keeps its parent's, unused


@contextmanager
def reading() -> Iterator[None]:
    """Share one database among the checks run inside this block (and any other thread's)."""
    global _readers, _database
    with _lock:
        _readers += 1
    try:
        yield
    finally:
        with _lock:
            _readers -= 1
            if _readers == 0 and _database is not None:
                _database.close()
                _database = None


@contextmanager
def cursor() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection of the caller's own: to the shared database while reading, else a new one."""
    global _database
    with _lock:
        if not _readers:
            con = duckdb.connect()
        else:
            if _database is None:
                _database = duckdb.connect()
            con = _database.cursor()
    try:
        yield con
    finally:
        con.close()


def _after_fork_in_child() -> None:
    global _lock, _database
    _lock = threading.Lock()  # another thread may have held it at the fork
    if _database is not None:
        _inherited.append(_database)
        _database = None


os.register_at_fork(after_in_child=_after_fork_in_child)
