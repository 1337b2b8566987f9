"""Hard-delete detection for database tables: a key-only reconciliation into ``deleted_records``.

A cursor on ``updated_at`` never sees a row that was removed. For each table declared with
``detect_hard_deletes: true`` this resource compares the primary keys already landed in the
warehouse with the keys the source holds now (one key column each, as Arrow arrays: integers
as int64, other keys as text, compared at C speed) and records every landed key the source no
longer has. Raw tables stay as landed; staging drops the flagged keys. A key that comes back
in the source is recorded again with ``is_deleted`` false.

The comparison reads the landed keys before this run's load, so a row inserted meanwhile can
never be mistaken for a deleted one. Integer keys are compared by a SQL fingerprint first (count,
sum, bounded sum of squares of the keys up to the highest landed one), so a run with no delete
moves three numbers per table instead of every key. Equal fingerprints with different key sets
need deletions exactly balanced by not-yet-landed rows below the highest landed key; the next
run, with those rows landed, sees the difference.

A run that finds more than ``max_delete_share`` of a table's live keys gone, or the table
empty, records nothing and fails the source's load instead (``evidence.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract import DltResource

from ingestion import config, warehouse
from ingestion.sql_database.evidence import DeleteCheck, DeletesRefused
from ingestion.sql_database.settings import DEFAULT_MAX_DELETE_SHARE

TABLE = "deleted_records"
PRIMARY_KEY = ("table_name", "record_key")
# Few rows; and an empty Parquet job file fails dlt's ADBC load into PostgreSQL.
FILE_FORMAT: Literal["insert_values"] = "insert_values"

COLUMNS: TTableSchemaColumns = {
    "table_name": {"name": "table_name", "data_type": "text", "nullable": False},
    "record_key": {"name": "record_key", "data_type": "text", "nullable": False},
    "key_column": {"name": "key_column", "data_type": "text", "nullable": False},
    "is_deleted": {"name": "is_deleted", "data_type": "bool", "nullable": False},
    "detected_at": {"name": "detected_at", "data_type": "timestamp", "nullable": False},
}


def _warehouse_rows(sql: str) -> list[tuple[Any, ...]] | None:
    """Rows of a query on the warehouse, or None when the table does not exist yet."""
    wh = warehouse.current("loader")  # the loader role owns the raw datasets
    conn = warehouse.connect(wh)
    try:
        cur = conn.cursor()
        try:
            cur.execute(sql)
        except Exception:  # first run: nothing landed yet (DuckDB and psycopg2 raise their own)
            return None
        rows: list[tuple[Any, ...]] = cur.fetchall()
        return rows
    finally:
        conn.close()


def as_keys(values: list[Any]) -> pa.Array:
    """Key values as an Arrow array: integers stay int64, anything else becomes text."""
    keys = pa.array(values)
    if pa.types.is_integer(keys.type):
        return keys.cast(pa.int64())
    return keys.cast(pa.string())


def _comparable(a: pa.Array, b: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Both arrays in one type: as they are when they agree, else both as text."""
    if a.type == b.type:
        return a, b
    return a.cast(pa.string()), b.cast(pa.string())


def landed_keys(dataset: str, table: str, key: str) -> pa.Array | None:
    """The keys of ``dataset.table`` in the warehouse, or None before its first load."""
    rows = _warehouse_rows(f'select distinct "{key}" from "{dataset}"."{table}"')
    return None if rows is None else as_keys([r[0] for r in rows])


def flagged_keys(dataset: str, table: str) -> dict[str, bool]:
    """The keys recorded for ``table`` so far, with their latest ``is_deleted``."""
    rows = _warehouse_rows(  # oldest first: on an append-only lake the latest flag wins
        f'select record_key, is_deleted from "{dataset}"."{TABLE}" '
        f"where table_name = '{table}' order by detected_at, _dlt_load_id"
    )
    return {str(k): bool(d) for k, d in rows or []}


def _source_key(table: str, key: str, schema: str | None) -> sa.ColumnClause[Any]:
    return sa.table(table, sa.column(key), schema=schema).c[key]


def source_keys(engine: sa.Engine, table: str, key: str, schema: str | None) -> pa.Array:
    """The keys the source table holds now (read through the driver's cursor, no ORM rows)."""
    query = str(sa.select(_source_key(table, key, schema)).compile(engine))
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(query).cursor.fetchall()
    return as_keys([r[0] for r in rows])


def reconcile(
    landed: pa.Array, present: pa.Array, flagged: dict[str, bool]
) -> tuple[list[str], list[str]]:
    """Landed keys newly gone from the source, and deleted-flagged keys that are back (as text)."""
    landed, present = _comparable(landed, present)
    gone = landed.filter(pc.invert(pc.is_in(landed, value_set=present)))
    newly_gone = sorted(k for k in map(str, gone.to_pylist()) if not flagged.get(k, False))
    deleted = [k for k, is_deleted in flagged.items() if is_deleted]
    if not deleted:
        return newly_gone, []
    is_back = pc.is_in(pa.array(deleted, pa.string()), value_set=present.cast(pa.string()))
    back = [k for k, b in zip(deleted, is_back.to_pylist(), strict=True) if b]
    return newly_gone, sorted(back)


def live_count(landed: pa.Array, flagged: dict[str, bool]) -> int:
    """Landed keys not recorded as deleted."""
    deleted = [k for k, is_deleted in flagged.items() if is_deleted]
    if not deleted:
        return len(landed)
    known = pc.is_in(landed.cast(pa.string()), value_set=pa.array(deleted, pa.string()))
    return len(landed) - int(pc.sum(known).as_py() or 0)


