"""What one benchmark run measured: steps, targets and how they compare."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

GIB = 1024**3


@dataclass
class StepResult:
    """One measured (or derived) step of the run.

    ``rows / wall_s`` is the throughput; ``extrapolated`` marks figures computed from a slice,
    ``derived`` those summed from other steps rather than measured as one process.
    """

    id: str
    label: str
    group: str  # demo | limit | project | naive
    warehouse: str | None = None
    rows: int | None = None
    wall_s: float | None = None
    peak_rss_bytes: int | None = None
    ok: bool = True
    error: str | None = None
    extrapolated: bool = False
    derived: bool = False
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float | None:
        """Rows moved per second of wall time, when both are known."""
        if not self.rows or not self.wall_s:
            return None
        return self.rows / self.wall_s

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, throughput included."""
        data = asdict(self)
        data["rows_per_s"] = self.rows_per_s
        return data


@dataclass
class TargetResult:
    """One target of the issue, checked against this run's figures.

    ``value`` is compared with ``threshold`` using ``op`` (``<=`` or ``>=``); ``unit`` is
    ``x`` (a ratio), ``s`` (seconds) or ``bytes``. ``met`` is None when a figure is missing.
    """

    id: str
    label: str
    step_id: str | None
    value: float | None
    threshold: float
    op: str
    unit: str
    met: bool | None
    baseline: str = ""
    missed_by: str = ""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)
