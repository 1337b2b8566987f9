"""The watch mode's feed of a ``postgres_cdc`` source: its slot peeked for a waiting change.

``pg_logical_slot_peek_binary_changes`` decodes from the slot's confirmed position without
consuming anything, up to the first transaction that touches a published table (``pgoutput``
skips the others), so the answer costs one short query while the load keeps sole charge of
confirming the slot. The first poll always hands out a batch (a new slot and its snapshot are the
load's business), and so does a slot that cannot be peeked for a reason the load must report,
or one that holds back more than ``move_on_bytes`` of WAL without a published change (the load
then streams over it and confirms the slot past it, so idle peeks stay short).
"""

from __future__ import annotations

import logging
from contextlib import closing
from typing import TYPE_CHECKING

from orchestration.feeds import Batch

if TYPE_CHECKING:
    from ingestion.config import SourceConfig

log = logging.getLogger(__name__)

PEEK = (
    "select (select count(*) from pg_logical_slot_peek_binary_changes("
    "%s, NULL, 1, 'proto_version', '1', 'publication_names', %s)),"
    " (select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)"
    " from pg_replication_slots where slot_name = %s)"
)
MOVE_ON_BYTES = 64 << 20
SLOT_BUSY = "55006"  # object_in_use: another process streams the slot right now


class SlotChanges:
    """Changes waiting in a ``postgres_cdc`` source's replication slot."""

    def __init__(
        self, source: str, url: str, slot: str, publication: str, move_on_bytes: int = MOVE_ON_BYTES
    ) -> None:
        self.source = source
        self.url = url
        self.slot = slot
        self.publication = publication
        self.move_on_bytes = move_on_bytes
        self._first = True

    @classmethod
    def of(cls, config: SourceConfig) -> SlotChanges:
        """The feed of a declared source, its settings resolved as its load resolves them."""
        from ingestion import config as sources
        from ingestion import rejects
        from ingestion.postgres_cdc.source import SLOTS

        sources.build_source(config, rejects.RejectCounter())  # connects to nothing
        slot = SLOTS[config.name]
        return cls(config.name, slot.url, slot.name, slot.publication)

    def poll(self) -> Batch | None:
        """A batch when a change waits in the slot (or on the first poll); None otherwise."""
        if self._first:
            return Batch(self.source, ("first poll: the slot decides",))
        import psycopg2

        from ingestion.postgres_cdc import replication

        try:
            with closing(replication.connect(self.url)) as conn, conn.cursor() as cur:
                cur.execute(PEEK, (self.slot, self.publication, self.slot))
                waiting, retained = cur.fetchone()
        except psycopg2.Error as exc:
            if exc.pgcode == SLOT_BUSY:  # a scheduled run is reading it: ask again next cycle
                return None
            log.warning("%s: slot %s not peeked (%s): loading", self.source, self.slot, exc.pgcode)
            return Batch(self.source, (f"slot {self.slot}: not peeked, the load says why",))
        if waiting:
            return Batch(self.source, (f"slot {self.slot}: changes waiting",))
        if retained is not None and retained > self.move_on_bytes:
            return Batch(self.source, (f"slot {self.slot}: {int(retained):,} bytes to move on",))
        return None

    def commit(self, batch: Batch) -> None:
        """The load confirmed the slot itself; only the first poll is behind us."""
        del batch
        self._first = False
