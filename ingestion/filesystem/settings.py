"""Typed settings of the file-drop source type (checked before dlt is imported)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, PositiveInt, ValidationInfo, field_validator

from ingestion.typed_settings import ColumnNames, SecretValue, Settings, WindowFormat

# How a declared column is typed (``columns.ARROW_TYPES`` holds the Arrow type of each).
ColumnKind = Literal["string", "int64", "float64", "bool", "timestamptz", "json_text", "decimal"]

DEFAULT_GLOBS = ("**/*.parquet", "**/*.jsonl.gz", "**/*.jsonl", "**/*.csv")
DEFAULT_PARTITION_PATTERN = r"date=(\d{4}-\d{2}-\d{2})"
DEFAULT_TABLE = "events"
DEFAULT_PRIMARY_KEY = "event_id"
DEFAULT_BATCH_ROWS = 200_000


class FilesystemSettings(Settings):
    """One file drop: where the files are and the row contract they must keep."""

    bucket_url: str = Field(min_length=1)
    columns: dict[str, ColumnKind] = Field(min_length=1)
    credentials: SecretValue | None = None
    # one glob per format; the reader is chosen by the file name's ending
    globs: list[str] = Field(default_factory=lambda: list(DEFAULT_GLOBS), min_length=1)
    table: str = DEFAULT_TABLE
    primary_key: ColumnNames = DEFAULT_PRIMARY_KEY
    required: list[str] = Field(default_factory=list)
    # a regex whose first group is the partition of a path (--start/--end), written as
    # window_format says (date: YYYY-MM-DD; datetime, epoch_s, epoch_ms or a strftime format)
    partition_pattern: str = DEFAULT_PARTITION_PATTERN
    window_format: WindowFormat = "date"
    # rows per Arrow batch, i.e. per Parquet row group the loader writes
    batch_rows: PositiveInt = DEFAULT_BATCH_ROWS

    @field_validator("required")
    @classmethod
    def _declared(cls, value: list[str], info: ValidationInfo) -> list[str]:
        columns = info.data.get("columns")
        undeclared = [name for name in value if columns is not None and name not in columns]
        if undeclared:
            raise ValueError(f"required columns {undeclared} are not declared in columns")
        return value

    @field_validator("partition_pattern")
    @classmethod
    def _one_group(cls, value: str) -> str:
        try:
            groups = re.compile(value).groups
        except re.error as exc:
            raise ValueError(f"not a regular expression ({exc})") from None
        if groups < 1:
            raise ValueError("needs a group holding the partition (see window_format)")
        return value
