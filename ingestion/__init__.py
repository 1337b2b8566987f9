"""dlt loaders: land the source systems' data unchanged in ``raw_<system>`` datasets.

Entry points (see docs/interfaces.md): ``run()`` and ``replay()``, both returning a
``RunSummary``; ``python -m ingestion`` is the CLI.
"""

from __future__ import annotations

from typing import Any

from ingestion.summary import RunSummary, TableCounts

__all__ = ["RunSummary", "TableCounts", "replay", "run"]


def run(*args: Any, **kwargs: Any) -> RunSummary:
    """Run the loaders; see ``ingestion.runner.run``."""
    from ingestion.runner import run as _run

    return _run(*args, **kwargs)


def replay(*args: Any, **kwargs: Any) -> RunSummary:
    """Re-admit rejected records that now parse; see ``ingestion.readmit.replay``."""
    from ingestion.readmit import replay as _replay

    return _replay(*args, **kwargs)
