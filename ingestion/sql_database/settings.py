"""Typed settings of the database source type (checked before dlt is imported)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from ingestion.typed_settings import ColumnNames, Settings, WindowFormat, bare_entries

Backend = Literal["pyarrow", "connectorx", "sqlalchemy", "pandas"]
NonNegativeSeconds = Annotated[float, Field(ge=0)]
# a share of a table's landed keys: 0 refuses every hard delete, 1 accepts any number
Share = Annotated[float, Field(ge=0, le=1)]

DEFAULT_BACKEND: Backend = "pyarrow"
DEFAULT_CHUNK_SIZE = 100_000
DEFAULT_LAG_SECONDS = 3600.0
DEFAULT_MAX_DELETE_SHARE = 0.1


class TableSettings(Settings):
    """One table: merged on ``primary_key`` (else appended), incremental on ``cursor``."""

    primary_key: ColumnNames | None = None
    cursor: str | None = None
    # a cursor column of text or numbers: how it is written (datetime, epoch_s, a strftime
    # format, ...), so a --start/--end window is compared alike; unset: a date/time column
    window_format: WindowFormat | None = None
    # re-read this many seconds before the last cursor value (the source's default otherwise)
    lag_seconds: NonNegativeSeconds | None = None
    # record rows removed from the source in ``deleted_records`` (see deletes.py)
    detect_hard_deletes: bool = False
    # the largest share of landed keys one run may record as deleted (the source's otherwise)
    max_delete_share: Share | None = None
    schema_: str | None = Field(default=None, alias="schema")
    resource_name: str | None = None

    @model_validator(mode="after")
    def _one_key_column_for_hard_deletes(self) -> TableSettings:
        if self.detect_hard_deletes and not isinstance(self.primary_key, str):
            raise ValueError("detect_hard_deletes needs a single-column primary_key")
        return self


class SqlDatabaseSettings(Settings):
    """One database: its URL (a secret) and the tables to load."""

    credentials: str | None = None
    backend: Backend = DEFAULT_BACKEND
    # rows per read: SQLAlchemy holds a chunk as Python rows, so it bounds memory
    chunk_size: PositiveInt = DEFAULT_CHUNK_SIZE
    lag_seconds: NonNegativeSeconds = DEFAULT_LAG_SECONDS
    # a run that finds more of a table's landed keys gone fails instead (see deletes.py)
    max_delete_share: Share = DEFAULT_MAX_DELETE_SHARE
    tables: dict[str, TableSettings] = Field(min_length=1)

    @field_validator("tables", mode="before")
    @classmethod
    def _bare_tables(cls, value: object) -> object:
        """``products:`` with nothing under it is a table with default settings."""
        return bare_entries(value)
