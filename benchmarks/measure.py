"""Run one measured step as a subprocess: wall-clock time and peak resident memory.

Peak RSS is ``ru_maxrss`` from ``os.wait4()`` on the step's own process, the same number GNU
``/usr/bin/time -v`` prints as "Maximum resident set size": the largest resident set of the
process or of any descendant it waited for (the largest single process, not a sum). Reading it
per child avoids the cumulative ``RUSAGE_CHILDREN`` counters of the harness process.
Linux carries the forking process's resident set into the child's high-water mark until
``exec``, so a figure includes the harness's own RSS at spawn time (its size: benchmarks/README.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

RESULT_PREFIX = "BENCH_RESULT "


class StepFailed(RuntimeError):
    """A measured step exited non-zero or timed out."""


@dataclass
class Measurement:
    """What one subprocess cost."""

    wall_s: float
    peak_rss_bytes: int
    returncode: int
    timed_out: bool
    log_path: Path
    result: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the process exited 0 within its time limit."""
        return self.returncode == 0 and not self.timed_out

    def log_tail(self, chars: int = 1500) -> str:
        """The end of the step's combined output, for error messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _read_result(log_path: Path) -> dict:
    """The last ``BENCH_RESULT {json}`` line a benchmark helper printed, if any."""
    result: dict = {}
    try:
        with log_path.open(errors="replace") as fh:
            for line in fh:
                if line.startswith(RESULT_PREFIX):
                    result = json.loads(line[len(RESULT_PREFIX) :])
    except OSError:
        pass
    return result


def run(
    cmd: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    log_path: Path,
    timeout_s: float = 3600,
) -> Measurement:
    """Run ``cmd`` to completion and measure it.

    Args:
        cmd: The command line.
        env: The complete environment of the process.
        cwd: Working directory (the repo root for the project's steps).
        log_path: Where stdout and stderr go (one file, kept for inspection).
        timeout_s: The process group is killed after this many seconds.

    Returns:
        The measurement; check ``ok`` (a failed step is measured, not raised).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    timed_out = threading.Event()
    with log_path.open("w") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except KeyboardInterrupt:  # the step runs in its own session: stop it with the harness
            kill()
            os.wait4(proc.pid, 0)
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    measurement = Measurement(
        wall_s=wall,
        peak_rss_bytes=int(usage.ru_maxrss) * 1024,  # Linux reports kilobytes
        returncode=proc.returncode,
        timed_out=timed_out.is_set(),
        log_path=log_path,
        result=_read_result(log_path),
    )
    log.debug("%s: %.2f s, rc=%s", cmd, wall, proc.returncode)
    return measurement


def emit_result(**values: object) -> None:
    """Print a result line for the harness (used by the helpers in ``benchmarks.limits``)."""
    print(RESULT_PREFIX + json.dumps(values), flush=True)


def slowest_dbt_nodes(run_results: Path, count: int = 8) -> list[dict[str, object]]:
    """The ``count`` slowest nodes of a ``dbt build`` (from its ``run_results.json``), if any."""
    try:
        results = json.loads(run_results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    ranked = sorted(results, key=lambda r: -float(r.get("execution_time") or 0))[:count]
    return [
        {
            "node": str(r["unique_id"]).split(".", 2)[-1],
            "kind": str(r["unique_id"]).split(".", 1)[0],
            "s": round(float(r.get("execution_time") or 0), 1),
            "status": r.get("status"),
        }
        for r in ranked
    ]
