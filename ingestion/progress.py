"""Progress of ``python -m ingestion`` per source and table: rows read, files, rate.

On a terminal (``"live"``) a table redrawn in place (rich), kept on screen once a source is
done; otherwise (``"lines"``) plain lines, one per table and step when the step ends and one
every ``HEARTBEAT_S`` while a step runs long. Both go to stderr (stdout carries the summary).
Fed by dlt's progress collector: extract counts rows per table, normalize counts files and
rows, load counts files (dlt's "jobs").
"""

from __future__ import annotations

import atexit
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from dlt.common.runtime.collector import Collector

HEARTBEAT_S = 10.0
_shown: list[Any] = []  # the one live display on screen (rich allows one at a time)
STEPS = {"Extract": "extract", "Normalize": "normalize", "Load": "load"}


@dataclass
class TableProgress:
    """One table of a source: rows read (extract) and rows normalized."""

    rows: int = 0
    normalized: int = 0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    def rate(self, now: float | None = None) -> float:
        """Rows read per second."""
        elapsed = (self.ended or now or time.monotonic()) - self.started
        return self.rows / elapsed if elapsed > 0 else 0.0


@dataclass
class SourceProgress:
    """One source: its current step, its tables and its files."""

    source: str
    step: str = "starting"
    tables: dict[str, TableProgress] = field(default_factory=dict)
    files_normalized: int = 0
    files_loaded: int = 0
    files_to_load: int = 0
    touched: set[str] = field(default_factory=set)  # tables read in the current extract step


def render_table(source: SourceProgress, now: float | None = None) -> Any:
    """A rich table of one source: a row per table, a caption with the step and the files."""
    from rich.table import Table
    from rich.text import Text  # names are never read as console markup

    table = Table(title=Text(f"{source.source}: {source.step}"), title_justify="left")
    for column in ("table", "rows read", "rows/s", "rows normalized"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name, t in sorted(source.tables.items()):
        table.add_row(Text(name), f"{t.rows:,}", f"{t.rate(now):,.0f}", f"{t.normalized:,}")
    table.caption = Text(
        f"files: {source.files_normalized:,} normalized, "
        f"{source.files_loaded:,}/{source.files_to_load:,} loaded"
    )
    return table


def plain_lines(source: SourceProgress, step: str, now: float | None = None) -> list[str]:
    """The plain lines of one step of a source (what a log or a pipe shows)."""
    name = source.source
    if step == "extract":  # only the tables this step read (dlt may extract its state alone)
        return [
            f"{name} extract {table}: {t.rows:,} rows ({t.rate(now):,.0f} rows/s)"
            for table, t in sorted(source.tables.items())
            if table in source.touched
        ]
    if step == "normalize":
        return [f"{name} normalize: {source.files_normalized:,} files"]
    return [f"{name} load: {source.files_loaded:,}/{source.files_to_load:,} files"]


class ProgressCollector(Collector):
    """dlt's collector for one source, feeding a live table or plain lines."""

    def __init__(self, source: str, live: bool, stream: TextIO | None = None) -> None:
        self.progress = SourceProgress(source)
        self.live = live
        self.stream = stream or sys.stderr
        self.step = ""
        self._live: Any = None
        self._last_line = time.monotonic()

    def update(
        self,
        name: str,
        inc: int = 1,
        total: int | None = None,
        inc_total: int | None = None,
        message: str | None = None,
        label: str | None = None,
    ) -> None:
        p = self.progress
        if label:  # dlt's second counter of failed jobs: the run's result reports failures
            return
        if name.startswith("_dlt"):  # dlt's own bookkeeping tables (its state)
            pass
        elif p.step == "extract" and name != "Resources":
            p.tables.setdefault(name, TableProgress()).rows += inc
            p.touched.add(name)
        elif p.step == "normalize" and name == "Files":
            p.files_normalized += inc
        elif p.step == "normalize":
            p.tables.setdefault(name, TableProgress()).normalized += inc
        elif p.step == "load" and name == "Jobs":
            p.files_loaded += inc
            p.files_to_load = total if total is not None else p.files_to_load + (inc_total or 0)
        self._refresh()

    def _start(self, step: str) -> None:
        self.progress.step = next((s for k, s in STEPS.items() if step.startswith(k)), step)
        self.progress.touched = set()
        if self.live and self._live is None:
            from rich.console import Console
            from rich.live import Live

            end_live_display()  # a source that failed, or loaded nothing, leaves its table
            console = Console(file=self.stream)
            self._live = Live(render_table(self.progress), console=console, transient=False,
                              refresh_per_second=4, redirect_stdout=False)  # fmt: skip
            self._live.start()
            _shown.append(self._live)

    def _stop(self) -> None:
        p, now = self.progress, time.monotonic()
        if p.step == "extract":
            for name in p.touched:
                p.tables[name].ended = now
        if self._live is not None:
            self._live.update(render_table(p), refresh=True)
            if p.step == "load":  # the source is done: its last frame stays on screen
                end_live_display()
                self._live = None
        else:
            self._write(plain_lines(p, p.step))

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(render_table(self.progress))
        elif time.monotonic() - self._last_line >= HEARTBEAT_S:
            self._write(
                [f"{line} so far" for line in plain_lines(self.progress, self.progress.step)]
            )

    def _write(self, lines: list[str]) -> None:
        self._last_line = time.monotonic()
        for line in lines:
            print(line, file=self.stream, flush=True)


@atexit.register
def end_live_display() -> None:
    """Stop the live display on screen, if any, leaving its last frame (and the cursor) shown."""
    while _shown:
        _shown.pop().stop()


def collector(progress: Any, source: str) -> Any:
    """dlt's ``progress`` for one source: ``"live"``/``"lines"`` become a ``ProgressCollector``."""
    if progress in ("live", "lines"):
        return ProgressCollector(source, live=progress == "live")
    return progress
