"""A load killed between the commits of the rows and of the file registry loses and doubles
nothing: the registry travels in the same load package, so the next run finishes the package
before it lists the folder, and reads no file twice.

dlt commits each table's merge in its own transaction (rejected_records, file_registry, events
here); the load is killed right after one of them committed, or right after a table's rows were
staged, before dlt marked that job done (a resumed package stages them again).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ingestion
from tests.faults.file_drop_support import (
    COLUMNS,
    DAY,
    EPOCH,
    csv_row,
    event,
    event_count,
    jsonl_line,
    loaded_events,
    rejects,
    text,
    use_landing,
    use_warehouse,
    write,
)
from tests.support.battery import size
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import query_current

KILLED = 137
# Kill right after a table's job: its merge committed, or its rows staged (dlt runs a staging
# job again when it resumes the package, so those rows are staged twice). Fast: two of five.
AFTER = [
    ("merge", "file_registry"),
    ("staging", "events"),
    ("merge", "rejected_records"),
    ("merge", "events"),
    ("staging", "rejected_records"),
][: size(2, 5)]
DRIVER = """
import os, sys
from dlt.common.destination.client import RunnableLoadJob
from dlt.destinations.job_client_impl import SqlLoadJob
step, table = sys.argv[1:3]
def ours(job):
    return os.path.basename(job._file_path).split(".")[0] == table
if step == "merge":
    run = SqlLoadJob.run
    def run_then_die(self):
        run(self)
        if ours(self):
            os._exit(137)
    SqlLoadJob.run = run_then_die
else:
    managed = RunnableLoadJob.run_managed
    def staged_then_die(self, *args):
        managed(self, *args)
        if ours(self) and not isinstance(self, SqlLoadJob) and self._state == "completed":
            os._exit(137)
    RunnableLoadJob.run_managed = staged_then_die
import ingestion
ingestion.load(["events"])
"""


@pytest.fixture(params=["duckdb", "postgres"])
def kind(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    use_warehouse(request.param, tmp_path, monkeypatch, request)
    return str(request.param)


@pytest.mark.parametrize(("step", "table"), AFTER)
def test_a_load_killed_between_rows_and_registry_loses_and_doubles_nothing(
    kind: str, step: str, table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figure: Any
) -> None:
    area = "file drops: kill safety"
    root = tmp_path / "landing"
    use_landing(tmp_path, monkeypatch, root)
    write(root / DAY / "a.jsonl", text([*map(jsonl_line, map(event, (1, 2, 3))), "{x"]), EPOCH)
    csv_rows = [csv_row(event(n)) for n in (4, 5, 6)]
    write(root / DAY / "b.csv", text([",".join(COLUMNS), *csv_rows]), EPOCH - 100)

    killed = subprocess.run(
        [sys.executable, "-c", DRIVER, step, table], cwd=REPO_ROOT, capture_output=True, text=True
    )
    finished = ingestion.load(sources=["events"])
    again = ingestion.load(sources=["events"])

    expected = {f"evt-{n:06d}" for n in range(1, 7)}
    lost = len(expected - set(loaded_events()))
    doubled = event_count() - len(set(loaded_events()))
    registered = query_current("select count(*) from raw_events.file_registry")[0][0]
    reread = again.tables["raw_events.events"].loaded + again.tables["raw_events.events"].rejected
    wh = f"{kind}, killed after the {step} job of {table}"
    figure(area, "rows lost / doubled after the kill", f"{lost}/{doubled}", "0/0",
           lost == 0 and doubled == 0, wh)  # fmt: skip
    figure(area, "files read again by the run after", reread, "= 0", reread == 0, wh)
    assert killed.returncode == KILLED, killed.stderr[-2000:]
    assert finished.ok and again.ok, finished.errors + again.errors
    assert lost == 0 and doubled == 0
    assert [(f, p) for f, p, _ in rejects()] == [(f"{DAY}/a.jsonl", 4)]
    assert registered == 2
    assert reread == 0
