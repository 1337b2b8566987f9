"""The battery's two shared pieces: how big a run is, and where its figures go.

`make test` runs every battery test at its fast size; `make faults` sets `FAULTS_FULL=1` for the
full sizes and `FAULTS_REPORT_DIR` so each figure is written to the report (JSON + markdown).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FIGURES_FILE = "figures.jsonl"


def full_battery() -> bool:
    """True under `make faults` (FAULTS_FULL=1): run every test at its full size."""
    return os.environ.get("FAULTS_FULL", "") not in ("", "0", "false")


def size(fast: int, full: int) -> int:
    """How many repetitions a test makes: `fast` in `make test`, `full` in `make faults`."""
    return full if full_battery() else fast


@dataclass(frozen=True)
class Figure:
    """One measured figure of the battery and its pass criterion."""

    area: str  # e.g. "kill anywhere", "secrets"
    name: str  # what was measured, e.g. "duplicated rows in marts"
    value: float | int | str
    criterion: str  # human-readable pass value, e.g. "= 0"
    passed: bool
    warehouse: str = "-"  # duckdb | postgres | - (not warehouse-specific)
    detail: str = ""


def record(figure: Figure) -> None:
    """Append a figure to the report (only when FAULTS_REPORT_DIR is set, i.e. `make faults`).

    One JSON line per figure, appended with a single write: safe across xdist workers.
    """
    out = os.environ.get("FAULTS_REPORT_DIR")
    if not out:
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    line = json.dumps(asdict(figure), default=str) + "\n"
    with open(Path(out) / FIGURES_FILE, "a", encoding="utf-8") as fh:
        fh.write(line)


def write_report(out_dir: Path) -> Path | None:
    """Turn figures.jsonl into faults.json + faults.md; returns the markdown path."""
    source = out_dir / FIGURES_FILE
    if not source.exists():
        return None
    figures = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line]
    figures.sort(key=lambda f: (f["area"], f["name"], f["warehouse"]))
    passed = sum(1 for f in figures if f["passed"])
    (out_dir / "faults.json").write_text(
        json.dumps({"figures": figures, "passed": passed, "total": len(figures)}, indent=2) + "\n",
        encoding="utf-8",
    )
    lines = [
        "# Reliability and security battery",
        "",
        f"{passed} of {len(figures)} figures at their pass value "
        f"(`make faults`, full sizes: {full_battery()}).",
        "",
        "| area | figure | warehouse | value | pass when | ok | detail |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        ok = "yes" if f["passed"] else "**NO**"
        detail = str(f["detail"]).replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {f['area']} | {f['name']} | {f['warehouse']} | {f['value']} | "
            f"{f['criterion']} | {ok} | {detail} |"
        )
    md = out_dir / "faults.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md
