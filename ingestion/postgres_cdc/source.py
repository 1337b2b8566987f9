"""The ``@dlt.source`` of the PostgreSQL change-data-capture type.

One resource, ``changes``, reads the system's slot and lands each published table's changes in
a table of the same name: append-only, one row per change, keyed by (commit LSN, position in
the transaction) so a re-read lands nothing twice. The first run creates the slot and lands the
tables as of its start (operation ``snapshot``). The position landed is kept in dlt's state,
which commits with the load; only then is the slot confirmed (``confirm_landed``), so a run
killed anywhere is re-read from the slot by the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue
from dlt.extract import DltResource

from ingestion import rejects
from ingestion.config import resolve_secret
from ingestion.postgres_cdc import pgoutput, replication
from ingestion.postgres_cdc.changes import KEY, SNAPSHOT, Batches, TableShape, change_values
from ingestion.postgres_cdc.settings import PostgresCdcSettings
from ingestion.run_options import RunOptions
from ingestion.sql_database.helpers import engine_url
from ingestion.typed_settings import validated

logger = logging.getLogger(__name__)

RESOURCE = "changes"


@dataclass(frozen=True)
class Slot:
    """Where a system's slot lives: what ``confirm_landed`` needs after the load."""

    url: str
    name: str
    max_retained_wal_bytes: int
    publication: str


SLOTS: dict[str, Slot] = {}  # by system, set when the source is built


@dlt.source(name="postgres_cdc", section="postgres_cdc", max_table_nesting=0)
def postgres_cdc_source(
    credentials: TSecretStrValue = dlt.secrets.value,
    tables: dict[str, Any] = dlt.config.value,
    slot: str | None = None,
    publication: str | None = None,
    batch_rows: int | None = None,
    max_wait_s: float | None = None,
    max_retained_wal_bytes: int | None = None,
    run: RunOptions | None = None,
) -> list[DltResource]:
    """A PostgreSQL database's changes through a logical replication slot (``pgoutput``).

    Args:
        credentials: SQLAlchemy URL of the database (or a ``secret:``/``file:`` reference); a
            role with REPLICATION and SELECT on the tables.
        tables: ``{table: {primary_key, schema}}``, the tables of the publication.
        slot: the replication slot (``<system>_cdc``).
        publication: the publication (``<system>_cdc``), created when missing.
        batch_rows: rows per Arrow batch.
        max_wait_s: the longest wait for the server to stream up to the run's start position.
        max_retained_wal_bytes: read by ``status`` (WAL the slot may hold back).
        run: this run's reject counter (the database types every value: none are rejected).
    """
    name = dlt.current.source_schema().name
    given = {
        "tables": tables,
        "slot": slot,
        "publication": publication,
        "batch_rows": batch_rows,
        "max_wait_s": max_wait_s,
        "max_retained_wal_bytes": max_retained_wal_bytes,
    }
    settings = validated(
        PostgresCdcSettings, name, {k: v for k, v in given.items() if v is not None}
    )
    url = engine_url(resolve_secret(credentials, where=f"{name}.credentials"), name)
    slot_name = settings.slot or f"{name}_cdc"
    publication = settings.publication or f"{name}_cdc"
    SLOTS[name] = Slot(url, slot_name, settings.max_retained_wal_bytes, publication)
    del run  # nothing is rejected; the table exists for a uniform raw layer
    return [rejects.rejected_records_resource(name), _changes(url, slot_name, settings, name)]


def _changes(url: str, slot: str, settings: PostgresCdcSettings, system: str) -> DltResource:
    publication = settings.publication or f"{system}_cdc"
    tables = [(spec.schema_, table) for table, spec in settings.tables.items()]

    @dlt.resource(
        name=RESOURCE,
        write_disposition={"disposition": "merge", "strategy": "insert-only"},
        primary_key=KEY,
    )
    def changes() -> Iterator[Any]:
        state = dlt.current.resource_state()
        batches = Batches(settings.batch_rows)
        with closing(replication.connect(url)) as conn:
            replication.ensure_publication(conn, publication, tables)
            position = replication.slot_position(conn, slot)
            landed: int | None = state.get("lsn")
            if landed is None:  # nothing landed yet: a new slot and its snapshot
                if position is not None:
                    replication.drop_slot(conn, slot)  # left by a run killed before its load
                landed = yield from _snapshot(url, slot, tables, batches)
                state.update(lsn=landed, snapshot_lsn=landed, slot=slot)
            elif position is None:
                raise replication.CdcError(
                    f"{system}: slot {slot!r} does not exist but changes up to "
                    f"{pgoutput.lsn_text(landed)} were landed: the changes since are lost to "
                    "this reader; load the tables again with `--reload --yes`"
                )
            elif position > landed:
                raise replication.CdcError(
                    f"{system}: slot {slot!r} was confirmed to {pgoutput.lsn_text(position)}, "
                    f"past the {pgoutput.lsn_text(landed)} landed (another reader, or a "
                    "warehouse restored from a backup): load again with `--reload --yes`"
                )
            target = replication.current_lsn(conn)
        with closing(replication.connect(url, replication=True)) as repl:
            reached = yield from _stream(repl, slot, publication, landed, target, settings, batches)
        yield from _marked(batches.flush())
        state["lsn"] = reached

    return changes


