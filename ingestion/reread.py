"""A full re-read of one source: every resource from its beginning, with evidence first.

``--full-refresh`` wipes the state of the source's resources (its cursors), as dlt's
``refresh="drop_data"`` does, but keeps its tables: rows are merged on their keys, so what a
source no longer serves (a hard-deleted CRM customer) stays in raw and the marts rebuilt from
raw equal the incremental history. ``--reload`` is dlt's ``drop_data`` itself: the source's
tables are emptied in the same load (truncated, not dropped: dbt views on raw tables block
``DROP TABLE``), and rows the source no longer serves are forgotten.

Either way the extracted rows are counted before anything is loaded: a re-read that brings no
row for any data table while the dataset holds rows is a source that looks empty (a restore in
progress, the wrong database or folder), not an empty source. It loads nothing, empties
nothing, and leaves the cursors as the warehouse holds them.
"""

from __future__ import annotations

import logging
from typing import Any

from dlt.extract.state import reset_resource_state

from ingestion import rejects

logger = logging.getLogger(__name__)

# Tables that record what a run found rather than what the source holds.
BOOKKEEPING = (rejects.TABLE, "deleted_records", "file_registry")


class EmptyReread(RuntimeError):
    """A full re-read found no row in a source whose dataset holds rows."""


def data_rows(counts: dict[str, int]) -> int:
    """Rows of the data tables in ``counts`` (dlt's and the bookkeeping tables left out)."""
    return sum(
        n
        for table, n in counts.items()
        if not table.startswith("_dlt_") and table not in BOOKKEEPING
    )


def reset_cursors(pipeline: Any, source: Any) -> list[str]:
    """Wipe the state of the source's resources (cursors), keeping its tables and rows.

    The state the warehouse holds is synced first, so the reset applies to the latest cursors.

    Returns:
        The resources whose state was wiped.
    """
    pipeline.sync_destination()
    with pipeline.managed_state() as state:
        source_state = state.get("sources", {}).get(source.name) or {}
        known = source_state.get("resources", {})
        reset = [r.name for r in source.resources.extracted if r.name in known]
        for name in reset:
            reset_resource_state(name, source_state)
    return reset


def _extracted_rows(pipeline: Any) -> dict[str, int]:
    """Rows per table of the last extract."""
    info = pipeline.last_trace.last_extract_info if pipeline.last_trace else None
    counts: dict[str, int] = {}
    for metrics in (info.metrics if info is not None else {}).values():
        for step in metrics:
            for table, written in step["table_metrics"].items():
                counts[table] = counts.get(table, 0) + written.items_count
    return counts


def reread(pipeline: Any, source: Any, before: dict[str, int], reload: bool = False) -> Any:
    """Extract ``source`` from its beginning, check the evidence, then normalize and load.

    Args:
        pipeline: the source's dlt pipeline (nothing pending).
        source: the dlt source.
        before: rows per table the dataset holds now.
        reload: empty the source's tables in the same load (dlt's ``drop_data``); otherwise
            merge onto them.

    Returns:
        dlt's load info.

    Raises:
        EmptyReread: nothing was read for any data table although the dataset holds rows;
            the extracted package and the local state are dropped, nothing is loaded.
    """
    if reload:
        pipeline.sync_destination()
    else:
        reset = reset_cursors(pipeline, source)
        logger.info("%s: cursors reset for %s", source.name, ", ".join(reset) or "none")
    try:
        pipeline.extract(source, refresh="drop_data" if reload else None)
    except Exception:
        pipeline.drop()  # the next run starts from the warehouse's state: cursors as they were
        raise
    held, read = data_rows(before), data_rows(_extracted_rows(pipeline))
    if held and not read:
        pipeline.drop()
        emptied = "emptied" if reload else "changed"
        raise EmptyReread(
            f"a full re-read found no rows, though {source.name}'s dataset holds {held:,}: the "
            f"source looks empty (a restore in progress? the wrong database, schema or folder?);"
            f" nothing was loaded or {emptied} and the cursors stand. Run again once the source"
            f" serves its data"
        )
    pipeline.normalize()
    return pipeline.load()
