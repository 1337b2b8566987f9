"""One benchmark run: a demo day, the machine's limits, the project's steps, the report."""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from benchmarks import measure, report, targets, warehouse_rows
from benchmarks.limits import EVENT_COLUMNS_PG
from benchmarks.results import StepResult

log = logging.getLogger("benchmarks")

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_PER_SCALE = 10_000
DEFAULT_SOURCES = ("crm", "fx", "shop", "events")
SHOP_TABLES = ("products", "orders", "order_items")
CRM_PATHS = ("/crm/v1/customers", "/crm/v1/campaigns")
METHOD_NOTES = [
    "Every step is its own process, timed wall-clock from start to exit, so the project's steps "
    "include Python start-up and imports (the no-op run shows that floor).",
    "DuckDB's own read: `create table as select * from read_parquet/read_json/read_csv(...)` of "
    "every event file into an empty DuckDB file (columns as stored; malformed lines skipped).",
    "PostgreSQL COPY: `psql \\copy` of the same rows from one typed CSV (written beforehand from "
    "DuckDB, not timed) into an empty unindexed table.",
    "Bare HTTP loop: `requests` over every page of CRM customers and campaigns, same page size "
    "as the loader, JSON parsed and discarded. Bare SELECT: `select *` of the shop's products, "
    "orders and order_items through the loader's driver, rows discarded. The shop and CRM "
    "ratios compare them with the loader of the whole source (all its tables).",
    "PostgreSQL is a throwaway server on 127.0.0.1 started by the harness (demo/pg_server.py: "
    "fsync off, shared_buffers 256MB); its memory is not in the peak RSS column.",
    "2× volume: after `demo advance`, both days are loaded into a second, empty warehouse, one "
    "process per source; 1× is the largest of the day-1, no-op and day-2 ingestion processes.",
    "Absolute targets (seconds) are set for scale 1000; at other scales read them as indicative.",
]
RSS_METHOD = (
    "ru_maxrss from os.wait4() on each step's process (what GNU time -v reports): the largest "
    "resident set of that process or any descendant it waited for. PostgreSQL server memory "
    "is not included (client processes only)."
)


@dataclass
class Settings:
    """What to run and where (see ``benchmarks.cli`` for the flags)."""

    scale: float = 1000.0
    warehouses: list[str] = field(default_factory=lambda: ["duckdb", "postgres"])
    skip_naive: bool = False
    skip_2x: bool = False
    skip_dbt: bool = False
    skip_next_day: bool = False
    demo_from: Path | None = None
    rebuild_report: Path | None = None
    sources: list[str] | None = None
    naive_rows: int = 1_000_000
    work_dir: Path = REPO_ROOT / "benchmarks" / "work"
    results_dir: Path = REPO_ROOT / "benchmarks" / "results"
    name: str = "latest"
    seed: int = 42
    step_timeout_s: float = 1800.0


