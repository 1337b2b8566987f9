"""dlt loaders: land the source systems' data unchanged in ``raw_<system>`` datasets.

``load()`` and ``replay()`` are the library's entry points; both return a
:class:`~ingestion.results.LoadReport`. They take no lock and keep no ledger: the run script
(``python -m orchestration``, or ``python -m ingestion``, a thin CLI over its load step) does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ingestion.results import LoadReport, SourceLoad, TableCounts

if TYPE_CHECKING:
    from datetime import date

__all__ = ["LoadReport", "SourceLoad", "TableCounts", "load", "replay"]


def load(
    sources: list[str] | None = None,
    full_refresh: bool = False,
    start: date | str | None = None,
    end: date | str | None = None,
    **kwargs: Any,
) -> LoadReport:
    """Load every enabled source (or the named ones); see :func:`ingestion.pipelines.load`."""
    from ingestion.pipelines import load as _load  # dlt is imported only when loading

    return _load(sources, full_refresh, start, end, **kwargs)


def replay(sources: list[str] | None = None) -> LoadReport:
    """Re-admit rejected records that now parse; see :func:`ingestion.readmit.replay`."""
    from ingestion.readmit import replay as _replay

    return _replay(sources)
