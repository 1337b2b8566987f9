"""Row counts of a raw dataset's tables, for a run's report of the rows each table gained.

A count is a scan of the table on PostgreSQL, so a load counts only the tables it wrote: their
counts before the load are read after it, from a snapshot taken before it
(``before_load``); on DuckDB and the lake a count is cheap and taken up front.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

from ingestion import warehouse

logger = logging.getLogger(__name__)

Counter = Callable[[Collection[str]], dict[str, int] | None]


def data_tables(wh: warehouse.Warehouse, dataset: str) -> list[str]:
    """The tables of ``dataset`` (dlt's own ``_dlt_*`` tables excluded)."""
    listed = warehouse.query(
        wh, "select table_name from information_schema.tables where table_schema = %s", (dataset,)
    )
    return sorted(str(r[0]) for r in listed if not str(r[0]).startswith("_dlt_"))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _counts_sql(dataset: str, names: list[str]) -> str:
    return " union all ".join(
        f"select %s, count(*) from {_quoted(dataset)}.{_quoted(name)}" for name in names
    )


def counts(
    wh: warehouse.Warehouse,
    dataset: str,
    tables: Collection[str] | Callable[[str], bool] | None = None,
) -> dict[str, int]:
    """Row count of every data table of ``dataset``, or of those ``tables`` names or selects."""
    chosen = tables if callable(tables) else (lambda name: tables is None or name in tables)
    names = [n for n in data_tables(wh, dataset) if chosen(n)]
    if not names:
        return {}
    rows = warehouse.query(wh, _counts_sql(dataset, names), names)
    return {str(name): int(n) for name, n in rows}


@contextmanager
def before_load(wh: warehouse.Warehouse, dataset: str) -> Iterator[Counter]:
    """A counter of the tables' rows as they stand when the block starts, called within it.

    PostgreSQL: a read-only ``REPEATABLE READ`` transaction is opened at the start, and the
    counter counts in its snapshot, so only the tables named are scanned (a table created since
    is left out: it held no row). The server's idle-in-transaction timeout is lifted for that
    session; if the transaction is lost anyway, the counter returns None.
    """
    if wh.kind != "postgres":
        counted = counts(wh, dataset)
        yield lambda tables: {t: n for t, n in counted.items() if t in tables}
        return
    conn: Any = warehouse.connect(wh)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        snapshot = conn.cursor()
        snapshot.execute("set idle_in_transaction_session_timeout = 0")  # it waits for the load
        snapshot.execute("select 1")  # the snapshot is taken at the first query

        def counter(tables: Collection[str]) -> dict[str, int] | None:
            try:
                snapshot.execute(
                    "select table_name from information_schema.tables where table_schema = %s",
                    (dataset,),
                )
                names = sorted(str(r[0]) for r in snapshot.fetchall() if str(r[0]) in tables)
                if not names:
                    return {}
                snapshot.execute(_counts_sql(dataset, names), names)
                return {str(name): int(n) for name, n in snapshot.fetchall()}
            except Exception as exc:
                logger.warning("%s: row counts before the load unavailable (%s)", dataset, exc)
                return None

        yield counter
    finally:
        try:
            conn.close()
        except Exception:  # the connection may be gone already
            logger.debug("closing the counting connection failed", exc_info=True)