def _sources_config() -> dict[str, Any]:
    path = Path(os.environ.get("INGESTION_SOURCES") or REPO_ROOT / "ingestion" / "sources.yml")
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text()) or {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return (out.stdout.strip() or "unknown") + ("+dirty" if dirty else "")


def _machine() -> str:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (
        f"{os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, {platform.system()} {platform.release()}"
    )


class Bench:
    """Runs the steps in order, keeps their results, writes the report."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.work = settings.work_dir.resolve()
        self.demo_dir = self.work / "demo"
        self.logs = self.work / "logs"
        self.python = sys.executable
        self.steps: dict[str, StepResult] = {}
        self.notes: list[str] = list(METHOD_NOTES)
        self.aborted: str | None = None
        self.started = datetime.now(UTC)
        self.commit = _git_commit()
        self.sources_cfg = _sources_config()
        self.sources = [
            name for name, body in self.sources_cfg.items() if (body or {}).get("enabled", True)
        ] or list(DEFAULT_SOURCES)
        if settings.sources:
            self.sources = list(settings.sources)
        self.api_url = ""
        self.pg: Any = None
        self.events_per_day = int(settings.scale * EVENTS_PER_SCALE)

    @property
    def only(self) -> list[str] | None:
        """``--source`` names for the all-sources runs: None (every source) unless restricted."""
        return list(self.s.sources) if self.s.sources else None

    @property
    def which(self) -> str:
        """'all sources', or the names the run is restricted to."""
        return "all sources" if not self.s.sources else "sources " + ", ".join(self.s.sources)

    # -- environment ------------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        """The environment every step gets: demo dir, API, isolated dbt profile."""
        env = dict(os.environ)
        env.update(
            PYTHONUNBUFFERED="1",
            DEMO_DIR=str(self.demo_dir),
            DEMO_API_URL=self.api_url,
            DBT_PROFILES_DIR=str(self.work),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DO_NOT_TRACK="1",
            RUNTIME__LOG_LEVEL=env.get("RUNTIME__LOG_LEVEL", "WARNING"),
        )
        for key in (
            "WAREHOUSE",
            "DUCKDB_PATH",
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGPASSWORD",
            "PGDATABASE",
        ):
            env.pop(key, None)
        return env

    def wh_env(self, wh: str, instance: str = "") -> dict[str, str]:
        """The environment of a step against warehouse ``wh`` (own dlt and dbt state).

        ``instance`` names a second, separate warehouse of the same kind (e.g. ``2x``).
        """
        env = self.base_env()
        home = self.work / f"{wh}{instance}"
        env.update(
            WAREHOUSE=wh,
            DLT_DATA_DIR=str(home / "dlt"),
            DBT_TARGET_PATH=str(home / "dbt_target"),
            DBT_LOG_PATH=str(home / "dbt_logs"),
        )
        if wh == "duckdb":
            env["DUCKDB_PATH"] = str(home / "analytics.duckdb")
        else:
            env.update(self.pg.env(f"bench{instance}"))
        return env

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
            log_path=self.logs / f"{step_id}.log",
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

    def ingest(
        self, step_id: str, label: str, wh: str, sources: list[str] | None, instance: str = ""
    ) -> StepResult:
        """``python -m ingestion [--source X]`` with the rows it wrote counted in the warehouse."""
        env = self.wh_env(wh, instance)
        before = warehouse_rows.snapshot(env)
        cmd = [self.python, "-m", "ingestion"]
        for name in sources or []:
            cmd += ["--source", name]
        step = self.run_step(step_id, label, "project", cmd, env, warehouse=wh)
        try:
            loaded, rejected, per_table = warehouse_rows.written(
                before, warehouse_rows.snapshot(env)
            )
            step.rows = loaded
            step.details.update(rejected=rejected, per_table=per_table)
            log.info("  %s rows written (%s rejected)", f"{loaded:,}", f"{rejected:,}")
        except Exception as exc:  # counting is best effort; the timing stands
            step.note = f"rows not counted: {exc}"
        return step

    def dbt_build(self, step_id: str, label: str, wh: str, rows: int | None) -> StepResult:
        """``dbt build`` from the repo root against ``wh``."""
        dbt = str(Path(self.python).parent / "dbt")
        env = self.wh_env(wh)
        step = self.run_step(step_id, label, "project", [dbt, "build"], env, wh, rows)
        step.note = "rows = raw rows loaded for the day"
        run_results = Path(env["DBT_TARGET_PATH"]) / "run_results.json"
        step.details["slowest_nodes"] = measure.slowest_dbt_nodes(run_results)
        return step

    # -- services ---------------------------------------------------------------------------
    @contextmanager
    def demo_api(self) -> Iterator[str]:
        """``python -m demo serve`` on a free loopback port for the duration of the block."""
        port = _free_port()
        out = (self.logs / "demo-serve.log").open("a")
        proc = subprocess.Popen(
            [self.python, "-m", "demo", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT,
            env=self.base_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.time() + 60
            while True:
                with suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                    break
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"demo API did not start; see {self.logs}/demo-serve.log")
                time.sleep(0.2)
            self.api_url = f"http://127.0.0.1:{port}"
            yield self.api_url
        finally:
            proc.terminate()
            with suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()
            out.close()
            self.api_url = ""

    def start_postgres(self) -> None:
        """A throwaway PostgreSQL on loopback (demo/pg_server.py) with a ``bench`` database."""
        from demo import pg_server

        self.pg = pg_server.start()
        pg_server.create_database(self.pg, "bench")
        log.info("PostgreSQL on 127.0.0.1:%s (data dir %s)", self.pg.port, self.pg.datadir)

    def psql(self, sql: str) -> None:
        """Run SQL on the bench database (setup only, not measured)."""
        import psycopg2

        env = self.pg.env("bench")
        conn = psycopg2.connect(
            host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"], dbname=env["PGDATABASE"]
        )
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.close()

    # -- the phases -------------------------------------------------------------------------
    def generate(self) -> bool:
        """Generate one demo day at the chosen scale into the work dir (or copy a saved one)."""
        if self.s.demo_from is not None:
            return self._copy_demo(self.s.demo_from)
        step = self.run_step(
            "demo.generate",
            f"demo generate 1 day at scale {self.s.scale:g}",
            "demo",
            [
                self.python,
                "-m",
                "demo",
                "generate",
                "--days",
                "1",
                "--scale",
                f"{self.s.scale:g}",
                "--seed",
                str(self.s.seed),
            ],
            self.base_env(),
        )
        step.rows = self._manifest_events() or step.rows
        if step.rows:
            self.events_per_day = step.rows
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
        shutil.copytree(source, self.demo_dir)
        rows = self._manifest_events()
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

    def _manifest_events(self) -> int | None:
        path = self.demo_dir / "manifest.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        files = data.get("files", data) if isinstance(data, dict) else data
        entries = files.values() if isinstance(files, dict) else files
        total = 0
        for entry in entries:
            if isinstance(entry, dict):
                total += int(entry.get("rows", entry.get("rows_written", 0)) or 0)
        return total or None

    def limits(self) -> None:
        """The bare operations on the same day's data."""
        events_dir = self.demo_dir / "landing" / "events"
        lim = self.work / "limits"
        lim.mkdir(parents=True, exist_ok=True)
        mod = [self.python, "-m", "benchmarks.limits"]
        env = self.base_env()
        db = lim / "duckdb_read.duckdb"
        self.run_step(
            "limit.duckdb_read",
            "DuckDB's own read of the event files",
            "limit",
            [*mod, "duckdb-read", "--events-dir", str(events_dir), "--db", str(db)],
            env,
            "duckdb",
        )
        if "postgres" in self.s.warehouses and self.steps["limit.duckdb_read"].ok:
            csv_path = lim / "events.csv"
            self.run_step(
                "prep.csv_export",
                "export the event rows as one CSV (prep for COPY)",
                "prep",
                [*mod, "export-csv", "--db", str(db), "--out", str(csv_path)],
                env,
            )
            self.psql(
                "drop schema if exists bench_limits cascade; create schema bench_limits; "
                f"create table bench_limits.events ({EVENT_COLUMNS_PG})"
            )
            psql_bin = (
                str(self.pg._bindir / "psql")
                if (self.pg._bindir / "psql").exists()
                else (shutil.which("psql") or "psql")
            )
            copy = f"\\copy bench_limits.events from '{csv_path}' with (format csv, header)"
            step = self.run_step(
                "limit.pg_copy",
                "PostgreSQL COPY of the same event rows",
                "limit",
                [psql_bin, "-X", "-v", "ON_ERROR_STOP=1", "-c", copy],
                self.wh_env("postgres"),
                "postgres",
            )
            step.rows = self._copy_rows(step) or self.steps["prep.csv_export"].rows
            self.psql("drop schema bench_limits cascade")
            csv_path.unlink(missing_ok=True)
        db.unlink(missing_ok=True)
        crm = self.sources_cfg.get("crm") or {}
        params = ((crm.get("resource_defaults") or {}).get("endpoint") or {}).get("params") or {}
        page_size = int(params.get("limit", 1000))
        http = [
            *mod,
            "http-pages",
            "--base-url",
            self.api_url,
            "--page-size",
            str(page_size),
            "--token-file",
            str(self.demo_dir / "api_token"),
        ]
        for path in CRM_PATHS:
            http += ["--path", path]
        self.run_step(
            "limit.http_crm",
            f"bare HTTP loop over the CRM API (page size {page_size})",
            "limit",
            http,
            env,
        )
        backend = str((self.sources_cfg.get("shop") or {}).get("backend", "sqlalchemy"))
        driver = "connectorx" if backend == "connectorx" else "sqlalchemy"
        select = [
            *mod,
            "db-select",
            "--sqlite",
            str(self.demo_dir / "shop.sqlite"),
            "--driver",
            driver,
        ]
        for table in SHOP_TABLES:
            select += ["--table", table]
        self.run_step(
            "limit.db_shop", f"bare SELECT of the shop tables ({driver})", "limit", select, env
        )

    def _copy_rows(self, step: StepResult) -> int | None:
        """The row count psql printed (``COPY <n>``)."""
        path = self.logs / f"{step.id}.log"
        found = re.findall(r"^COPY (\d+)$", path.read_text(errors="replace"), re.MULTILINE)
        return int(found[-1]) if found else None

    def first_day(self, wh: str) -> None:
        """Each source on its own into a fresh warehouse, then ``dbt build``."""
        parts = []
        for name in self.sources:
            step_id = f"{wh}.ingest.{name}"
            self.ingest(step_id, f"ingest {name} (day 1)", wh, [name])
            parts.append(step_id)
        self.derived(f"{wh}.ingest.total", "ingest, all sources (day 1)", parts, wh)
        if self.s.skip_dbt:
            return
        rows = self.steps[f"{wh}.ingest.total"].rows
        self.dbt_build(f"{wh}.dbt.day1", "dbt build (day 1, full)", wh, rows)
        self.derived(
            f"{wh}.e2e.day1", "whole day end to end (day 1)", [*parts, f"{wh}.dbt.day1"], wh
        )

    def next_day(self, wh: str) -> None:
        """One run of every source after ``demo advance``, then the incremental ``dbt build``."""
        step = self.ingest(
            f"{wh}.ingest.day2", f"ingest, {self.which} (day 2, incremental)", wh, self.only
        )
        if self.s.skip_dbt:
            return
        self.dbt_build(f"{wh}.dbt.day2", "dbt build (day 2, incremental)", wh, step.rows)
        self.derived(
            f"{wh}.e2e.day2",
            "whole day end to end (day 2)",
            [f"{wh}.ingest.day2", f"{wh}.dbt.day2"],
            wh,
        )

    def double_volume(self, wh: str) -> None:
        """Both days at once into a second, empty warehouse: 2× the day's volume per source.

        No more data is generated for this: after ``advance`` the demo holds two days, and a
        fresh warehouse has to load all of it.
        """
        if wh == "postgres":
            from demo import pg_server

            pg_server.create_database(self.pg, "bench2x")
        for name in self.sources:
            self.ingest(
                f"{wh}.ingest2x.{name}",
                f"ingest {name} (both days into an empty warehouse: 2×)",
                wh,
                [name],
                instance="2x",
            )

    def naive(self) -> None:
        """pandas ``to_sql`` in chunks on a slice of the events, extrapolated to the day."""
        rows = min(self.s.naive_rows, self.events_per_day)
        step = self.run_step(
            "naive.to_sql",
            f"naive pandas to_sql, {rows:,}-row slice",
            "naive",
            [
                self.python,
                "-m",
                "benchmarks.limits",
                "naive-to-sql",
                "--events-dir",
                str(self.demo_dir / "landing" / "events"),
                "--rows",
                str(rows),
            ],
            self.wh_env("postgres"),
            "postgres",
        )
        if step.rows:
            step.label = f"naive pandas to_sql, {step.rows:,}-row slice"
            rows = step.rows
        if step.ok and step.details.get("to_sql_s"):
            step.wall_s = round(float(step.details["to_sql_s"]), 3)
            step.note = "wall = the to_sql call only (reading the slice excluded)"
            per_s = step.rows_per_s
            if per_s:
                self.steps["naive.extrapolated"] = StepResult(
                    id="naive.extrapolated",
                    label="naive pandas to_sql, whole day",
                    group="naive",
                    warehouse="postgres",
                    rows=self.events_per_day,
                    wall_s=round(self.events_per_day / per_s, 1),
                    extrapolated=True,
                    note=f"from the {rows:,}-row slice at {per_s:,.0f} rows/s",
                )

    # -- the whole run ----------------------------------------------------------------------
    def run(self) -> tuple[Path, Path]:
        """Every phase in order; always writes the report, even after a failure."""
        self.started = datetime.now(UTC)
        self.commit = _git_commit()
        if self.work.exists():
            shutil.rmtree(self.work)
        self.logs.mkdir(parents=True)
        shutil.copy(REPO_ROOT / "profiles.example.yml", self.work / "profiles.yml")
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
            if self.pg is not None:
                self.pg.stop()
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
            "started_at": self.started.isoformat(timespec="seconds"),
            "finished_at": now.isoformat(timespec="seconds"),
            "duration_s": round((now - self.started).total_seconds(), 1),
            "machine": _machine(),
            "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
            "python": platform.python_version(),
            "git_commit": self.commit,
            "rss_method": RSS_METHOD,
            "sources": self.sources,
            "notes": notes,
        }
        return report.write(
            self.s.results_dir, self.s.name, meta, list(self.steps.values()), results
        )

    def _phases(self) -> None:
        if not self.generate():
            raise RuntimeError("demo generate failed; nothing to measure")
        if "postgres" in self.s.warehouses or not self.s.skip_naive:
            self.start_postgres()
        with self.demo_api():
            self.limits()
            for wh in self.s.warehouses:
                self.first_day(wh)
            for wh in self.s.warehouses:
                self.ingest(
                    f"{wh}.ingest.noop", f"ingest, {self.which}, nothing new (no-op)", wh, self.only
                )
        if not self.s.skip_naive:
            self.naive()
        if self.s.skip_next_day:
            return
        before = self._manifest_events() or 0
        step = self.run_step(
            "demo.advance_1",
            "demo advance 1 day",
            "demo",
            [self.python, "-m", "demo", "advance", "--days", "1"],
            self.base_env(),
        )
        step.rows = (self._manifest_events() or 0) - before or None
        with self.demo_api():
            for wh in self.s.warehouses:
                self.next_day(wh)
            if not self.s.skip_2x:
                for wh in self.s.warehouses:
                    self.double_volume(wh)
