"""``python -m orchestration watch``: load new input in micro-batches as it lands.

Each cycle polls the feeds (``feeds.py``: the landing zone listed against the last committed
listing; no lock, no warehouse, no dlt run). When one has a batch, the cycle is one run of the
run layer (``runner.execute``, command ``watch``): the run lock, the load of the sources with
news, a ``dbt build`` of what they feed (``source:<name>+`` unless ``--select``), the ledger.
The lock is released between cycles, so scheduled runs and backfills interleave; a cycle that
finds the lock held tries again at the next one. Idle cycles are counted and recorded with the
next run (``ops.runs.args.watch``) and in a closing run when the watch stops.

SIGTERM and SIGINT are blocked in every thread for the whole process and taken only between
cycles (``sigtimedwait``): a signal during a cycle lets it finish and be recorded, then the watch
stops with exit 0. A cycle killed outright (SIGKILL) is a dead run: the next run takes its lock
over, marks it abandoned and finishes its load package (docs/adr/0010-watch-mode.md).
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass
from typing import Any

from orchestration import runner
from orchestration.feeds import Batch, NewBatches, feeds_of

log = logging.getLogger(__name__)

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
DEFAULT_INTERVAL_S = 10.0


@dataclass
class WatchOptions:
    """How to watch: the cycle's period, the sources, the dbt selection, the retries."""

    interval_s: float = DEFAULT_INTERVAL_S
    sources: list[str] | None = None
    select: str | None = None
    retries: int | None = None
    backoff_s: float | None = None
    time_limit_s: float | None = None


@dataclass
class Tally:
    """The watch's cycles so far, and the idle ones since the last recorded run."""

    cycles: int = 0
    runs: int = 0
    failed: int = 0
    locked: int = 0
    idle_since_run: int = 0
    idle_poll_s: float = 0.0  # the idle cycles' polls since the last recorded run, summed
    idle_poll_max_s: float = 0.0

    def idle(self, poll_s: float) -> None:
        """Count an idle cycle whose poll took ``poll_s``."""
        self.idle_since_run += 1
        self.idle_poll_s += poll_s
        self.idle_poll_max_s = max(self.idle_poll_max_s, poll_s)

    def recorded(self) -> None:
        """A run was written to the ledger, with the idle cycles before it."""
        self.runs += 1
        self.idle_since_run, self.idle_poll_s, self.idle_poll_max_s = 0, 0.0, 0.0

    def idle_cost(self) -> dict[str, Any]:
        """The idle cycles since the last recorded run and what their polls cost."""
        if not self.idle_since_run:
            return {"idle_cycles": 0}
        return {
            "idle_cycles": self.idle_since_run,
            "idle_poll_ms_mean": round(1000 * self.idle_poll_s / self.idle_since_run, 3),
            "idle_poll_ms_max": round(1000 * self.idle_poll_max_s, 3),
        }