def _marked(tables: Iterator[tuple[str, Any]]) -> Iterator[Any]:
    for table, arrow in tables:
        yield dlt.mark.with_table_name(arrow, table)


def _snapshot(
    url: str, slot: str, tables: list[tuple[str, str]], batches: Batches
) -> Generator[Any, None, int]:
    """Create the slot and land the tables as of its start; returns its consistent point."""
    with closing(replication.connect(url, replication=True)) as repl:
        consistent_point, snapshot = replication.create_slot(repl, slot)
        taken_at = datetime.now(UTC)
        seq: dict[str, int] = {}
        for table, columns, rows in replication.read_snapshot(
            url, snapshot, tables, batches.batch_rows
        ):
            shape = TableShape.of(table, [(c.name, c.type_oid, c.type_modifier) for c in columns])
            yield from _marked(batches.set_shape(shape))
            for row in rows:
                seq[table] = seq.get(table, 0) + 1
                yield from _marked(
                    batches.add(table, row, SNAPSHOT, consistent_point, seq[table], taken_at)
                )
        yield from _marked(batches.flush())
    logger.info("slot %s created at %s", slot, pgoutput.lsn_text(consistent_point))
    return consistent_point


def _stream(
    repl: Any,
    slot: str,
    publication: str,
    landed: int,
    target: int,
    settings: PostgresCdcSettings,
    batches: Batches,
) -> Generator[Any, None, int]:
    """Land every change committed from ``landed`` up to ``target``; returns the position
    reached (what the slot may be confirmed to once this is loaded)."""
    relations: dict[int, pgoutput.Relation] = {}
    begin: pgoutput.Begin | None = None
    seq, reached = 0, landed
    for message, resume in replication.stream(
        repl, slot, publication, landed, target, settings.max_wait_s
    ):
        reached = resume
        if isinstance(message, pgoutput.Relation):
            relations[message.oid] = message
            shape = TableShape.of(
                message.name, [(c.name, c.type_oid, c.type_modifier) for c in message.columns]
            )
            yield from _marked(batches.set_shape(shape))
        elif isinstance(message, pgoutput.Begin):
            begin, seq = message, 0
        elif isinstance(message, pgoutput.Change) and begin is not None:
            if begin.final_lsn < landed:
                continue  # landed already (the server skips these too)
            relation = relations[message.relation_oid]
            key = [i for i, c in enumerate(relation.columns) if c.is_key]
            for op, values in change_values(message, key):
                seq += 1  # noqa: SIM113 (counts across the transaction's changes)
                yield from _marked(
                    batches.add(relation.name, values, op, begin.final_lsn, seq, begin.committed_at)
                )
        elif isinstance(message, pgoutput.Truncate):
            names = [relations[o].name for o in message.relation_oids if o in relations]
            raise replication.CdcError(
                f"TRUNCATE of {names} is not supported by the change tables: load the system "
                "again with `--reload --yes`"
            )
    return reached


def confirm_landed(system: str, pipeline: Any) -> int | None:
    """Confirm the system's slot up to the position its last load committed; returns the
    slot's confirmed position (None when the system has no slot yet)."""
    slot = SLOTS.get(system)
    resources = pipeline.state.get("sources", {}).get(system, {}).get("resources", {})
    landed = resources.get(RESOURCE, {}).get("lsn")
    if slot is None or landed is None:
        return None
    with closing(replication.connect(slot.url)) as conn:
        return replication.advance_slot(conn, slot.name, int(landed))
