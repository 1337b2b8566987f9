"""One run of the pipeline: its steps (load, dbt build), their retries and the ledger rows."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

from ingestion import warehouse as wh
from ingestion.redact import redact
from ingestion.typed_settings import SourceConfigError
from orchestration import dbt_step, settings
from orchestration.ledger import open_ledger
from orchestration.retry import Attempt, with_retries
from orchestration.summary import RunRecord, utcnow

log = logging.getLogger(__name__)

STEP_INGEST = "ingest"
STEP_REPLAY = "replay"
STEP_DBT = "dbt_build"
STEP_LEDGER = "ledger"
STEP_ERASURE = "erasure"


@dataclass
class RunRequest:
    """What to run. ``command`` is ``run``, ``backfill``, ``replay``, ``watch`` or
    ``ingest``/``dbt``."""

    command: str = "run"
    sources: list[str] | None = None
    full_refresh: bool = False
    # empty the raw tables first (forgets what sources no longer serve); runs only `confirmed`
    reload: bool = False
    confirmed: bool = False
    select: str | None = None
    start: str | None = None
    end: str | None = None
    dbt_vars: dict[str, Any] = field(default_factory=dict)
    skip_ingest: bool = False
    skip_dbt: bool = False
    retries: int | None = None
    backoff_s: float | None = None
    progress: str | None = None
    time_limit_s: float | None = None  # every source's time limit (its sources.yml setting else)
    # dbt builds only when the load landed or rejected a row (a watch cycle with nothing new)
    build_only_if_loaded: bool = False
    no_alert: bool = False  # a failure sends no alert (a watch cycle failing again)
    # a watch cycle's bookkeeping (its number, the idle cycles before it, the batches)
    watch: dict[str, Any] = field(default_factory=dict)

    def as_args(self) -> dict[str, Any]:
        """The request as stored in ``ops.runs.args``."""
        return {k: v for k, v in self.__dict__.items() if v not in (None, False, [], {})}


def new_run_id() -> str:
    """A sortable, unique run id: ``20261122T010203-1a2b3c``."""
    return f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def _ingestion_attempt(request: RunRequest, replay: bool) -> Attempt[Any]:
    """Call ``ingestion.load`` / ``ingestion.replay`` once."""
    import ingestion

    try:
        if replay:
            report = ingestion.replay(sources=request.sources)
        else:
            report = ingestion.load(
                sources=request.sources,
                full_refresh=request.full_refresh,
                start=request.start,
                end=request.end,
                progress=request.progress,
                reload=request.reload,
                time_limit_s=request.time_limit_s,
            )
    except SourceConfigError as exc:  # a setting: a retry would fail the same way
        return Attempt(None, f"configuration error: {exc}", retryable=False, config_error=True)
    except Exception as exc:
        log.exception("ingestion raised")
        return Attempt(None, error=f"{type(exc).__name__}: {exc}")
    if not report.ok:
        return Attempt(report, error="; ".join(report.errors))
    return Attempt(report)


class Job:
    """One run of the pipeline with its ledger bookkeeping."""

    def __init__(
        self,
        request: RunRequest,
        cfg: settings.Settings,
        warehouse: wh.Warehouse,
        run_id: str | None = None,
    ):
        self.request = request
        self.cfg = cfg
        self.warehouse = warehouse
        self.ledger = open_ledger(warehouse)
        self.run = RunRecord(
            run_id=run_id or new_run_id(),
            command=request.command,
            warehouse=warehouse.kind,
            host=socket.gethostname(),
            pid=os.getpid(),
            args=request.as_args(),
        )
        self.attempts: dict[str, int] = {}
        self.source_errors: list[str] = []
        self.config_error = False

    def _record_attempt(self, step: str, started: list[Any]) -> Any:
        def on_attempt(number: int, outcome: Attempt[Any]) -> None:
            status = "success" if outcome.ok else "failed"
            self.ledger.record_step(
                self.run.run_id, step, number, status, started[-1], utcnow(), outcome.error
            )

        return on_attempt

    def _step(self, step: str, fn: Any) -> Attempt[Any]:
        started: list[Any] = []

        def attempt(number: int) -> Attempt[Any]:
            started.append(utcnow())
            log.info("step %s: attempt %d", step, number)
            return fn()

        outcome, count = with_retries(
            step,
            attempt,
            self.cfg.retries,
            self.cfg.backoff_s,
            on_attempt=self._record_attempt(step, started),
        )
        self.attempts[step] = count
        return outcome

    def _ingest(self, replay: bool) -> bool:
        step = STEP_REPLAY if replay else STEP_INGEST
        attempts = 0

        def attempt() -> Attempt[Any]:
            nonlocal attempts
            attempts += 1
            outcome = _ingestion_attempt(self.request, replay)
            if outcome.value is not None:  # every attempt's loads are kept, failed ones too
                self.ledger.record_sources(self.run.run_id, step, attempts, outcome.value.sources)
            return outcome

        outcome = self._step(step, attempt)
        self.config_error = outcome.config_error
        report = outcome.value
        if report is not None:
            self.source_errors = report.errors
            tables = report.tables
            self.ledger.record_tables(self.run.run_id, step, tables)
            self.run.add_tables(tables)
            self.run.dlt_load_ids.extend(report.load_ids)
        self.ledger.save_run(self.run)
        if not outcome.ok:
            self._fail(step, outcome.error or "failed")
        return outcome.ok

    def _dbt(self) -> bool:
        def attempt() -> Attempt[dbt_step.DbtOutcome]:
            result = dbt_step.run_build(
                select=self.request.select or self.cfg.dbt_select,
                full_refresh=self.request.full_refresh or self.request.reload,
                dbt_vars=self.request.dbt_vars or None,
                project=self.cfg.dbt_project_dir,
            )
            return Attempt(result, error=result.error, retryable=result.retryable)

        outcome = self._step(STEP_DBT, attempt)
        result = outcome.value
        if result is not None:
            self.run.dbt_invocation_id = result.invocation_id
            self.run.models_built = result.models_built
            self.run.tests_passed = result.tests_passed
            self.run.tests_warned = result.tests_warned
            self.run.tests_failed = result.tests_failed
            self.ledger.record_dbt_results(self.run.run_id, result.invocation_id, result.results)
        self.ledger.save_run(self.run)
        if not outcome.ok:
            self._fail(STEP_DBT, outcome.error or "failed")
        return outcome.ok

    def _erase(self) -> bool:
        """Carry out erasure requests left pending or failed, before anything loads."""
        if self.warehouse.kind == "spark":
            return True
        from orchestration import erasure

        try:
            if not erasure.open_requests(self.warehouse):
                return True
            started = utcnow()
            erasure.carry_out(wh.current(), self.cfg)
        except Exception as exc:
            self._fail(STEP_ERASURE, f"{type(exc).__name__}: {exc}")
            self.ledger.record_step(
                self.run.run_id, STEP_ERASURE, 1, "failed", utcnow(), utcnow(), self.run.error
            )
            self.ledger.save_run(self.run)
            return False
        ended = utcnow()
        self.ledger.record_step(self.run.run_id, STEP_ERASURE, 1, "success", started, ended, None)
        return True

    def _fail(self, step: str, error: str) -> None:
        self.run.status = "failed"
        self.run.failed_step = step
        self.run.error = redact(error)

    def _nothing_to_build(self) -> bool:
        if not self.request.build_only_if_loaded or self.request.skip_ingest:
            return False
        if self.run.rows_loaded or self.run.rows_rejected:
            return False
        log.info("the load landed nothing: no dbt build")
        return True

    def execute(self) -> None:
        """Run the steps in order; stops at the first failed step."""
        self.ledger.ensure()
        self.ledger.abandon_unfinished("its process ended before the run finished")
        self.ledger.save_run(self.run)
        replay = self.request.command == "replay"
        ok = self._erase()
        if ok and not self.request.skip_ingest:
            ok = self._ingest(replay)
        if ok and not self.request.skip_dbt and not self._nothing_to_build():
            ok = self._dbt()
        if ok:
            self.run.status = "success"
        self.run.ended_at = utcnow()
        self.ledger.save_run(self.run)