# Integer keys are first compared by a fingerprint computed in SQL on each side (count, sum and
# a bounded sum of squares of the keys up to the highest landed one); the keys are read and
# compared one by one only when the fingerprints differ. sum((k % M)^2) stays within int64 for
# up to ~2 billion rows.
MODULUS = 65521
Fingerprint = tuple[int, int, int]


def _as_fingerprint(row: Any) -> Fingerprint:
    count, total, squares = (int(v or 0) for v in row[:3])
    return count, total, squares


def landed_fingerprint(
    dataset: str, table: str, key: str, flagged: dict[str, bool]
) -> tuple[Fingerprint, int] | None:
    """The fingerprint of the landed keys not flagged deleted, and the highest landed key.

    None when the table does not exist yet or its keys are not integers.
    """
    column = f'"{key}"'
    squares = f"({column} % {MODULUS}) * ({column} % {MODULUS})"
    landed = f'"{dataset}"."{table}"'
    if warehouse.appends_only(warehouse.current("loader")):  # a key may have several versions
        landed = f'(select distinct {column} from "{dataset}"."{table}") as landed'
    rows = _warehouse_rows(
        f"select count(*), sum({column}), sum({squares}), max({column}) from {landed}"
    )
    if not rows or not isinstance(rows[0][3], int):
        return None
    deleted = [k for k, is_deleted in flagged.items() if is_deleted]
    if not all(k.lstrip("-").isdigit() for k in deleted):
        return None
    count, total, squares_sum = _as_fingerprint(rows[0])
    for k in map(int, deleted):  # raw keeps deleted rows: take them out of the landed side
        count, total, squares_sum = count - 1, total - k, squares_sum - (k % MODULUS) ** 2
    return (count, total, squares_sum), int(rows[0][3])


def source_fingerprint(
    engine: sa.Engine, table: str, key: str, schema: str | None, highest: int
) -> Fingerprint | None:
    """The fingerprint of the source's keys up to ``highest`` (None if it cannot be computed)."""
    column = _source_key(table, key, schema)
    query = sa.select(
        sa.func.count(), sa.func.sum(column), sa.func.sum((column % MODULUS) * (column % MODULUS))
    ).where(column <= highest)
    try:
        with engine.connect() as conn:
            return _as_fingerprint(conn.execute(query).one())
    except (sa.exc.DBAPIError, TypeError, ValueError):
        return None


def unchanged(
    engine: sa.Engine, dataset: str, table: str, spec: dict[str, Any], flagged: dict[str, bool]
) -> bool:
    """Whether the fingerprints say no landed key is gone and no deleted key is back."""
    key = spec["primary_key"]
    landed = landed_fingerprint(dataset, table, key, flagged)
    if landed is None:
        return False
    fingerprint, highest = landed
    return source_fingerprint(engine, table, key, spec.get("schema"), highest) == fingerprint


def deleted_records_resource(
    source_name: str,
    dataset: str | None,
    credentials: str,
    tables: dict[str, dict[str, Any]],
    max_delete_share: float = DEFAULT_MAX_DELETE_SHARE,
) -> DltResource:
    """A resource recording the hard deletes of the tables flagged ``detect_hard_deletes``.

    Args:
        source_name: the source's name (the resource is ``<source>_deleted_records``).
        dataset: the raw dataset the tables land in; None: the running pipeline's dataset.
        credentials: SQLAlchemy URL of the source database.
        tables: the ``tables`` entry of the sources file.
        max_delete_share: the share of a table's live keys one run may record as deleted,
            for tables that set none (``evidence.py``).

    Raises:
        DeletesRefused: when extracted, a table lost more than its share of keys or is empty.
    """
    watched = {t: s for t, s in tables.items() if (s or {}).get("detect_hard_deletes")}
    for table, spec in watched.items():
        if not isinstance(spec.get("primary_key"), str):
            raise ValueError(
                f"source {source_name!r}, table {table!r}: detect_hard_deletes needs a "
                f"single-column primary_key, got {spec.get('primary_key')!r}"
            )

    @dlt.resource(
        name=f"{source_name}_{TABLE}",
        table_name=TABLE,
        write_disposition="merge",
        primary_key=list(PRIMARY_KEY),
        columns=COLUMNS,
        file_format=FILE_FORMAT,
    )
    def deleted_records() -> Iterator[Any]:
        yield dlt.mark.materialize_table_schema()
        if not watched:
            return
        landed_in = dataset or dlt.current.pipeline().dataset_name
        engine = sa.create_engine(credentials)
        now = datetime.now(UTC)
        rows, refused = [], []
        try:
            for table, spec in watched.items():
                key = spec["primary_key"]
                flagged = flagged_keys(landed_in, table)
                if unchanged(engine, landed_in, table, spec, flagged):
                    continue
                landed = landed_keys(landed_in, table, key)
                if landed is None:
                    continue
                present = source_keys(engine, table, key, spec.get("schema"))
                gone, back = reconcile(landed, present, flagged)
                share = spec.get("max_delete_share")
                check = DeleteCheck(
                    table, live_count(landed, flagged), len(present), len(gone),
                    max_delete_share if share is None else share,
                )  # fmt: skip
                if check.refused:
                    refused.append(check)
                    continue
                rows += [
                    {"table_name": table, "record_key": k, "key_column": key,
                     "is_deleted": deleted, "detected_at": now}
                    for keys, deleted in ((gone, True), (back, False))
                    for k in keys
                ]  # fmt: skip
        finally:
            engine.dispose()
        if refused:
            raise DeletesRefused(source_name, refused, config.shown(config.sources_file()))
        if rows:
            yield rows

    return deleted_records
