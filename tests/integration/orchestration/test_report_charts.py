"""The health report's Plotly charts draw in headless Chromium from the file system, offline."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from orchestration import charts
from tests.support.browser import drawn_charts

DAY = date(2026, 11, 20)


def _run(i: int, run_status: str, passed: int, failed: int) -> dict[str, object]:
    return {
        "run_id": f"r{i}", "command": "run", "run_status": run_status,
        "started_at": f"2026-11-{20 + i:02d}T03:00:00", "duration_s": 40.0 + i,
        "tests_passed": passed, "tests_warned": 1 if passed else 0, "tests_failed": failed,
    }  # fmt: skip


def _page(path: Path, *drawn: charts.Chart) -> Path:
    head, draw = charts.page_scripts()
    body = "".join(c.html() for c in drawn)
    path.write_text(f"<!doctype html><html><head>{head}</head><body>{body}{draw}</body></html>")
    return path


def test_every_chart_draws_each_mark_without_the_network(tmp_path: Path) -> None:
    per_table = {
        "raw_shop.orders": {DAY + timedelta(days=d): 100 + d for d in range(5)},
        "raw_crm.customers": {DAY: 30, DAY + timedelta(days=2): 0, DAY + timedelta(days=3): 4},
        "raw_crm.deleted_customers": {DAY: 0},  # nothing loaded: no bar, no legend entry
    }
    runs = [_run(0, "success", 90, 0), _run(1, "failed", 80, 3), _run(2, "success", 0, 0)]
    loads = [
        {"run_id": "r0", "started_at": "2026-11-20T03:00:00", "quarantine_share": 0.0,
         "rows_loaded": 900, "rows_rejected_at_load": 0, "rows_quarantined_in_staging": 0},
        {"run_id": "r1", "started_at": "2026-11-21T03:00:00", "quarantine_share": 0.0125,
         "rows_loaded": 790, "rows_rejected_at_load": 7, "rows_quarantined_in_staging": 3},
        {"run_id": "r2", "started_at": "2026-11-22T03:00:00", "quarantine_share": None,
         "rows_loaded": 0, "rows_rejected_at_load": 0, "rows_quarantined_in_staging": 0},
    ]  # fmt: skip
    report = _page(
        tmp_path / "report.html",
        charts.rows_per_day(per_table, 30),
        charts.run_durations(runs),
        charts.test_pass_rate(runs),
        charts.quarantine_share(loads),
    )

    drawn, fetched = drawn_charts(report)

    assert drawn == [
        ("rows-per-day", 7, 7),  # 5 days of orders + 2 non-empty days of customers
        ("run-durations", 3, 3),
        ("test-pass-rate", 2, 2),  # the run without tests has no pass rate
        ("quarantine-share", 2, 2),  # nor the run that loaded nothing a share
    ]
    assert fetched == []


def test_charts_without_data_draw_empty_and_say_so(tmp_path: Path) -> None:
    report = _page(
        tmp_path / "empty.html",
        charts.rows_per_day({}, 30),
        charts.run_durations([]),
        charts.test_pass_rate([]),
        charts.quarantine_share([]),
    )

    drawn, fetched = drawn_charts(report)

    assert [(d[1], d[2]) for d in drawn] == [(0, 0)] * 4
    assert fetched == []
    assert report.read_text().count("no data yet") == 4
