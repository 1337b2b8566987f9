"""Change rows gathered into Arrow tables, one per source table: the values as the source
holds them, typed, plus the change's operation, commit LSN, position and commit time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from ingestion.postgres_cdc import pgtypes
from ingestion.postgres_cdc.pgoutput import UNCHANGED, Change, Value

OP, LSN, SEQ, COMMITTED_AT = "_cdc_op", "_cdc_lsn", "_cdc_seq", "_cdc_committed_at"
SNAPSHOT, INSERT, UPDATE, DELETE = "snapshot", "insert", "update", "delete"
CDC_FIELDS = (
    pa.field(OP, pa.string(), nullable=False),
    pa.field(LSN, pa.int64(), nullable=False),
    pa.field(SEQ, pa.int64(), nullable=False),
    pa.field(COMMITTED_AT, pa.timestamp("us", tz="UTC"), nullable=False),
)
KEY = [LSN, SEQ]  # a change's identity: the same on every re-read of the stream


@dataclass
class TableShape:
    """A source table's columns as they are now: names, Arrow types, text parsers."""

    table: str
    names: tuple[str, ...]
    types: tuple[pa.DataType, ...]
    parsers: tuple[pgtypes.Parser, ...]

    @classmethod
    def of(cls, table: str, columns: Sequence[tuple[str, int, int]]) -> TableShape:
        typed = [pgtypes.arrow_type(oid, modifier) for _, oid, modifier in columns]
        return cls(
            table,
            tuple(name for name, _, _ in columns),
            tuple(t for t, _ in typed),
            tuple(p for _, p in typed),
        )

    def schema(self) -> pa.Schema:
        return pa.schema(
            [*(pa.field(n, t) for n, t in zip(self.names, self.types, strict=True)), *CDC_FIELDS]
        )


@dataclass
class Batches:
    """Rows of each table gathered until ``batch_rows`` (or a change of shape), then an Arrow
    table named after its source table."""

    batch_rows: int
    shapes: dict[str, TableShape] = field(default_factory=dict)
    _rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def set_shape(self, shape: TableShape) -> Iterator[tuple[str, pa.Table]]:
        """Use ``shape`` for the table's next rows (what was gathered in the old one goes)."""
        if self.shapes.get(shape.table) != shape:
            yield from self.flush(shape.table)
            self.shapes[shape.table] = shape

    def add(
        self,
        table: str,
        values: Sequence[Value],
        op: str,
        lsn: int,
        seq: int,
        committed_at: datetime,
    ) -> Iterator[tuple[str, pa.Table]]:
        """One change row from the source's text values (``None`` = null)."""
        shape = self.shapes[table]
        typed = tuple(
            None if v is None or v is UNCHANGED else parse(v)  # type: ignore[arg-type]
            for v, parse in zip(values, shape.parsers, strict=False)
        )
        padded = typed + (None,) * (len(shape.names) - len(typed))
        rows = self._rows.setdefault(table, [])
        rows.append((*padded, op, lsn, seq, committed_at))
        if len(rows) >= self.batch_rows:
            yield from self.flush(table)

    def flush(self, table: str | None = None) -> Iterator[tuple[str, pa.Table]]:
        """The gathered rows of one table (or of every table) as Arrow tables."""
        for name in [table] if table else list(self._rows):
            rows = self._rows.pop(name, [])
            if rows:
                schema = self.shapes[name].schema()
                columns = list(zip(*rows, strict=True))
                yield (
                    name,
                    pa.Table.from_arrays(
                        [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)],
                        schema=schema,
                    ),
                )


def change_values(change: Change, key: Sequence[int]) -> list[tuple[str, tuple[Value, ...]]]:
    """The change rows one pgoutput change makes: ``(operation, values)``.

    ``key`` holds the positions of the replica identity's columns. An update that moved the
    key is a delete of the old key, then the update; an unchanged TOASTed value is taken from
    the old row when the table sends it (``REPLICA IDENTITY FULL``), else left null.
    """
    if change.op == "delete":
        return [(DELETE, change.old or ())]
    new = change.new or ()
    if change.op == "insert":
        return [(INSERT, new)]
    old = change.old
    if old is None:
        return [(UPDATE, new)]
    merged = tuple(o if n is UNCHANGED else n for n, o in zip(new, old, strict=False))
    if any(old[i] != merged[i] for i in key):
        return [(DELETE, old), (UPDATE, merged)]
    return [(UPDATE, merged)]
