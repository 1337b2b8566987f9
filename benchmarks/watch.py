"""``python -m benchmarks watch``: the watch mode's latency at a steady event rate, and the cost
of a cycle with nothing new.

Per warehouse: a small demo shop is loaded by one full run (the watch's default selection,
``source:events+``, rebuilds the quarantine union of every source), then
``python -m orchestration watch`` runs as a process while the harness lands one stream file
(``demo/stream.py``) every ``--file-every`` seconds, ``--rate`` events a minute, for
``--minutes``. Once the watch has caught up it is left idle for ``--idle`` seconds, then
stopped with SIGTERM. Figures come from the ledger afterwards (``watch_figures.py``); the idle
cycles' CPU time from ``/proc`` around the idle phase.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.settings import REPO_ROOT, Settings
from benchmarks.watch_figures import figures
from benchmarks.workspace import Workspace
from demo import stream

log = logging.getLogger("benchmarks")

CYCLE_STARTED = re.compile(r"watch cycle (\d+): \w+: \d+ new")
CYCLE_ENDED = re.compile(r"watch cycle (\d+): (run \S+ loaded|.*retry next cycle|FAILED)")


@dataclass
class WatchBench:
    """What the watch benchmark runs (see the flags)."""

    warehouses: list[str] = field(default_factory=lambda: ["duckdb"])
    rate_per_min: int = 100_000
    minutes: float = 5.0
    file_every_s: float = 10.0
    interval_s: float = 5.0
    idle_s: float = 60.0
    demo_scale: float = 0.05
    work_dir: Path = REPO_ROOT / "benchmarks" / "work" / "watch"
    results_dir: Path = REPO_ROOT / "benchmarks" / "results"
    name: str = "watch"


def parse_args(argv: list[str]) -> WatchBench:
    """The flags of ``python -m benchmarks watch``."""
    d = WatchBench()
    p = argparse.ArgumentParser(prog="python -m benchmarks watch", description=__doc__)
    p.add_argument("--warehouses", default=",".join(d.warehouses), help="duckdb,postgres")
    p.add_argument("--rate", type=int, default=d.rate_per_min, help="events a minute")
    p.add_argument("--minutes", type=float, default=d.minutes, help="how long files land")
    p.add_argument("--file-every", type=float, default=d.file_every_s, help="seconds per file")
    p.add_argument("--interval", type=float, default=d.interval_s, help="the watch's --interval")
    p.add_argument("--idle", type=float, default=d.idle_s, help="idle seconds before SIGTERM")
    p.add_argument("--name", default=d.name, help="results/<name>.{json,md}")
    a = p.parse_args(argv)
    return WatchBench(
        warehouses=[w.strip() for w in a.warehouses.split(",") if w.strip()],
        rate_per_min=a.rate,
        minutes=a.minutes,
        file_every_s=a.file_every,
        interval_s=a.interval,
        idle_s=a.idle,
        name=a.name,
    )


def _run(ws: Workspace, env: dict[str, str], *args: str, log_name: str) -> float:
    started = time.monotonic()
    with (ws.logs / log_name).open("w") as out:
        proc = subprocess.run(
            [ws.python, *args], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}; see {ws.logs / log_name}")
    return time.monotonic() - started


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class WatchProcess:
    """``python -m orchestration watch`` in the background, followed through its log."""

    def __init__(self, ws: Workspace, env: dict[str, str], interval_s: float, wh: str) -> None:
        self.log_path = ws.logs / f"watch-{wh}.log"
        self.out = self.log_path.open("w")
        args = ["-m", "orchestration", "watch", "--interval", str(interval_s), "--source", "events"]
        self.proc = subprocess.Popen(
            [ws.python, *args], cwd=REPO_ROOT, env=env, stdout=self.out, stderr=subprocess.STDOUT
        )

    def cycles(self) -> tuple[int, int, float]:
        """Cycles started and ended with a run, and when the log last said a cycle ended."""
        text = self.log_path.read_text(errors="replace")
        started = len(CYCLE_STARTED.findall(text))
        ended = len(CYCLE_ENDED.findall(text))
        return started, ended, self.log_path.stat().st_mtime

    def wait_caught_up(self, after: float, quiet_s: float, timeout_s: float) -> None:
        """Until every cycle begun has ended, the last after ``after``, and ``quiet_s`` passed."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the watch exited {self.proc.returncode}; see {self.log_path}")
            started, ended, touched = self.cycles()
            if started and started == ended and touched > after and time.time() - touched > quiet_s:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the watch did not catch up in {timeout_s:.0f} s; see {self.log_path}")

    def stop(self) -> int:
        """SIGTERM, then its exit code."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(600)
        self.out.close()
        return code


def measure(ws: Workspace, bench: WatchBench, wh: str, first_batch: int) -> dict[str, Any]:
    """One warehouse: prepare, stream, idle, stop, read the figures.

    Batches are numbered from ``first_batch`` (a day each): a warehouse measured after another
    lands files of its own, never the same names with the same content (re-registered only).
    """
    env = ws.wh_env(wh)
    prep_s = _run(ws, env, "-m", "orchestration", "run", log_name=f"prep-{wh}.log")
    watch = WatchProcess(ws, env, bench.interval_s, wh)
    watch.wait_caught_up(0, bench.interval_s, 600)  # the first cycle: what the zone holds
    folder = ws.demo_dir / "landing" / "events"
    per_file = bench.rate_per_min * bench.file_every_s / 60
    visitors = max(1, round(per_file / len(stream.STEPS)))
    files = max(1, round(bench.minutes * 60 / bench.file_every_s))
    landed: list[tuple[stream.Landed, float]] = []
    load_before = os.getloadavg()
    start = time.monotonic()
    for batch in range(files):
        time.sleep(max(0.0, start + batch * bench.file_every_s - time.monotonic()))
        file = stream.land(folder, first_batch + batch, visitors)
        landed.append((file, time.time()))
    log.info("%s: %d files landed; waiting for the watch to catch up", wh, files)
    watch.wait_caught_up(landed[-1][1], 2 * bench.interval_s, 1800)
    cpu_before, idle_from = _cpu_s(watch.proc.pid), time.monotonic()
    time.sleep(bench.idle_s)
    cpu_idle = _cpu_s(watch.proc.pid) - cpu_before
    idle_wall = time.monotonic() - idle_from
    code = watch.stop()
    result = figures(env, landed)
    for file, _ in landed:  # the next warehouse's first run must not load this one's stream
        shutil.rmtree(file.path.parent, ignore_errors=True)
    idle_cycles = max(1, round(idle_wall / bench.interval_s))  # the cycles of the idle phase
    result.update(
        warehouse=wh,
        exit_code=code,
        prep_run_s=round(prep_s, 1),
        events_per_file=visitors * len(stream.STEPS),
        idle_phase_s=round(idle_wall, 1),
        idle_cpu_s=round(cpu_idle, 2),  # /proc counts in clock ticks (10 ms)
        idle_cpu_ms_per_cycle=round(1000 * cpu_idle / idle_cycles, 2),
        load_average_before_stream=[round(x, 2) for x in load_before],
        load_average_after=[round(x, 2) for x in os.getloadavg()],
    )
    return result


def report(bench: WatchBench, results: list[dict[str, Any]]) -> str:
    """The Markdown summary."""
    lines = [
        f"# Watch mode: {bench.rate_per_min:,} events/min, a file every {bench.file_every_s:g} s "
        f"for {bench.minutes:g} min, --interval {bench.interval_s:g} s",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores shared with other "
        "work (load averages below).",
        "",
        "| warehouse | files counted | latency p50 / p95 / max (s) | run per cycle p50 / p95 (s) "
        "| load / dbt p50 (s) | idle poll (ms) | idle CPU / cycle (ms) | funnel days wrong |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lat, run, steps, idle = r["latency_s"], r["run_s"], r["step_s"], r["idle"]
        lines.append(
            f"| {r['warehouse']} | {r['files_counted']}/{r['files']} "
            f"| {lat.get('p50')} / {lat.get('p95')} / {lat.get('max')} "
            f"| {run.get('p50')} / {run.get('p95')} "
            f"| {steps.get('ingest', {}).get('p50')} / {steps.get('dbt_build', {}).get('p50')} "
            f"| {idle.get('idle_poll_ms_mean')} (max {idle.get('idle_poll_ms_max')}) "
            f"| {r['idle_cpu_ms_per_cycle']} | {r['funnel_days_wrong']} |"
        )
    lines.append("")
    for r in results:
        lines.append(
            f"- {r['warehouse']}: {r['events']:,} events in {r['files']} files "
            f"({r['events_per_file']:,} a file); {r['cycles_with_a_run']} watch runs in the ledger "
            f"(a first no-op cycle and a closing row included), {r['runs_failed']} failed; "
            f"the {r['idle_phase_s']} s idle phase (a cycle every --interval) took "
            f"{r['idle_cpu_s']} s of CPU; load average "
            f"(1/5/15 min) {r['load_average_before_stream']} before the stream, "
            f"{r['load_average_after']} after."
        )
    lines += ["", "Raw figures: the JSON beside this file.", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run the watch benchmark; writes ``results/<name>.json`` and ``.md``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    bench = parse_args(argv)
    ws = Workspace(Settings(work_dir=bench.work_dir))
    ws.reset()
    scale = str(bench.demo_scale)
    demo_args = ["-m", "demo", "generate", "--days", "2", "--scale", scale, "--force"]
    _run(ws, ws.base_env(), *demo_args, log_name="demo.log")
    results = []
    try:
        with ws.demo_api():
            for index, wh in enumerate(bench.warehouses):
                if wh == "postgres" and ws.pg is None:
                    ws.start_postgres()
                results.append(measure(ws, bench, wh, first_batch=1000 * index))
                log.info("%s: %s", wh, json.dumps(results[-1]["latency_s"]))
    finally:
        ws.stop_postgres()
        bench.results_dir.mkdir(parents=True, exist_ok=True)
        data = {"settings": {k: str(v) for k, v in asdict(bench).items()}, "results": results}
        (bench.results_dir / f"{bench.name}.json").write_text(json.dumps(data, indent=2) + "\n")
        (bench.results_dir / f"{bench.name}.md").write_text(report(bench, results))
    return 0 if all(r["exit_code"] == 0 and r["files_not_counted"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
