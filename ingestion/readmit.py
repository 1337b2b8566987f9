"""Replay: re-admit rejected records that now parse, exactly once (implemented below)."""

from __future__ import annotations

from ingestion.summary import RunSummary


def replay(sources: list[str] | None = None) -> RunSummary:
    """Placeholder until implemented."""
    raise NotImplementedError
