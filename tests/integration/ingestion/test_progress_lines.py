"""`python -m ingestion` off a terminal (a pipe, a log) prints plain progress lines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.cli import cli_env
from tests.support.demo import generate
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import dict_rows, fresh_env


def test_a_real_load_through_a_pipe_prints_plain_lines_per_table_and_step(tmp_path: Path) -> None:
    demo_dir = generate(tmp_path / "demo_data", scale=0.01)
    env = {**cli_env(tmp_path), **fresh_env("duckdb", tmp_path), "DEMO_DIR": str(demo_dir)}

    loaded = subprocess.run(
        [sys.executable, "-m", "ingestion", "--source", "events"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert loaded.returncode == 0, loaded.stderr[-3000:]
    (rows,) = dict_rows(  # rows read = rows loaded (a re-sent event merges: fewer are stored)
        env, "select rows_loaded as n from ops.run_tables where table_name = 'raw_events.events'"
    )
    extract = re.search(r"^events extract events: ([\d,]+) rows \([\d,]+ rows/s\)$",
                        loaded.stderr, re.M)  # fmt: skip
    assert extract is not None, loaded.stderr[-3000:]
    assert int(extract.group(1).replace(",", "")) == rows["n"] > 0
    assert re.search(r"^events normalize: [1-9][\d,]* files$", loaded.stderr, re.M)
    assert re.search(r"^events load: ([1-9][\d,]*)/\1 files$", loaded.stderr, re.M)
    assert "\x1b" not in loaded.stderr + loaded.stdout  # no terminal control off a terminal
