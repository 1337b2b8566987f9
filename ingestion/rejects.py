"""The ``rejected_records`` table every raw dataset carries.

A record that cannot be parsed or breaks the load contract is kept here with where it came
from and why, instead of being dropped. Rows merge on (``location``, ``position``) so a record
re-read by a later run is not counted twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import dlt
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract import DltResource
from dlt.extract.items import DataItemWithMeta

from ingestion import suppression

TABLE = "rejected_records"
PRIMARY_KEY = ("location", "position")
MAX_RAW_TEXT = 100_000
# Few rows; and an empty Parquet job file fails dlt's ADBC load into PostgreSQL.
FILE_FORMAT: Literal["insert_values"] = "insert_values"

COLUMNS: TTableSchemaColumns = {
    "source_name": {"name": "source_name", "data_type": "text", "nullable": False},
    "resource_name": {"name": "resource_name", "data_type": "text", "nullable": False},
    "location": {"name": "location", "data_type": "text", "nullable": False},
    "position": {"name": "position", "data_type": "bigint", "nullable": False},
    "raw_text": {"name": "raw_text", "data_type": "text", "nullable": True},
    "reason": {"name": "reason", "data_type": "text", "nullable": False},
    "rejected_at": {"name": "rejected_at", "data_type": "timestamp", "nullable": False},
}


def hints() -> Any:
    """Table hints for ``rejected_records`` (merge on location + position)."""
    return dlt.mark.make_hints(
        table_name=TABLE,
        write_disposition="merge",
        primary_key=list(PRIMARY_KEY),
        columns=COLUMNS,
        file_format=FILE_FORMAT,
    )


class RejectCounter(Counter[str]):
    """Rejected records of one run, counted per resource name.

    ``reread`` holds the locations (files) read in full by this run: their older rejected
    records are superseded by this run's (a corrected file must not keep stale rejects).
    """

    def __init__(self) -> None:
        super().__init__()
        self.reread: set[str] = set()


def storable(text: str) -> str:
    """Text both warehouses hold: NUL and bytes that are not UTF-8 written as escapes."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. bytes read with surrogateescape
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def record(
    source_name: str,
    resource_name: str,
    location: str,
    position: int,
    raw_text: str | None,
    reason: str,
) -> dict[str, Any]:
    """Build one rejected record row (text made storable: NUL and stray bytes escaped)."""
    if suppression.withholds(reason):  # a reason may quote the value it refused
        reason = "refused (reason withheld: it names an erased person)"
    if raw_text is not None and suppression.withholds(raw_text):
        raw_text = None
        reason = f"{reason} (raw_text withheld: it names an erased person)"
    if raw_text is not None and len(raw_text) > MAX_RAW_TEXT:
        raw_text = raw_text[:MAX_RAW_TEXT]
        reason = f"{reason} (raw_text cut to {MAX_RAW_TEXT} characters)"
    return {
        "source_name": source_name,
        "resource_name": resource_name,
        "location": storable(location),
        "position": int(position),
        "raw_text": None if raw_text is None else storable(raw_text),
        "reason": storable(reason),
        "rejected_at": datetime.now(UTC),
    }


def mark(rows: list[dict[str, Any]]) -> DataItemWithMeta:
    """Route rows to ``rejected_records`` from inside any resource."""
    return dlt.mark.with_hints(rows, hints(), create_table_variant=True)


def rejected_records_resource(source_name: str) -> DltResource:
    """A resource that makes sure ``rejected_records`` exists even when nothing is rejected."""

    @dlt.resource(
        name=f"{source_name}_rejected_records",
        table_name=TABLE,
        write_disposition="merge",
        primary_key=list(PRIMARY_KEY),
        columns=COLUMNS,
        file_format=FILE_FORMAT,
    )
    def rejected_records() -> Iterator[Any]:
        yield dlt.mark.materialize_table_schema()

    return rejected_records
