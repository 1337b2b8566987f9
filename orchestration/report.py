"""``python -m orchestration report``: a static, self-contained HTML health page from the ops
models over the run ledger.

Charts are Plotly figures (``orchestration/charts.py``) with plotly.js inlined in the page: no
network, the file opens from the file system (docs/operations.md says why Plotly).
"""

from __future__ import annotations

import html
import logging
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ingestion import warehouse as wh
from ingestion.redact import redact
from orchestration import charts, status
from orchestration.summary import utcnow

log = logging.getLogger(__name__)

REJECTED_SUFFIXES = (".rejected_records", ".deleted_records")


def _as_date(value: Any) -> date:
    return status._parse_ts(value).date()  # type: ignore[union-attr]


def rows_per_day(warehouse: wh.Warehouse, since: date) -> dict[str, dict[date, int]]:
    """Rows loaded per raw table and day (rejected and deleted records are not rows loaded)."""
    rows = wh.query_dicts(
        warehouse,
        f"select table_name, load_date, rows_loaded "
        f"from {status.SCHEMA}.ops_table_row_counts where load_date >= %s",
        (since,),
    )
    out: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        if not r["table_name"].endswith(REJECTED_SUFFIXES):
            out[r["table_name"]][_as_date(r["load_date"])] += int(r["rows_loaded"] or 0)
    return out


def recent_runs(warehouse: wh.Warehouse, since: date, limit: int = 40) -> list[dict[str, Any]]:
    """Runs since a day, oldest first."""
    rows = wh.query_dicts(
        warehouse,
        f"select * from {status.SCHEMA}.ops_run_history where started_at >= %s "
        "order by started_at desc limit %s",
        (since, int(limit)),
    )
    return list(reversed(rows))


def quarantine_history(warehouse: wh.Warehouse, since: date) -> list[dict[str, Any]]:
    """Each load run's rejected or quarantined share since a day, oldest first."""
    return wh.query_dicts(
        warehouse,
        f"select * from {status.SCHEMA}.ops_quarantine_history where started_at >= %s "
        "order by started_at",
        (since,),
    )


def render(warehouse: wh.Warehouse, location: str, days: int = 30) -> str:
    """The whole HTML page."""
    since = utcnow().date() - timedelta(days=days)
    try:
        snap = status.snapshot(warehouse, limit=10)
    except status.OpsModelsMissing as exc:
        snap, note = status.Snapshot([], [], [], []), f"<p>{html.escape(str(exc))}</p>"
        per_table: dict[str, dict[date, int]] = {}
        runs: list[dict[str, Any]] = []
        loads: list[dict[str, Any]] = []
    else:
        note = ""
        per_table = rows_per_day(warehouse, since)
        runs = recent_runs(warehouse, since)
        loads = quarantine_history(warehouse, since)
    head_script, draw_script = charts.page_scripts()
    last = snap.runs[0] if snap.runs else None
    headline = (
        f"Last run {html.escape(str(last['run_id']))}: "
        f'<b class="{html.escape(str(last["run_status"]))}">'
        f"{html.escape(str(last['run_status']))}</b>"
        if last
        else "No runs recorded yet."
    )
    return PAGE.format(
        generated=utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        location=html.escape(location),
        headline=headline + note,
        plotly_js=head_script,
        draw_charts=draw_script,
        rows_chart=charts.rows_per_day(per_table, days).html(),
        run_charts=charts.run_durations(runs).html() + charts.test_pass_rate(runs).html(),
        quarantine_chart=charts.quarantine_share(loads).html(),
        freshness=_table(
            snap.sources,
            ["source_dataset", "last_data_loaded_at", "age_h", "last_run_status", "last_error"],
        ),
        problems=_table(snap.problems, ["kind", "subject", "status", "message"]),
        rejects=_table(snap.rejects, ["table_name", "rejected_at_load", "quarantined_in_staging"]),
    )


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(redact(status._fmt(r.get(c))))}</td>" for c in columns)
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>customer-analytics health</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1400px; }}
h1 {{ font-size: 20px; }} h2 {{ font-size: 16px; margin-top: 28px; }}
.charts {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }}
div.chart {{ border: 1px solid #ddd; background: #fff; min-height: 320px; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ddd; padding: 3px 8px; }}
.success {{ color: #2e7d32; }} .failed {{ color: #c62828; }}
</style>
{plotly_js}
</head>
<body>
<h1>customer-analytics — pipeline health</h1>
<p>Generated {generated} from the run ledger (schema ops) in {location}. {headline}</p>
<h2>Rows loaded</h2>
{rows_chart}
<h2>Runs</h2>
<div class="charts">{run_charts}</div>
<h2>Rejected and quarantined records</h2>
{quarantine_chart}
<h2>Freshness per source (last data loaded)</h2>{freshness}
<h2>Problems of the last run: sources, models and tests</h2>{problems}
<h2>Rejected and quarantined rows per table</h2>{rejects}
{draw_charts}
</body></html>
"""


def main(out: Path, days: int = 30) -> int:
    """Write the report; returns 0, 2 when the warehouse cannot be read, 3 when a load holds it."""
    try:
        warehouse = status.reader()
        busy = status.running_on_duckdb(warehouse)
        if busy is not None:
            log.error("%s; the report was not written (try again when it is done)", busy)
            return 3
        page = render(warehouse, redact(warehouse.describe()), days)
    except Exception as exc:
        busy = status.warehouse_busy(exc)
        if busy is not None:  # a load holds the DuckDB file: try again when it is done
            log.error("%s; the report was not written", busy)
            return 3
        log.error("cannot build the report: %s", redact(str(exc)))
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"health report written to {out.resolve()}")
    return 0
