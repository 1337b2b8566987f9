"""A wall-clock limit per source, so one stuck system cannot hold the run lock forever.

The limit counts from the source's start. A source still reading its system (dlt's extract
step) when it passes fails with :class:`SourceTimeLimitExceeded`: dlt discards the package it
was extracting, so nothing of the run is loaded and no cursor moves; the next source runs. Data
read in time is normalized and loaded whole (local work, never interrupted half-way).

How the read is interrupted: in the main thread, ``SIGALRM`` raises the error wherever the read
waits (a socket fed one byte at a time within the request timeout included), and repeats every
half second in case a library swallows it. Elsewhere (no signals outside the main thread) the
readers' check points raise it: every item dlt extracts and every API page. dlt's progress
collector tells the limit when the extract step starts and ends (``progress``).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

DEFAULT_TIME_LIMIT_S = 3600.0
REPEAT_S = 0.5

_active: Deadline | None = None


class SourceTimeLimitExceeded(Exception):
    """A source was still reading its system when its time limit passed."""

    def __init__(self, source: str, limit_s: float) -> None:
        super().__init__(
            f"source {source!r} exceeded its time limit of {limit_s:g} s while reading; "
            "nothing of this run was loaded and its cursors did not move (raise `time_limit_s`"
            f" of {source!r} in the sources file, or pass --time-limit)"
        )
        self.source = source
        self.limit_s = limit_s


class Deadline:
    """One source's limit: when it ends, and whether the source is reading now."""

    def __init__(self, source: str, limit_s: float) -> None:
        self.source = source
        self.limit_s = limit_s
        self.ends = time.monotonic() + limit_s
        self.reading = False

    def expired(self) -> bool:
        """The limit has passed."""
        return time.monotonic() >= self.ends

    def check(self) -> None:
        """Raise :class:`SourceTimeLimitExceeded` when past the limit while reading."""
        if self.reading and self.expired():
            raise SourceTimeLimitExceeded(self.source, self.limit_s)


def check() -> None:
    """A readers' check point: raise when the running source is past its limit."""
    if _active is not None:
        _active.check()


@contextmanager
def time_limit(source: str, limit_s: float) -> Iterator[Deadline]:
    """Bound one source's run; see the module docstring for what is interrupted and how."""
    global _active
    deadline = Deadline(source, limit_s)
    previous_active, _active = _active, deadline
    alarm = threading.current_thread() is threading.main_thread()
    started = time.monotonic()
    if alarm:
        previous_handler = signal.signal(signal.SIGALRM, _handler(deadline))
        previous_timer = signal.setitimer(signal.ITIMER_REAL, limit_s, REPEAT_S)
    try:
        yield deadline
    finally:
        _active = previous_active
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_handler)
            if previous_timer[0]:  # someone else's alarm: give back what is left of it
                left = max(previous_timer[0] - (time.monotonic() - started), 0.001)
                signal.setitimer(signal.ITIMER_REAL, left, previous_timer[1])


def _handler(deadline: Deadline) -> Any:
    def on_alarm(signum: int, frame: FrameType | None) -> None:
        if deadline.reading:
            raise SourceTimeLimitExceeded(deadline.source, deadline.limit_s)
        # not reading: the next read start raises (``progress``); no more interruptions
        signal.setitimer(signal.ITIMER_REAL, 0)

    return on_alarm


def progress(arg: Any) -> Any:
    """dlt's ``progress`` argument, wrapped so the running source's limit knows when it reads."""
    if _active is None:
        return arg
    deadline: Deadline = _active
    from dlt.common.runtime.collector import NULL_COLLECTOR, Collector

    inner: Collector
    if arg is None:
        inner = NULL_COLLECTOR
    elif isinstance(arg, str):
        import dlt

        inner = getattr(dlt.progress, arg)()
    else:
        inner = arg

    class ReadingCollector(Collector):
        """Marks the extract step as reading, checks the limit at each item, then delegates."""

        def update(
            self,
            name: str,
            inc: int = 1,
            total: int | None = None,
            inc_total: int | None = None,
            message: str | None = None,
            label: str | None = None,
        ) -> None:
            deadline.check()
            inner.update(name, inc, total, inc_total, message, label)  # type: ignore[arg-type]

        def _start(self, step: str) -> None:
            deadline.reading = step.startswith("Extract")
            deadline.check()
            inner.step = step
            inner._start(step)

        def _stop(self) -> None:
            deadline.reading = False
            inner._stop()

        def on_start_trace(self, *args: Any) -> None:
            inner.on_start_trace(*args)

        def on_start_trace_step(self, *args: Any) -> None:
            inner.on_start_trace_step(*args)

        def on_end_trace_step(self, *args: Any) -> None:
            inner.on_end_trace_step(*args)

        def on_end_trace(self, *args: Any) -> None:
            inner.on_end_trace(*args)

    return ReadingCollector()
