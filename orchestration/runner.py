"""Run a request: the lock → the job (orchestration.job) → status snapshot, alert, exit code.

This module is the only implementation of the steps; the CLI (``python -m orchestration``) and
the Airflow DAG both call it.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

from ingestion import warehouse as wh
from ingestion.redact import redact
from orchestration import alerts, settings, status
from orchestration.job import STEP_LEDGER, Job, RunRequest, new_run_id
from orchestration.ledger import Ledger
from orchestration.lock import Acquired, LockHeld, run_lock
from orchestration.summary import RunRecord, utcnow

__all__ = ["EXIT_CONFIG", "EXIT_LOCKED", "EXIT_OK", "EXIT_STEP_FAILED", "RunRequest", "execute"]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_STEP_FAILED = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 3


@dataclass
class RunResult:
    """The outcome handed back to the CLI."""

    exit_code: int
    run: RunRecord | None
    message: str
    warehouse_location: str
    lock: Acquired | None = None
    attempts: dict[str, int] = field(default_factory=dict)
    source_errors: list[str] = field(default_factory=list)


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _alert(cfg: settings.Settings, run: RunRecord, location: str) -> None:
    warned = run.status == "success" and run.tests_warned > 0 and cfg.alert_on_warning
    if not cfg.alert_webhook_url or not (run.status != "success" or warned):
        return
    if alerts.send(cfg.alert_webhook_url, alerts.build_payload(run, location)):
        log.info("alert sent for run %s", run.run_id)


def execute(request: RunRequest) -> RunResult:
    """Run the pipeline once under the run lock and record it in the ledger.

    Returns:
        A :class:`RunResult` whose ``exit_code`` is 0 (success), 1 (a step failed),
        2 (bad settings) or 3 (another run holds the lock). Never raises for these.
    """
    try:
        warehouse = wh.current(wh.LOADER)
    except wh.WarehouseConfigError as exc:
        return RunResult(EXIT_CONFIG, None, f"configuration error: {exc}", "?")
    location = redact(warehouse.describe())
    if not request.skip_ingest:
        # checked without dlt, before the lock or the ledger touch the warehouse
        from ingestion import config as sources
        from ingestion.window import as_day, check_window

        try:
            sources.select(sources.load(), request.sources)
            full_read = request.full_refresh or request.reload
            check_window(as_day(request.start), as_day(request.end), full_read)
        except (sources.SourceConfigError, ValueError) as exc:
            return RunResult(EXIT_CONFIG, None, f"configuration error: {exc}", location)
    lock_file = settings.lock_path(warehouse.local_path)
    run_id = new_run_id()
    with contextlib.ExitStack() as stack:
        # the lock before dlt's slow import, so a second run started together is refused at once
        acquired: Acquired | None = None
        lock_error: Exception | None = None
        try:
            acquired = stack.enter_context(run_lock(warehouse, lock_file, run_id, request.command))
        except LockHeld as exc:
            return RunResult(EXIT_LOCKED, None, f"run refused: {redact(str(exc))}", location)
        except Exception as exc:  # e.g. the warehouse cannot be reached to take the lock
            lock_error = exc
        if request.reload and acquired is not None:
            refused = _say_what_reload_forgets(request, warehouse)
            if refused is not None:
                return RunResult(refused[0], None, refused[1], location, acquired)
        try:
            cfg = settings.load(request.retries, request.backoff_s)
        except settings.SettingsError as exc:
            return RunResult(EXIT_CONFIG, None, f"configuration error: {exc}", location)
        job = Job(request, cfg, warehouse, run_id)
        if acquired is None:
            job._fail(STEP_LEDGER, f"{type(lock_error).__name__}: {lock_error}")
            job.run.ended_at = utcnow()
        else:
            if acquired.recovered_from is not None:
                _mark_abandoned(job.ledger, acquired)
            try:
                job.execute()
            except Exception as exc:  # the ledger itself failed: still report and alert
                log.exception("run %s stopped", job.run.run_id)
                job._fail(job.run.failed_step or STEP_LEDGER, f"{type(exc).__name__}: {exc}")
                job.run.ended_at = utcnow()
            status.save_snapshot(warehouse)  # what `status` shows while the next run holds DuckDB
    if not request.no_alert:
        _alert(cfg, job.run, location)
    run = job.run
    if run.status == "success":
        message = f"run {run.run_id} succeeded"
        code = EXIT_OK
    else:
        attempts = job.attempts.get(run.failed_step or "", 1)
        message = (
            f"FAILED at step {run.failed_step} after {attempts} attempt(s): "
            f"{_first_line(run.error or '')}"
        )
        code = EXIT_CONFIG if job.config_error else EXIT_STEP_FAILED
    return RunResult(code, run, message, location, acquired, job.attempts, job.source_errors)


def _say_what_reload_forgets(
    request: RunRequest, warehouse: wh.Warehouse
) -> tuple[int, str] | None:
    """Log what a reload would forget; the exit code and message that stop it, if unconfirmed."""
    from ingestion import reload

    try:
        plan = reload.plan(warehouse, request.sources)
    except Exception as exc:
        return EXIT_STEP_FAILED, f"reload refused: cannot count what it would forget: {exc}"
    for line in plan.lines():
        log.warning(line)
    if request.confirmed:
        return None
    return EXIT_CONFIG, (
        "reload not started, nothing changed: it would forget the rows above. Run it again with "
        "--reload --yes, or use --full-refresh to re-read every source and keep them"
    )


def _mark_abandoned(ledger: Ledger, acquired: Acquired) -> None:
    holder = acquired.recovered_from
    if holder is None or holder.run_id == "?":
        return
    try:
        if ledger.exists():
            ledger.mark_abandoned(
                holder.run_id, f"process {holder.pid} on {holder.host} died; lock recovered"
            )
    except Exception:
        log.exception("could not mark run %s abandoned", holder.run_id)
