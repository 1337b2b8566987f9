"""``python -m orchestration report``: a static, self-contained HTML health page from the ops
models over the run ledger.

Charts are inline SVG drawn here in Python: no script library, no network, the file opens from
the file system. A few lines of inline JavaScript only record how many chart marks the browser
laid out (``data-marks-drawn`` on each chart), which the tests read in headless Chromium.
"""

from __future__ import annotations

import html
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ingestion import warehouse as wh
from ingestion.redact import redact
from orchestration import status
from orchestration.summary import utcnow

log = logging.getLogger(__name__)

COLORS = {"success": "#2e7d32", "failed": "#c62828", "running": "#f9a825", "abandoned": "#6a1b9a"}
TEST_COLORS = {"passed": "#2e7d32", "warned": "#f9a825", "failed": "#c62828"}
BAR = "#1565c0"
REJECTED = "(rejected)"


@dataclass
class Bar:
    """One bar (or one stacked segment list) of a chart."""

    label: str
    segments: list[tuple[float, str, str]]  # (value, colour, tooltip)


def bar_chart(chart_id: str, title: str, bars: list[Bar], unit: str = "") -> str:
    """An inline SVG (stacked) bar chart with a y axis maximum label and x labels."""
    width, height, left, bottom, top = 440, 200, 56, 40, 24
    plot_w, plot_h = width - left - 12, height - bottom - top
    top_value = max((sum(v for v, _, _ in b.segments) for b in bars), default=0) or 1
    slot = plot_w / max(len(bars), 1)
    bar_w = max(min(slot * 0.7, 48), 2)
    parts = [
        f'<svg class="chart" id="{chart_id}" data-marks-expected="'
        f'{sum(1 for b in bars for v, _, _ in b.segments if v > 0)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(title)}">',
        f'<text x="{left}" y="14" class="title">{html.escape(title)}</text>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" class="axis"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 12}" y2="{top + plot_h}" '
        'class="axis"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" class="tick">'
        f"{_short(top_value)}{unit}</text>",
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" class="tick">0</text>',
    ]
    every = max(1, len(bars) // 8)
    for i, b in enumerate(bars):
        x = left + i * slot + (slot - bar_w) / 2
        y: float = top + plot_h
        for value, colour, tip in b.segments:
            if value <= 0:
                continue
            h = max(value / top_value * plot_h, 1.0)
            y -= h
            parts.append(
                f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{html.escape(tip)}</title></rect>'
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                f'class="tick">{html.escape(b.label)}</text>'
            )
    if not bars:
        parts.append(
            f'<text x="{left + 10}" y="{top + plot_h / 2}" class="tick">no data yet</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.3g}"


def _as_date(value: Any) -> date:
    return status._parse_ts(value).date()  # type: ignore[union-attr]


def rows_per_day(warehouse: wh.Warehouse, since: date) -> dict[str, dict[date, int]]:
    """Rows loaded per table and day, plus ``"(rejected)"``: records rejected per day."""
    rows = wh.query_dicts(
        warehouse,
        f"select table_name, load_date, rows_loaded, rows_rejected "
        f"from {status.SCHEMA}.ops_table_row_counts where load_date >= %s",
        (since,),
    )
    out: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        day = _as_date(r["load_date"])
        out[REJECTED][day] += int(r["rows_rejected"] or 0)
        if not r["table_name"].endswith(".rejected_records"):
            out[r["table_name"]][day] += int(r["rows_loaded"] or 0)
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


def render(warehouse: wh.Warehouse, location: str, days: int = 30) -> str:
    """The whole HTML page."""
    since = utcnow().date() - timedelta(days=days)
    try:
        snap = status.snapshot(warehouse, limit=10)
    except status.OpsModelsMissing as exc:
        snap, note = status.Snapshot([], [], [], []), f"<p>{html.escape(str(exc))}</p>"
        per_table: dict[str, dict[date, int]] = {}
        runs: list[dict[str, Any]] = []
    else:
        note = ""
        per_table = rows_per_day(warehouse, since)
        runs = recent_runs(warehouse, since)
    day_list = [since + timedelta(days=i) for i in range(days + 1)]
    first = min((d for t in per_table.values() for d in t), default=None)
    if first is not None:
        day_list = [d for d in day_list if d >= first]

    charts = []
    for table, per_day in sorted(per_table.items()):
        rejected = table == REJECTED
        colour = TEST_COLORS["failed"] if rejected else BAR
        title = "Records rejected per day, all sources" if rejected else f"Rows loaded — {table}"
        bars = [
            Bar(
                d.strftime("%m-%d"),
                [(per_day.get(d, 0), colour, f"{table} {d}: {per_day.get(d, 0):,}")],
            )
            for d in day_list
        ]
        chart_id = "rejected-per-day" if rejected else f"rows-{_slug(table)}"
        charts.append(bar_chart(chart_id, title, bars))
    duration_bars = [
        Bar(
            _label(r),
            [(float(r["duration_s"] or 0), COLORS.get(r["run_status"], BAR), _tip(r))],
        )
        for r in runs
    ]
    test_bars = [
        Bar(
            _label(r),
            [
                (float(r["tests_passed"] or 0), TEST_COLORS["passed"], f"{_tip(r)} passed"),
                (float(r["tests_warned"] or 0), TEST_COLORS["warned"], f"{_tip(r)} warned"),
                (float(r["tests_failed"] or 0), TEST_COLORS["failed"], f"{_tip(r)} failed"),
            ],
        )
        for r in runs
    ]
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
        duration_chart=bar_chart(
            "run-durations", "Run duration (s), colour = status", duration_bars, "s"
        ),
        test_chart=bar_chart(
            "test-outcomes", "dbt tests per run: passed / warned / failed", test_bars
        ),
        row_charts="\n".join(charts) or "<p>No rows loaded yet.</p>",
        freshness=_table(
            snap.sources,
            ["source_dataset", "last_data_loaded_at", "age_h", "last_run_status", "last_error"],
        ),
        problems=_table(snap.problems, ["kind", "subject", "status", "message"]),
        rejects=_table(snap.rejects, ["table_name", "rejected_at_load", "quarantined_in_staging"]),
    )


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "-" for c in text)


