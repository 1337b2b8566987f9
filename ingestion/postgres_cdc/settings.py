"""Typed settings of the PostgreSQL change-data-capture type (checked before dlt is imported)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PositiveInt, StringConstraints, field_validator

from ingestion.typed_settings import ColumnNames, Settings, bare_entries

# a replication slot's name: lower-case letters, digits and underscores (PostgreSQL's rule)
SlotName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,63}$")]
PublicationName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]

DEFAULT_BATCH_ROWS = 50_000
DEFAULT_WAIT_S = 60.0


class CdcTableSettings(Settings):
    """One published table; its key names the entity for staging (the change rows are keyed
    by commit LSN and position)."""

    primary_key: ColumnNames | None = None
    schema_: str = Field(default="public", alias="schema")


class PostgresCdcSettings(Settings):
    """One PostgreSQL database read through a logical replication slot."""

    credentials: str | None = None
    # the slot and the publication; both default to ``<system>_cdc``
    slot: SlotName | None = None
    publication: PublicationName | None = None
    # rows per Arrow batch (bounds the loader's memory)
    batch_rows: PositiveInt = DEFAULT_BATCH_ROWS
    # the longest wait for the server to stream up to the position read at the start
    max_wait_s: Annotated[float, Field(gt=0)] = DEFAULT_WAIT_S
    # retained WAL (bytes) past which ``status`` reports the slot as growing without bound
    max_retained_wal_bytes: PositiveInt = 1 << 30
    tables: dict[str, CdcTableSettings] = Field(min_length=1)

    @field_validator("tables", mode="before")
    @classmethod
    def _bare_tables(cls, value: object) -> object:
        """``products:`` with nothing under it is a table with default settings."""
        return bare_entries(value)
