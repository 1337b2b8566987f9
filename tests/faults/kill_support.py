"""Kill `python -m ingestion` and `dbt build` at chosen moments, and tell where they died.

The stage of a killed load is read from dlt's working folder of each source pipeline
(``$DLT_DATA_DIR/pipelines/<warehouse>-<hash>/<source>``), which is where dlt keeps packages in
flight:

- extract: a package being written under ``normalize/<random>/<load_id>``
- normalize: a package in ``normalize/extracted/`` or being written in ``load/new/``
- load: a package in ``load/normalized/`` (jobs moving new -> started -> completed)
"""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.env import clean_env
from tests.support.paths import REPO_ROOT

SOURCES = ("crm", "fx", "shop", "events")
STAGES = ("extract", "normalize", "load")
BETWEEN = "between steps"
# Upper bound of the random delay after a stage's first trace appears, s (steps of the tiny demo
# last 0.1-1.2 s; a kill that lands past the step is classified where it landed).
STAGE_DELAY_S = {"extract": 0.5, "normalize": 0.3, "load": 0.8}
POLL_S = 0.002
# settings each test sets itself (never inherited from the shell running pytest)
ENV_OWNED = (
    "PG",
    "DBT_",
    "LOADER_",
    "READER_",
    "ORCHESTRATION__",
    "WAREHOUSE",
    "DUCKDB_PATH",
    "DEMO_",
    "DLT_DATA_DIR",
)


def pipeline_dirs(dlt_data_dir: Path, source: str) -> list[Path]:
    """The working folders of ``source``'s pipeline (one per warehouse fingerprint)."""
    return sorted((dlt_data_dir / "pipelines").glob(f"*/{source}"))


def markers(dlt_data_dir: Path, source: str) -> dict[str, set[str]]:
    """Packages in flight of ``source``, by stage (paths, so old leftovers can be told apart)."""
    found: dict[str, set[str]] = {stage: set() for stage in STAGES}
    for pdir in pipeline_dirs(dlt_data_dir, source):
        normalize = pdir / "normalize"
        if normalize.is_dir():
            for folder in normalize.iterdir():
                target = "normalize" if folder.name == "extracted" else "extract"
                found[target] |= {str(p) for p in folder.iterdir()} if folder.is_dir() else set()
        found["normalize"] |= {str(p) for p in (pdir / "load" / "new").glob("*")}
        found["load"] |= {str(p) for p in (pdir / "load" / "normalized").glob("*")}
    return found


def snapshot(dlt_data_dir: Path) -> dict[str, dict[str, set[str]]]:
    """Packages in flight of every source."""
    return {source: markers(dlt_data_dir, source) for source in SOURCES}


def classify(dlt_data_dir: Path, before: Mapping[str, Mapping[str, set[str]]]) -> str:
    """Where a killed run died: the latest stage with a package it left behind, else between."""
    now = snapshot(dlt_data_dir)
    for stage in reversed(STAGES):
        for source in SOURCES:
            if now[source][stage] - set(before.get(source, {}).get(stage, set())):
                return stage
    return BETWEEN


def spawn(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a command from the repo root with its output in ``log``."""
    out = log.open("ab")
    try:
        return subprocess.Popen(
            args, cwd=REPO_ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT
        )
    finally:
        out.close()


def ingestion_args() -> list[str]:
    """``python -m ingestion`` as the user runs it (quiet: no progress display)."""
    return [sys.executable, "-m", "ingestion", "--quiet"]


@dataclass
class Kill:
    """One kill: what was aimed at and where the process actually died."""

    source: str
    target: str
    stage: str
    delay_s: float
    killed: bool


def wait_for_stage(
    proc: subprocess.Popen[bytes],
    dlt_data_dir: Path,
    source: str,
    target: str,
    before: Mapping[str, Mapping[str, set[str]]],
    timeout: float = 300,
) -> bool:
    """Wait until ``source``'s pipeline has a new package in ``target`` (or a later stage)."""
    later = STAGES[STAGES.index(target) :]
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        now = markers(dlt_data_dir, source)
        if any(now[stage] - set(before[source][stage]) for stage in later):
            return True
        time.sleep(POLL_S)
    return False


def kill_ingestion_at(
    env: Mapping[str, str],
    dlt_data_dir: Path,
    rng: random.Random,
    target: str,
    log: Path,
    sources: tuple[str, ...] = SOURCES,
    max_delay_s: Mapping[str, float] = STAGE_DELAY_S,
) -> Kill:
    """Run the loaders and SIGKILL them a random moment into ``target`` of a random source.

    The source (one of ``sources``) and the delay (up to the stage's ``max_delay_s``) are drawn
    from ``rng``; the stage the run died in is read from dlt's working folder after the kill.
    """
    source = rng.choice(sources)
    delay = rng.uniform(0, max_delay_s[target])
    before = snapshot(dlt_data_dir)
    proc = spawn(ingestion_args(), env, log)
    try:
        if wait_for_stage(proc, dlt_data_dir, source, target, before):
            time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed = proc.returncode == -signal.SIGKILL
    stage = classify(dlt_data_dir, before) if killed else "finished before the kill"
    return Kill(source, target, stage, delay, killed)


def completed_loads(dlt_data_dir: Path) -> dict[str, set[str]]:
    """Load ids dlt finished (``load/loaded/<id>/package_completed.json``), per source."""
    return {
        source: {
            p.parent.name
            for pdir in pipeline_dirs(dlt_data_dir, source)
            for p in (pdir / "load" / "loaded").glob("*/package_completed.json")
        }
        for source in SOURCES
    }


def run_ingestion(env: Mapping[str, str], log: Path, timeout: float = 600) -> int:
    """Run the loaders to the end; returns the exit code."""
    proc = spawn(ingestion_args(), env, log)
    return proc.wait(timeout=timeout)


# ---------------------------------------------------------------- dbt


def dbt_args(work_dir: Path) -> list[str]:
    """``dbt build`` with this test's own profile, target and log folders."""
    return [
        str(Path(sys.executable).parent / "dbt"),
        "build",
        "--profiles-dir",
        str(work_dir),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
    ]


NODE_START = re.compile(rb"\b(\d+) of (\d+) START\b")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def kill_dbt_at(env: Mapping[str, str], work_dir: Path, fraction: float, log: Path) -> str:
    """Start ``dbt build`` and SIGKILL it when node ``ceil(fraction * total)`` starts.

    Returns the node line it was killed at (or why it was not killed).
    """
    proc = subprocess.Popen(
        dbt_args(work_dir),
        cwd=REPO_ROOT,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    at = "finished before the kill"
    with log.open("ab") as out:
        for line in proc.stdout:
            out.write(line)
            match = NODE_START.search(line)
            if match and int(match.group(1)) >= max(1, round(fraction * int(match.group(2)))):
                proc.send_signal(signal.SIGKILL)
                at = ANSI.sub("", line.decode(errors="replace")).strip()
                break
        proc.wait(timeout=60)
    return at if proc.returncode == -signal.SIGKILL else f"{at} (exit {proc.returncode})"


def run_dbt(env: Mapping[str, str], work_dir: Path, log: Path, timeout: float = 900) -> int:
    """Run ``dbt build`` to the end; returns the exit code."""
    proc = spawn(dbt_args(work_dir), env, log)
    return proc.wait(timeout=timeout)


def base_env(tmp: Path) -> dict[str, str]:
    """The test process's environment without warehouse, dbt or run-script settings."""
    env = clean_env(*ENV_OWNED)
    env.update(
        {
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "RUNTIME__LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env