def _label(run: dict[str, Any]) -> str:
    started = status._parse_ts(run["started_at"])
    return started.strftime("%d %H:%M") if started else "?"


def _tip(run: dict[str, Any]) -> str:
    duration = float(run["duration_s"] or 0)
    return f"{run['run_id']} {run['command']} {run['run_status']} {duration:.1f}s"


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
.charts {{ display: flex; flex-wrap: wrap; gap: 16px; }}
svg.chart {{ border: 1px solid #ddd; background: #fff; }}
svg .title {{ font-size: 12px; font-weight: 600; }} svg .tick {{ font-size: 10px; fill: #555; }}
svg .axis {{ stroke: #999; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ddd; padding: 3px 8px; }}
.success {{ color: #2e7d32; }} .failed {{ color: #c62828; }}
</style></head>
<body>
<h1>customer-analytics — pipeline health</h1>
<p>Generated {generated} from the run ledger (schema ops) in {location}. {headline}</p>
<h2>Runs</h2>
<div class="charts">{duration_chart}{test_chart}</div>
<h2>Rows loaded per day and table</h2>
<div class="charts">{row_charts}</div>
<h2>Freshness per source (last data loaded)</h2>{freshness}
<h2>Problems of the last run: sources, models and tests</h2>{problems}
<h2>Rejected and quarantined rows</h2>{rejects}
<script>
/* record how many chart marks the browser actually laid out (read by the tests) */
for (const svg of document.querySelectorAll("svg.chart")) {{
  const drawn = [...svg.querySelectorAll(".mark")].filter((m) => {{
    const box = m.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  }}).length;
  svg.setAttribute("data-marks-drawn", String(drawn));
}}
</script>
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
