"""The benchmark's measuring of a step: real subprocesses, their memory, exit codes, results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks import measure
from tests.support.paths import REPO_ROOT


def _peak_rss_measured_from_a_small_harness(code: str, tmp_path: Path) -> int:
    """Measure ``python -c code`` from a fresh interpreter, as ``make bench`` does.

    A child's high-water mark starts at its parent's resident set until ``exec`` (see
    measure.py), so the measuring process must be small, like the benchmark's own harness,
    not a pytest worker that has grown to hundreds of MiB.
    """
    harness = (
        "import sys; from pathlib import Path; from benchmarks import measure; "
        "m = measure.run([sys.executable, '-c', sys.argv[1]], env={}, cwd=Path(sys.argv[2]), "
        "log_path=Path(sys.argv[2]) / 'step.log'); assert m.ok; print(m.peak_rss_bytes)"
    )
    out = subprocess.run(
        [sys.executable, "-c", harness, code, str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def test_peak_rss_of_a_step_is_the_memory_its_own_process_touched(tmp_path: Path) -> None:
    allocate = "b = bytearray(300 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"
    big = _peak_rss_measured_from_a_small_harness(allocate, tmp_path)
    small = _peak_rss_measured_from_a_small_harness("pass", tmp_path)
    assert big >= 300 * 1024 * 1024
    assert small < 100 * 1024 * 1024


def test_a_failing_step_is_measured_and_reported_not_raised(tmp_path: Path) -> None:
    m = measure.run(
        [sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
        env={},
        cwd=tmp_path,
        log_path=tmp_path / "fail.log",
    )
    assert not m.ok
    assert m.returncode == 3
    assert "boom" in m.log_tail()


def test_a_step_over_its_time_limit_is_killed(tmp_path: Path) -> None:
    m = measure.run(
        [sys.executable, "-c", "import time; time.sleep(30)"],
        env={},
        cwd=tmp_path,
        log_path=tmp_path / "slow.log",
        timeout_s=0.5,
    )
    assert m.timed_out and not m.ok
    assert m.wall_s < 10


def test_helper_result_lines_are_read_back(tmp_path: Path) -> None:
    code = "from benchmarks.measure import emit_result; emit_result(rows=42, pages=3)"
    m = measure.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(Path.cwd())},
        cwd=tmp_path,
        log_path=tmp_path / "r.log",
    )
    assert m.result == {"rows": 42, "pages": 3}
