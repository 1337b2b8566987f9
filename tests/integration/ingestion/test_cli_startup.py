"""`python -m ingestion` in a fresh interpreter: what it imports before taking the run lock."""

from __future__ import annotations

import os


def test_reading_the_sources_file_and_taking_the_run_lock_imports_no_dlt(tmp_path):
    """The CLIs take the run lock before dlt's ~1 s import: a second run is refused at once."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import ingestion.__main__, orchestration.runner\n"
        "from ingestion import config, warehouse\n"
        "from orchestration import settings\n"
        "from orchestration.lock import run_lock\n"
        "config.select(config.load(), None)\n"
        "wh = warehouse.current(warehouse.LOADER)\n"
        "with run_lock(wh, settings.lock_path(wh.duckdb_path), 'r1', 'ingest'): held = True\n"
        "print(held, 'dlt' in sys.modules)\n"
    )
    env = {**os.environ, "WAREHOUSE": "duckdb", "DUCKDB_PATH": str(tmp_path / "w.duckdb")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "False"], out.stdout + out.stderr