class Watcher:
    """The loop: poll, run a cycle when something is new, wait for the next period or a signal."""

    def __init__(self, feeds: list[NewBatches], options: WatchOptions) -> None:
        self.feeds = feeds
        self.options = options
        self.tally = Tally()
        self._failing = False  # the last cycle failed: alert once per streak
        # build whatever the load finds: first (a killed watch may have loaded and not built)
        # and after a failed cycle; then only when the load landed rows
        self._must_build = True

    def poll(self) -> list[tuple[NewBatches, Batch]]:
        """Every feed's new batch (a feed that cannot be read is logged and tried again)."""
        found = []
        for feed in self.feeds:
            try:
                batch = feed.poll()
            except OSError as exc:
                log.error("watch: cannot poll %s: %s", feed.source, exc)
                continue
            if batch is not None:
                found.append((feed, batch))
        return found

    def request(self, found: list[Batch], **watch: Any) -> runner.RunRequest:
        """The run of one cycle over the batches ``found`` (none: the closing record)."""
        names = [b.source for b in found]
        select = self.options.select or " ".join(f"source:{name}+" for name in names)
        return runner.RunRequest(
            command="watch",
            sources=names or None,
            select=select or None,
            skip_ingest=not found,
            skip_dbt=not found,
            retries=self.options.retries,
            backoff_s=self.options.backoff_s,
            time_limit_s=self.options.time_limit_s,
            build_only_if_loaded=not self._must_build,
            no_alert=self._failing,
            watch={"cycle": self.tally.cycles, **self.tally.idle_cost(), **watch},
        )

    def cycle(self) -> None:
        """One cycle: poll; on news, one run under the lock; commit the batches it loaded."""
        self.tally.cycles += 1
        polled = time.perf_counter()
        found = self.poll()
        if not found:
            self.tally.idle(time.perf_counter() - polled)
            return
        for _, batch in found:
            log.info("watch cycle %d: %s", self.tally.cycles, batch.describe())
        files = {b.source: len(b.items) for _, b in found}
        result = runner.execute(self.request([b for _, b in found], batches=files))
        if result.exit_code == runner.EXIT_LOCKED:
            self.tally.locked += 1
            log.info("watch cycle %d: %s; retry next cycle", self.tally.cycles, result.message)
            return
        if result.run is not None:
            self.tally.recorded()
        if result.exit_code != runner.EXIT_OK:
            self.tally.failed += 1
            self._failing = self._must_build = True
            log.error("watch cycle %d: %s", self.tally.cycles, result.message)
            return
        self._failing = self._must_build = False
        for feed, batch in found:
            feed.commit(batch)
        run = result.run
        if run is not None:
            log.info(
                "watch cycle %d: run %s loaded %d rows, built %d models in %.1f s",
                self.tally.cycles,
                run.run_id,
                run.rows_loaded,
                run.models_built,
                run.duration_s or 0.0,
            )

    def close(self, stopped_by: str) -> None:
        """Record the idle cycles since the last run (or a watch that never ran one)."""
        if self.tally.idle_since_run == 0 and self.tally.runs > 0:
            return
        result = runner.execute(self.request([], stopped_by=stopped_by))
        if result.exit_code == runner.EXIT_OK:
            self.tally.recorded()
        else:
            log.warning("watch: the closing record was not written: %s", result.message)

    def run(self) -> str:
        """Cycle until a stop signal; returns the signal's name."""
        while True:
            started = time.monotonic()
            self.cycle()
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # in case a library unblocked
            if _delivered:
                return signal.Signals(_delivered[0]).name
            wait = max(0.0, self.options.interval_s - (time.monotonic() - started))
            received = signal.sigtimedwait(STOP_SIGNALS, wait)
            if received is not None:
                return signal.Signals(received.si_signo).name


_delivered: list[int] = []


def _note(signum: int, _frame: Any) -> None:
    _delivered.append(signum)


def hold_stop_signals() -> None:
    """Hold SIGTERM and SIGINT until the loop takes them; threads started later inherit this.

    multiprocessing's resource tracker unblocks both when it first starts (dbt starts it), so it
    is started first; a signal delivered anyway is noted by a handler, never the default death.
    """
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    for stop in STOP_SIGNALS:
        signal.signal(stop, _note)
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def main(options: WatchOptions) -> int:
    """Watch until SIGTERM or SIGINT; 0 on a clean stop, 2 when there is nothing to watch."""
    hold_stop_signals()
    from ingestion import config as sources

    try:
        configs = sources.select(sources.load(), options.sources)
        feeds = feeds_of(configs)
    except sources.SourceConfigError as exc:
        log.error("configuration error: %s", exc)
        return runner.EXIT_CONFIG
    if not feeds:
        names = ", ".join(c.name for c in configs) or "none"
        log.error("configuration error: no filesystem or postgres_cdc source (sources: %s)", names)
        return runner.EXIT_CONFIG
    watcher = Watcher(feeds, options)
    log.info(
        "watching %s every %.1f s (stop: SIGTERM or Ctrl-C)",
        ", ".join(f.source for f in feeds),
        options.interval_s,
    )
    stopped_by = watcher.run()
    watcher.close(stopped_by)
    t = watcher.tally
    log.info(
        "watch stopped by %s after %d cycles: %d runs, %d failed, %d found the lock held",
        stopped_by,
        t.cycles,
        t.runs,
        t.failed,
        t.locked,
    )
    return runner.EXIT_OK
