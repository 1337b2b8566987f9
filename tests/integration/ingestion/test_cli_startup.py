"""`python -m ingestion` in a fresh interpreter: what it imports before taking the run lock."""

from __future__ import annotations

import os

from tests.support.paths import REPO_ROOT


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


def _ingestion(*args: str, **env: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "ingestion", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_list_prints_the_enabled_sources_one_a_line(tmp_path):
    """`--list` is how an orchestrator (the Prefect flow) learns the tasks to make."""
    sources = tmp_path / "sources.yml"
    demo = (REPO_ROOT / "ingestion" / "sources.yml").read_text()
    sources.write_text(
        demo.replace(
            "fx:\n  type: rest_api\n  enabled: true", "fx:\n  type: rest_api\n  enabled: false"
        )
    )
    assert sources.read_text() != demo

    every = _ingestion("--list")
    without_fx = _ingestion("--list", INGESTION_SOURCES=str(sources))
    picked = _ingestion("--list", "--source", "events", "--source", "crm")
    unknown = _ingestion("--list", "--source", "nope")

    assert every.returncode == 0 and every.stdout.split() == ["crm", "fx", "shop", "events"]
    assert without_fx.stdout.split() == ["crm", "shop", "events"], without_fx.stderr
    assert picked.stdout.split() == ["events", "crm"]  # in the order asked
    assert unknown.returncode == 2 and "nope" in unknown.stderr
