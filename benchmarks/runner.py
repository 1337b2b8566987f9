"""One benchmark run: a demo day, the machine's limits, the project's steps, the report.

The phases live in ``baselines.py`` (limits, naive loader) and ``project.py`` (the project's
steps per warehouse); the work dir and services in ``workspace.py``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import baselines, history, measure, project, report, run_info, spark, targets
from benchmarks.results import StepResult
from benchmarks.settings import (
    DEFAULT_SOURCES,
    EVENTS_PER_SCALE,
    REPO_ROOT,
    Settings,
    sources_config,
)
from benchmarks.workspace import Workspace

__all__ = ["Bench", "Settings"]

log = logging.getLogger("benchmarks")


class Bench:
    """Runs the steps in order, keeps their results, writes the report."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.ws = Workspace(settings)
        self.steps: dict[str, StepResult] = {}
        self.notes: list[str] = list(run_info.METHOD_NOTES)
        self.aborted: str | None = None
        self.started = datetime.now(UTC)
        self.commit = run_info.git_commit()
        self.sources_cfg = sources_config()
        self.sources = [
            name for name, body in self.sources_cfg.items() if (body or {}).get("enabled", True)
        ] or list(DEFAULT_SOURCES)
        if settings.sources:
            self.sources = list(settings.sources)
        self.events_per_day = int(settings.scale * EVENTS_PER_SCALE)

    @property
    def only(self) -> list[str] | None:
        """``--source`` names for the all-sources runs: None (every source) unless restricted."""
        return list(self.s.sources) if self.s.sources else None

    @property
    def which(self) -> str:
        """'all sources', or the names the run is restricted to."""
        return "all sources" if not self.s.sources else "sources " + ", ".join(self.s.sources)

    # -- running steps ----------------------------------------------------------------------
    def run_step(
        self,
        step_id: str,
        label: str,
        group: str,
        cmd: list[str],
        env: dict[str, str],
        warehouse: str | None = None,
        rows: int | None = None,
    ) -> StepResult:
        """Run one measured step and record it (a failure is recorded, not raised)."""
        log.info("▶ %s", label + (f" [{warehouse}]" if warehouse else ""))
        load_before = round(os.getloadavg()[0], 1)
        m = measure.run(
            cmd,
            env=env,
            cwd=REPO_ROOT,
            log_path=self.ws.logs / f"{step_id}.log",
            timeout_s=self.s.step_timeout_s,
        )
        result_rows = m.result.get("rows")
        step = StepResult(
            id=step_id,
            label=label,
            group=group,
            warehouse=warehouse,
            rows=rows if rows is not None else result_rows,
            wall_s=round(m.wall_s, 3),
            peak_rss_bytes=m.peak_rss_bytes,
            ok=m.ok,
            details={
                "load_average_at_start": load_before,
                **{k: v for k, v in m.result.items() if k != "rows"},
            },
        )
        if not m.ok:
            why = "timed out" if m.timed_out else f"exit code {m.returncode}"
            step.error = f"{why}; log {m.log_path}:\n{m.log_tail()}"
            log.error("✗ %s failed (%s), see %s", step_id, why, m.log_path)
        else:
            log.info("  %.1f s, peak RSS %.0f MiB", m.wall_s, m.peak_rss_bytes / 1024**2)
        self.steps[step_id] = step
        self.write_report()
        return step

    def derived(self, step_id: str, label: str, parts: list[str], warehouse: str) -> None:
        """A step summed from other steps (e.g. end to end = ingestion + dbt build)."""
        found = [self.steps[p] for p in parts if p in self.steps]
        complete = len(found) == len(parts) and all(s.wall_s for s in found)
        ok = complete and all(s.ok for s in found)
        bad = [p for p in parts if p not in self.steps or not self.steps[p].ok]
        self.steps[step_id] = StepResult(
            id=step_id,
            label=label,
            group="project",
            warehouse=warehouse,
            derived=True,
            ok=ok,
            rows=sum(s.rows or 0 for s in found if s.group == "project" and ".ingest" in s.id),
            wall_s=round(sum(s.wall_s or 0 for s in found), 3) if complete else None,
            peak_rss_bytes=max((s.peak_rss_bytes or 0 for s in found), default=None),
            error=None if ok else "failed or missing: " + ", ".join(bad),
            note="sum of " + ", ".join(parts),
        )

    # -- the demo day -----------------------------------------------------------------------
    def generate(self) -> bool:
        """Generate the demo days at the chosen scale into the work dir (or copy a saved one)."""
        if self.s.demo_from is not None:
            return self._copy_demo(self.s.demo_from)
        days = self.s.history_days or 1
        step = self.run_step(
            "demo.generate",
            f"demo generate {days} day(s) at scale {self.s.scale:g}",
            "demo",
            [
                self.ws.python,
                "-m",
                "demo",
                "generate",
                "--days",
                str(days),
                "--scale",
                f"{self.s.scale:g}",
                "--seed",
                str(self.s.seed),
            ],
            self.ws.base_env(),
        )
        step.rows = self.ws.manifest_events() or step.rows
        if step.rows:
            self.events_per_day = step.rows // days
        return step.ok

    def _copy_demo(self, source: Path) -> bool:
        """Use a saved one-day demo of the same scale and seed instead of generating one."""
        state = json.loads((source / "state.json").read_text())
        if (
            float(state["scale"]) != self.s.scale
            or int(state["seed"]) != self.s.seed
            or state["first_day"] != state["last_day"]
        ):
            raise ValueError(
                f"{source} holds scale {state['scale']}, seed {state['seed']}, days "
                f"{state['first_day']}..{state['last_day']}; need one day at scale "
                f"{self.s.scale:g}, seed {self.s.seed}"
            )
        started = time.perf_counter()
        shutil.copytree(source, self.ws.demo_dir)
        rows = self.ws.manifest_events()
        self.steps["demo.generate"] = StepResult(
            id="demo.generate",
            label=f"demo day at scale {self.s.scale:g} (copied)",
            group="demo",
            rows=rows,
            wall_s=round(time.perf_counter() - started, 3),
            note=f"copied from {source} (generated earlier by `python -m demo generate`)",
        )
        if rows:
            self.events_per_day = rows
        return True

    def advance(self) -> None:
        """``python -m demo advance`` by one day; its rows are the events it added."""
        before = self.ws.manifest_events() or 0
        step = self.run_step(
            "demo.advance_1",
            "demo advance 1 day",
            "demo",
            [self.ws.python, "-m", "demo", "advance", "--days", "1"],
            self.ws.base_env(),
        )
        step.rows = (self.ws.manifest_events() or 0) - before or None

    # -- the whole run ----------------------------------------------------------------------
    def run(self) -> tuple[Path, Path]:
        """Every phase in order; always writes the report, even after a failure."""
        self.started = datetime.now(UTC)
        self.commit = run_info.git_commit()
        self.ws.reset()
        try:
            self._phases()
        except KeyboardInterrupt:
            self.aborted = (
                "Run interrupted (Ctrl-C): the steps after the last one listed did not run."
            )
            self.notes.insert(0, self.aborted)
        except Exception as exc:
            log.exception("benchmark aborted")
            self.aborted = f"Run aborted: {type(exc).__name__}: {exc}"
            self.notes.insert(0, self.aborted)
        finally:
            self.ws.stop_postgres()
            self.ws.stop_spark()
        return self.write_report(complete=True)

    def write_report(self, complete: bool = False) -> tuple[Path, Path]:
        """Write the report of the steps so far (after every step, so a stopped run leaves one)."""
        now = datetime.now(UTC)
        results = targets.evaluate(self.steps, self.s.warehouses, self.s.scale)
        notes = list(self.notes)
        if not complete:
            notes.insert(0, "Partial report: the run was still going when this was written.")
        meta = {
            "scale": self.s.scale,
            "events_per_day": self.events_per_day,
            "warehouses": self.s.warehouses,
            "complete": complete,
            **run_info.times(self.started, now),
            **run_info.host(),
            "git_commit": self.commit,
            "rss_method": run_info.RSS_METHOD,
            "sources": self.sources,
            "notes": notes,
        }
        return report.write(
            self.s.results_dir, self.s.name, meta, list(self.steps.values()), results
        )

    def _phases(self) -> None:
        if not self.generate():
            raise RuntimeError("demo generate failed; nothing to measure")
        if self.s.history_days:
            if "postgres" in self.s.warehouses:
                self.ws.start_postgres()
            history.phases(self)
            return
        if "postgres" in self.s.warehouses or not self.s.skip_naive:
            self.ws.start_postgres()
        if "spark" in self.s.warehouses:
            self.ws.start_spark()
            self.steps["spark.cluster_start"] = StepResult(
                id="spark.cluster_start",
                label="start a Spark master and two workers on 127.0.0.1",
                group="prep",
                warehouse="spark",
                wall_s=round(self.ws.spark.started_in_s, 3),
            )
        with self.ws.demo_api():
            baselines.limits(self)
            for wh in self.s.warehouses:
                project.first_day(self, wh)
            if "spark" in self.s.warehouses:
                spark.parquet_floor(self)
            for wh in self.s.warehouses:
                project.no_op(self, wh)
        if not self.s.skip_naive:
            baselines.naive(self)
        if self.s.skip_next_day:
            return
        self.advance()
        with self.ws.demo_api():
            for wh in self.s.warehouses:
                project.next_day(self, wh)
            if not self.s.skip_2x:
                for wh in self.s.warehouses:
                    project.double_volume(self, wh)
