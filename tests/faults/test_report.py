"""The battery's report writer: figures in, JSON and markdown out, failures visible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.battery import Figure, record, write_report


def test_figures_become_a_json_and_markdown_report_that_shows_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAULTS_REPORT_DIR", str(tmp_path))
    record(Figure("kill anywhere", "missing rows", 0, "= 0", True, "duckdb"))
    record(Figure("secrets", "sentinel hits", 2, "= 0", False, "-", "in logs|dbt.log"))

    md = write_report(tmp_path)

    assert md is not None
    data = json.loads((tmp_path / "faults.json").read_text())
    assert (data["passed"], data["total"]) == (1, 2)
    text = md.read_text()
    assert "1 of 2 figures" in text
    assert "| secrets | sentinel hits | - | 2 | = 0 | **NO** | in logs\\|dbt.log |" in text


def test_nothing_is_written_outside_make_faults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAULTS_REPORT_DIR", raising=False)
    record(Figure("a", "b", 1, "= 1", True))
    assert write_report(tmp_path) is None
