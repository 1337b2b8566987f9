"""Faults the loaders must survive: flaky API, killed runs, replays of rejected records."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dlt
import duckdb
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

import ingestion
from ingestion import pipelines, warehouse
from ingestion.package_repair import drop_normalized_extract_leftovers
from tests.support.demo import serve, truth_counts
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import count, query_current

FAULT_SEED = 67  # with these rates: request 1 and 3 get 429, request 4 a truncated body


FORK_FROM_A_THREAD = """
import subprocess, sys, threading
import ingestion
summary = ingestion.load(sources=["events"])
assert summary.ok and summary.tables["raw_events.events"].loaded, (summary.errors, summary.tables)
codes = []
def start():  # as pyspark starts its gateway from a dbt thread: preexec_fn makes Python fork
    child = subprocess.Popen([sys.executable, "-c", "pass"], preexec_fn=lambda: None)
    codes.append(child.wait())
thread = threading.Thread(target=start)
thread.start()
thread.join()
print("child exit", codes[0])
"""


def test_a_process_that_read_file_drops_can_start_programs_from_another_thread(
    demo_dir, warehouse_env
):
    run = subprocess.run(
        [sys.executable, "-c", FORK_FROM_A_THREAD],
        capture_output=True, text=True, timeout=600, cwd=REPO_ROOT,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines()[-1] == "child exit 0", run.stdout[-2000:]


def test_api_throttling_errors_and_truncated_bodies_are_retried_to_the_exact_counts(
    demo_dir, tmp_path, monkeypatch
):
    from demo.faults import ApiFaults, FaultDice

    faults = ApiFaults(
        error_rate=0.15, throttle_rate=0.08, truncate_rate=0.2, duplicate_rate=0.3, seed=FAULT_SEED
    )
    dice = FaultDice(faults)
    first_rolls = [dice.roll() for _ in range(4)]
    assert first_rolls[0]["throttle"] and first_rolls[3] == {
        "throttle": False,
        "error": False,
        "slow": False,
        "truncate": True,
        "duplicate": False,
    }, "the fault seed no longer injects a 429 and a truncated body first"
    # small pages so the run makes many requests through the faults
    sources = (REPO_ROOT / "ingestion" / "sources.yml").read_text()
    (tmp_path / "sources.yml").write_text(sources.replace("limit: 1000", "limit: 8"))
    monkeypatch.setenv("INGESTION_SOURCES", str(tmp_path / "sources.yml"))
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "15")
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.05")
    api = serve(demo_dir, monkeypatch, faults)
    next(api)
    try:
        summary = ingestion.load(sources=["crm", "fx"])
    finally:
        api.close()

    assert summary.ok, summary.errors
    expected = truth_counts(demo_dir)
    assert count("raw_crm.customers") == expected["customers"]
    assert count("raw_crm.campaigns") == expected["campaigns"]
    assert count("raw_fx.rates") == expected["fx_rates"]


def _load_started(pipeline_dir: Path) -> bool:
    return any(pipeline_dir.glob("load/normalized/*/started_jobs/*")) or any(
        pipeline_dir.glob("load/normalized/*/completed_jobs/*")
    )


@pytest.mark.slow
def test_a_run_killed_during_load_is_completed_by_the_next_run_without_loss_or_duplicates(
    warehouse_env, demo_dir, demo_api, tmp_path
):
    pipeline_dir = pipelines.pipelines_dir(warehouse.current()) / "events"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingestion", "--source", "events", "--quiet"],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not _load_started(pipeline_dir):
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"

    summary = ingestion.load(sources=["events"])

    assert summary.ok, summary.errors
    expected = truth_counts(demo_dir)
    assert count("raw_events.events") == expected["events"]
    assert count("raw_events.rejected_records") == expected["events_malformed"]
    assert (
        query_current("select count(distinct event_id) from raw_events.events")[0][0]
        == expected["events"]
    )


def test_replay_admits_a_repaired_record_exactly_once(demo_dir, demo_api, tmp_path, monkeypatch):
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    ingestion.load(sources=["events"])
    location, position = query_current(
        "select location, position from raw_events.rejected_records"
        " where location like '%.csv' order by location, position limit 1"
    )[0]
    rejected_before = count("raw_events.rejected_records")
    events_before = count("raw_events.events")
    # repair the line in place: a valid copy of the first data row under a new event_id
    path = demo_dir / "landing" / "events" / location
    lines = path.read_text().split("\n")
    first_row = lines[1].split(",", 1)[1]
    lines[position - 1] = "replayed-0001," + first_row
    path.write_text("\n".join(lines))

    first = ingestion.replay(["events"])
    second = ingestion.replay(["events"])

    assert first.ok and second.ok
    assert first.tables["raw_events.events"].new == 1
    assert second.tables.get("raw_events.events") is None or (
        second.tables["raw_events.events"].loaded == 0
    )
    assert count("raw_events.events", "event_id = 'replayed-0001'") == 1
    assert count("raw_events.events") == events_before + 1
    assert count("raw_events.rejected_records") == rejected_before - 1
    # the next run re-reads the changed file: nothing doubles, the stale reject stays gone
    assert ingestion.load(sources=["events"]).ok
    assert count("raw_events.events") == events_before + 1
    assert count("raw_events.rejected_records") == rejected_before - 1


def test_a_package_whose_extracted_copy_survived_a_kill_after_normalize_is_loaded_once(tmp_path):
    database = tmp_path / "w.duckdb"
    pipeline = dlt.pipeline(
        "repair",
        destination=dlt.destinations.duckdb(str(database)),
        dataset_name="d",
        pipelines_dir=str(tmp_path / "dlt"),
    )
    pipeline.extract([{"id": 1}, {"id": 2}], table_name="t")
    (load_id,) = pipeline.list_extracted_load_packages()
    extracted = Path(pipeline.working_dir) / "normalize" / "extracted" / load_id
    whole_copy = tmp_path / "copy"
    shutil.copytree(extracted, whole_copy)
    pipeline.normalize()
    # what SIGKILL during dlt's clean-up leaves: the package committed, its extracted copy
    # partly deleted (observed in the kill battery)
    shutil.copytree(whole_copy, extracted)
    shutil.rmtree(extracted / "new_jobs")
    with pytest.raises(PipelineStepFailed):
        pipeline.normalize()  # dlt alone stops here on every run

    assert drop_normalized_extract_leftovers(pipeline.working_dir) == [load_id]
    assert drop_normalized_extract_leftovers(pipeline.working_dir) == []
    pipeline.normalize()
    pipeline.load()

    with duckdb.connect(str(database)) as conn:
        assert conn.execute("select count(*), count(distinct id) from d.t").fetchall() == [(2, 2)]
