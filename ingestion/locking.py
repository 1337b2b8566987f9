"""One writer per dataset: a file lock beside the DuckDB file or a PostgreSQL advisory lock.

Two concurrent runs into one dataset would both extract the same new rows and load them twice
(observed with dlt append), so a second run is refused while the first holds the lock. Both locks
belong to the process (an open file, a database session): a killed run leaves nothing to clean.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Protocol

from ingestion import warehouse


class HasDataset(Protocol):
    """Anything naming a dataset (a source configuration)."""

    dataset: str


class ConcurrentRunError(RuntimeError):
    """Another run is already writing the dataset."""


WAIT_POLL_S = 0.1


@contextmanager
def dataset_lock(
    dataset: str, wh: warehouse.Warehouse | None = None, wait_s: float = 0.0
) -> Iterator[None]:
    """Hold the writer lock of ``dataset`` for the duration of the block.

    Args:
        dataset: the dataset (schema) to write.
        wh: the warehouse; the current one by default.
        wait_s: how long to wait for another holder to finish (0: refuse at once).

    Raises:
        ConcurrentRunError: another process holds the lock (the run is refused, not queued).
    """
    deadline = time.monotonic() + wait_s
    wh = wh or warehouse.current(warehouse.LOADER)
    if wh.kind == "duckdb":
        assert wh.duckdb_path is not None
        path = wh.duckdb_path.resolve().with_name(f"{wh.duckdb_path.name}.{dataset}.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError as exc:
                    if time.monotonic() >= deadline:
                        raise ConcurrentRunError(
                            f"another ingestion run is writing dataset {dataset} (lock {path})"
                        ) from exc
                    time.sleep(WAIT_POLL_S)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock
        return
    conn = warehouse.connect(wh)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            while True:
                cur.execute("select pg_try_advisory_lock(hashtext(%s))", (f"ingestion:{dataset}",))
                (acquired,) = cur.fetchone()
                if acquired or time.monotonic() >= deadline:
                    break
                time.sleep(WAIT_POLL_S)
        if not acquired:
            raise ConcurrentRunError(
                f"another ingestion run is writing dataset {dataset} (PostgreSQL advisory lock)"
            )
        yield
    finally:
        conn.close()  # ends the session, which releases its advisory locks


def lock_datasets(
    stack: ExitStack, wh: warehouse.Warehouse, selected: Iterable[HasDataset]
) -> Exception | None:
    """Take the writer lock of every selected dataset (held until ``stack`` closes).

    A second run of the same sources is thus refused at once and as a whole
    (:class:`ConcurrentRunError` propagates), instead of loading whichever sources the first
    run has not reached yet. Locks are taken in name order, so of two overlapping runs one
    always gets all of its datasets. Any other failure (warehouse unreachable) is returned, to
    be reported per source like a failure inside the run.
    """
    try:
        for dataset in sorted({cfg.dataset for cfg in selected}):
            stack.enter_context(dataset_lock(dataset, wh))
    except ConcurrentRunError:
        raise
    except Exception as exc:
        return exc
    return None
