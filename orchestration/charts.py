"""The health report's charts: Plotly figures, their JavaScript inlined once in the page.

Each chart is a ``<div class="chart">`` holding its figure as JSON beside it; one script draws
them all with the inlined plotly.js (no network: the page opens from the file system) and
records how many marks (bars, points) the browser laid out in ``data-marks-drawn``, against
``data-marks-expected`` written here, which the tests read in headless Chromium.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

STATUS_COLORS = {
    "success": "#2e7d32",
    "failed": "#c62828",
    "running": "#f9a825",
    "abandoned": "#6a1b9a",
}
LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "height": 320,
    "margin": {"l": 60, "r": 20, "t": 48, "b": 60},
    "legend": {"orientation": "h", "y": -0.25},
    "hovermode": "closest",
}


@dataclass
class Chart:
    """One chart: an id, a Plotly figure and the number of marks it should draw."""

    chart_id: str
    figure: go.Figure
    marks: int = 0

    def html(self) -> str:
        """The chart's ``div`` and its figure's JSON (``</`` escaped for the script tag)."""
        spec = self.figure.to_json().replace("</", "<\\/")
        return (
            f'<div class="chart" id="{html.escape(self.chart_id)}" '
            f'data-marks-expected="{self.marks}"></div>'
            f'<script type="application/json" id="{html.escape(self.chart_id)}-spec">'
            f"{spec}</script>"
        )


def _figure(title: str, y_title: str, empty: bool) -> go.Figure:
    fig = go.Figure(layout={**LAYOUT, "title": {"text": title}, "yaxis": {"title": y_title}})
    if empty:
        fig.add_annotation(text="no data yet", showarrow=False, x=0.5, y=0.5, xref="paper",
                           yref="paper")  # fmt: skip
    return fig


def rows_per_day(per_table: dict[str, dict[date, int]], days: int) -> Chart:
    """Rows loaded per day, one stacked colour per table: the last ``days`` days in one chart."""
    marks = 0
    fig = _figure(
        f"Rows loaded per day and table, last {days} days",
        "rows",
        not any(v > 0 for t in per_table.values() for v in t.values()),
    )
    for table, per_day in sorted(per_table.items()):
        points = sorted((d, n) for d, n in per_day.items() if n > 0)
        if not points:
            continue
        marks += len(points)
        fig.add_bar(
            name=table,
            x=[d.isoformat() for d, _ in points],
            y=[n for _, n in points],
            hovertemplate=f"{html.escape(table)}<br>%{{x}}: %{{y:,}} rows<extra></extra>",
        )
    fig.update_layout(barmode="stack", xaxis={"type": "date", "title": "load day (UTC)"})
    return Chart("rows-per-day", fig, marks)


def run_durations(runs: list[dict[str, Any]]) -> Chart:
    """Each run's duration, coloured by its status."""
    fig = _figure("Run duration (s), colour = status", "seconds", not runs)
    marks = 0
    for run_status in sorted({str(r["run_status"]) for r in runs}):
        mine = [r for r in runs if str(r["run_status"]) == run_status]
        marks += sum(1 for r in mine if float(r["duration_s"] or 0) > 0)
        fig.add_bar(
            name=run_status,
            x=[_when(r) for r in mine],
            y=[float(r["duration_s"] or 0) for r in mine],
            marker_color=STATUS_COLORS.get(run_status, "#1565c0"),
            customdata=[[r["run_id"], r["command"]] for r in mine],
            hovertemplate="%{customdata[0]} (%{customdata[1]})<br>%{y:.1f} s<extra></extra>",
        )
    fig.update_layout(xaxis={"type": "date", "title": "run started (UTC)"})
    return Chart("run-durations", fig, marks)


def test_pass_rate(runs: list[dict[str, Any]]) -> Chart:
    """The share of dbt tests that passed, per run that ran tests."""
    tested = [r for r in runs if _tests(r) > 0]
    fig = _figure("dbt tests passed (%) per run", "% passed", not tested)
    fig.add_scatter(
        name="passed",
        mode="lines+markers",
        x=[_when(r) for r in tested],
        y=[100.0 * int(r["tests_passed"] or 0) / _tests(r) for r in tested],
        customdata=[
            [r["run_id"], r["tests_passed"] or 0, r["tests_warned"] or 0, r["tests_failed"] or 0]
            for r in tested
        ],
        hovertemplate="%{customdata[0]}: %{y:.1f}% passed<br>"
        "%{customdata[1]} passed, %{customdata[2]} warned, %{customdata[3]} failed"
        "<extra></extra>",
        line_color=STATUS_COLORS["success"],
    )
    fig.update_layout(yaxis={"range": [0, 105]}, xaxis={"type": "date", "title": "run (UTC)"})
    return Chart("test-pass-rate", fig, len(tested))


def quarantine_share(loads: list[dict[str, Any]]) -> Chart:
    """Per load, the share of records rejected by the loaders or quarantined in staging."""
    shown = [r for r in loads if r["quarantine_share"] is not None]
    fig = _figure("Records rejected or quarantined (%) per load", "% of records", not shown)
    fig.add_scatter(
        name="rejected or quarantined",
        mode="lines+markers",
        x=[_when(r) for r in shown],
        y=[100.0 * float(r["quarantine_share"]) for r in shown],
        customdata=[[r["run_id"], *_counts(r)] for r in shown],
        hovertemplate="%{customdata[0]}: %{y:.3f}%<br>%{customdata[1]} rejected at load, "
        "%{customdata[2]} quarantined in staging, %{customdata[3]} loaded<extra></extra>",
        line_color=STATUS_COLORS["failed"],
    )
    fig.update_layout(
        yaxis={"rangemode": "tozero"}, xaxis={"type": "date", "title": "load run (UTC)"}
    )
    return Chart("quarantine-share", fig, len(shown))


def _counts(load: dict[str, Any]) -> list[int]:
    keys = ("rows_rejected_at_load", "rows_quarantined_in_staging", "rows_loaded")
    return [int(load[k] or 0) for k in keys]


def _tests(run: dict[str, Any]) -> int:
    return sum(int(run[k] or 0) for k in ("tests_passed", "tests_warned", "tests_failed"))


def _when(run: dict[str, Any]) -> str:
    return str(run["started_at"]).replace("T", " ")[:19]


@cache
def plotly_js() -> str:
    """plotly.js, minified, from the installed ``plotly`` package."""
    return get_plotlyjs()


SCRIPT = """
/* draw each chart, then record how many marks the browser laid out (read by the tests) */
for (const div of document.querySelectorAll("div.chart")) {
  const spec = JSON.parse(document.getElementById(div.id + "-spec").textContent);
  Plotly.newPlot(div, spec.data, spec.layout, {displaylogo: false, responsive: true})
    .then(() => {
      const drawn = [...div.querySelectorAll(".cartesianlayer .point")].filter((m) => {
        const box = m.getBoundingClientRect();
        return box.width > 0 && box.height > 0;
      }).length;
      div.setAttribute("data-marks-drawn", String(drawn));
    });
}
"""


def page_scripts() -> tuple[str, str]:
    """The ``<script>`` of plotly.js (for the head) and the drawing script (end of body)."""
    return f"<script>{plotly_js()}</script>", f"<script>{SCRIPT}</script>"
