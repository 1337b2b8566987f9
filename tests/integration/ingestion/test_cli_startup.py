"""`python -m ingestion` in a fresh interpreter: what it imports before taking its locks."""

from __future__ import annotations

import os


def test_reading_the_sources_file_and_taking_the_locks_imports_no_dlt(tmp_path):
    """The CLI takes its dataset locks before dlt's ~1 s import: a second run is refused at once."""
    import subprocess
    import sys

    code = (
        "import sys; from contextlib import ExitStack\n"
        "from ingestion.__main__ import lock_first\n"
        "with ExitStack() as s: held = lock_first(s, None)\n"
        "print(held, 'dlt' in sys.modules)\n"
    )
    env = {**os.environ, "WAREHOUSE": "duckdb", "DUCKDB_PATH": str(tmp_path / "w.duckdb")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "False"], out.stdout + out.stderr
