"""The watch mode as a real process: fed a file while it runs, refused by another run's lock,
stopped by SIGTERM mid-cycle.

The warehouse starts empty and the watch builds the event chain up to ``fct_daily_funnel``
(``--select +fct_daily_funnel``): its default, ``source:events+``, also rebuilds the quarantine
union of every source, which needs a full run first (a minute more); the default is checked
below without a process.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo import stream
from orchestration.feeds import Batch
from orchestration.lock import ADVISORY_LOCK_KEY
from orchestration.watch import Watcher, WatchOptions
from tests.support.cli import real_project_cli
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import connect, dict_rows

pytestmark = pytest.mark.slow


def _wait(check: Any, what: str, proc: subprocess.Popen[str], timeout: float = 150) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        assert proc.poll() is None, f"the watch exited ({proc.returncode}) before {what}"
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def another_run_holds_the_lock(env: dict[str, str]) -> Iterator[None]:
    """The run lock held by this live process: a lock file, or the advisory lock's session."""
    if env["WAREHOUSE"] == "duckdb":
        lock = Path(env["DUCKDB_PATH"]).parent / ".run.lock"
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "run_id": "other"}
        lock.write_text(json.dumps({**holder, "command": "run", "started_at": "now"}))
        yield
        lock.unlink()
        return
    conn = connect(env)
    try:
        conn.autocommit = True
        conn.cursor().execute("select pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        yield
    finally:
        conn.close()


def _lock_is_free(env: dict[str, str]) -> bool:
    if env["WAREHOUSE"] == "duckdb":
        return not (Path(env["DUCKDB_PATH"]).parent / ".run.lock").exists()
    conn = connect(env)
    try:
        cur = conn.cursor()
        cur.execute("select pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        return bool(cur.fetchone()[0])
    finally:
        conn.close()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_watch_loads_a_file_landed_while_it_runs_after_the_lock_frees_and_stops_on_sigterm(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path, tiny_demo: Path
) -> None:
    demo_dir = shutil.copytree(tiny_demo, tmp_path / "demo")
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    env = real_project_cli(tmp_path, demo_dir, kind, server).env
    runs_sql = "select * from ops.runs where command = 'watch' order by started_at"
    args = ["watch", "--interval", "1", "--source", "events", "--select", "+fct_daily_funnel"]
    log = tmp_path / "watch.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    said = log.read_text
    try:
        # the first cycle loads what the landing zone holds; the test reads only between cycles
        # (a reader holding the DuckDB file as a cycle starts would make it fail and run again)
        _wait(lambda: "watch cycle 1: run" in said(), "the end of the first cycle", proc)
        first = dict_rows(env, runs_sql)
        assert first[0]["status"] == "success" and first[0]["rows_loaded"] > 0

        with another_run_holds_the_lock(env):  # the cycle that sees the file waits for the next
            landed = stream.land(demo_dir / "landing" / "events", batch=0, visitors=10)
            _wait(lambda: "retry next cycle" in said(), "a cycle refused by the lock", proc)
        # the ingest step starts only under the lock: the cycle is running; stop it mid-way
        _wait(lambda: said().count("step ingest: attempt") == 2, "the next cycle", proc)
        proc.send_signal(signal.SIGTERM)  # the cycle finishes, then the watch stops
        proc.wait(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    out = said()
    assert proc.returncode == 0, out[-3000:]
    assert "watch stopped by SIGTERM" in out
    assert _lock_is_free(env)
    runs = dict_rows(env, runs_sql)
    assert [r["status"] for r in runs] == ["success", "success"], out[-3000:]
    cycle = json.loads(runs[-1]["args"])["watch"]
    assert cycle["batches"] == {"events": 1} and cycle["cycle"] > 1
    assert runs[-1]["rows_loaded"] == landed.events + 1  # the events and the file's registry row
    steps = dict_rows(
        env,
        "select step_name, sessions from marts.fct_daily_funnel "
        f"where session_date = '{landed.day}' order by step_number",
    )
    assert [(s["step_name"], s["sessions"]) for s in steps] == [
        ("page_view", 10),
        ("product_view", 10),
        ("add_to_cart", 10),
        ("checkout_started", 10),
        ("purchase", 0),
    ]
    (events,) = dict_rows(
        env,
        f"select sum(event_count) as n from marts.fct_sessions where session_date = '{landed.day}'",
    )
    assert events["n"] == landed.events


class _Feed:
    source = "events"

    def poll(self) -> Batch | None:
        return None

    def commit(self, batch: Batch) -> None:
        raise AssertionError("nothing to commit")


def test_a_cycle_builds_what_the_sources_with_news_feed_unless_told() -> None:
    batch = Batch("events", ("date=2030-01-01/a.parquet",))
    watcher = Watcher([_Feed()], WatchOptions())

    request = watcher.request([batch])
    closing = watcher.request([], stopped_by="SIGTERM")

    assert request.command == "watch" and request.sources == ["events"]
    assert request.select == "source:events+"
    assert not request.build_only_if_loaded  # a first cycle builds whatever its load finds
    assert closing.skip_ingest and closing.skip_dbt and closing.watch["stopped_by"] == "SIGTERM"
    assert Watcher([_Feed()], WatchOptions(select="tag:web")).request([batch]).select == "tag:web"
