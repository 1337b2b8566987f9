"""Spark SQL from Python: the catalog dbt builds in, read by ``status`` and ``report`` on Spark.

The session is configured from the same variables as the ``spark`` output of
``profiles.example.yml``, so both see one catalog: ``SPARK_MASTER`` (default ``local[*]``; a
standalone cluster is ``spark://host:7077``), ``SPARK_WAREHOUSE_DIR`` (managed tables, default
``warehouse/spark``) and its Derby metastore ``<SPARK_WAREHOUSE_DIR>/metastore_db``. pyspark is
imported here only, so the DuckDB and PostgreSQL paths never need it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

DEFAULT_MASTER = "local[*]"
DEFAULT_WAREHOUSE_DIR = "warehouse/spark"


def warehouse_dir() -> Path:
    """Where Spark keeps managed tables (``<schema>.db/<table>``) and the Derby metastore."""
    return Path(os.environ.get("SPARK_WAREHOUSE_DIR") or DEFAULT_WAREHOUSE_DIR)


def settings() -> dict[str, str]:
    """The Spark settings the profile's ``server_side_parameters`` set too."""
    folder = warehouse_dir()
    return {
        "spark.master": os.environ.get("SPARK_MASTER") or DEFAULT_MASTER,
        "spark.sql.warehouse.dir": str(folder),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={folder / 'metastore_db'};create=true"
        ),
        "spark.sql.ansi.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.log.level": "ERROR",
        "spark.sql.shuffle.partitions": os.environ.get("SPARK_SHUFFLE_PARTITIONS") or "8",
        "spark.ui.showConsoleProgress": "false",
    }


def session() -> Any:
    """The process's Spark session (dbt's own when dbt ran in this process)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in settings().items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def active() -> bool:
    """Whether this process already runs a Spark session (dbt ran here): reading is cheap then."""
    if "pyspark" not in sys.modules:
        return False
    from pyspark import SparkContext

    return SparkContext._active_spark_context is not None  # process-wide, unlike getActiveSession


def _literal(value: Any) -> str:
    """A Python value as a Spark SQL literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return f"timestamp'{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"date'{value.isoformat()}'"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def bind(sql: str, params: Sequence[Any]) -> str:
    """``sql`` with each ``?`` replaced by the next parameter as a literal."""
    parts = sql.split("?")
    if len(parts) - 1 != len(params):
        raise ValueError(f"{len(parts) - 1} placeholders for {len(params)} parameters")
    out = [parts[0]]
    for value, rest in zip(params, parts[1:], strict=True):
        out += [_literal(value), rest]
    return "".join(out)


class Cursor:
    """Enough of a DB-API cursor for ``ingestion.warehouse.query``/``query_dicts``."""

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self.description: list[tuple[str, ...]] = []
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        frame = self.spark.sql(bind(sql, params))
        self.description = [(name,) for name in frame.columns]
        self._rows = [tuple(row) for row in frame.collect()]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None


class Connection:
    """A DB-API-like connection over the Spark session (no transactions: commit does nothing)."""

    def __init__(self) -> None:
        self.spark = session()

    def cursor(self) -> Cursor:
        return Cursor(self.spark)

    def commit(self) -> None:
        """Spark SQL statements take effect at once."""

    def close(self) -> None:
        """The session stays for the process (dbt shares it)."""


def connect() -> Connection:
    """A connection to the Spark catalog."""
    return Connection()


def table_names(schema: str) -> set[str]:
    """Tables and views of ``schema`` in the catalog (none when it does not exist)."""
    spark = session()
    if not spark.catalog.databaseExists(schema):
        return set()
    return {t.name for t in spark.catalog.listTables(schema)}


def refresh(schema: str) -> None:
    """Forget cached file listings of ``schema``'s tables (the lake gained files since)."""
    spark = session()
    for name in table_names(schema):
        spark.sql(f"refresh table {schema}.{name}")
