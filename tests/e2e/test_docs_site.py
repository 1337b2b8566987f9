"""The dbt docs site builds offline and draws the lineage graph in a real browser: sources,
staging and marts, then the semantic layer (semantic models, metrics, saved queries) and the
exposures that consume them, where the lineage ends."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.support import browser
from tests.support.dbt import write_profiles
from tests.support.paths import REPO_ROOT

# Reads the nodes cytoscape drew and whether its canvas holds any painted pixel.
GRAPH_PROBE = """() => {
  const container = document.getElementById("cy");
  const cy = container && container._cyreg && container._cyreg.cy;
  if (!cy) return null;
  const painted = [...container.querySelectorAll("canvas")].some((canvas) => {
    const ctx = canvas.getContext("2d");
    if (!ctx || !canvas.width || !canvas.height) return false;
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
    return false;
  });
  const edges = cy.edges().map((e) => [e.source().id(), e.target().id()]);
  return {nodes: cy.nodes().filter((n) => n.visible()).map((n) => n.id()), edges, painted};
}"""


@pytest.mark.slow
def test_static_docs_site_draws_lineage_from_sources_through_marts_and_metrics_to_exposures(
    tmp_path,
):
    target = tmp_path / "target"
    write_profiles(tmp_path)
    env = {**os.environ, "WAREHOUSE": "duckdb", "DUCKDB_PATH": str(tmp_path / "docs.duckdb")}
    done = subprocess.run(
        [sys.executable, "-m", "dbt.cli.main", "docs", "generate", "--static",
         "--profiles-dir", str(tmp_path), "--profile", "customer_analytics",
         "--target-path", str(target), "--log-path", str(tmp_path / "logs")],
        cwd=REPO_ROOT, env=env, check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    site = target / "static_index.html"
    assert site.stat().st_size > 100_000

    with browser.page() as page:
        page.goto(f"{site.as_uri()}#!/overview?g_v=1")
        graph = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            graph = page.evaluate(GRAPH_PROBE)
            if graph and graph["nodes"] and graph["painted"]:
                break
            page.wait_for_timeout(500)
        page.screenshot(path=str(tmp_path / "lineage.png"))

    assert graph is not None, "the lineage graph container was not rendered"
    nodes = graph["nodes"]
    assert any(n.startswith("source.customer_analytics.") for n in nodes)
    assert any(n.startswith("model.customer_analytics.stg_") for n in nodes)
    assert any(n.startswith("model.customer_analytics.fct_") for n in nodes)
    assert "model.customer_analytics.dim_customers" in nodes
    assert graph["painted"], "the graph canvas is blank"

    prefix = "customer_analytics"
    for node in (
        f"semantic_model.{prefix}.orders",
        f"metric.{prefix}.revenue",
        f"metric.{prefix}.cohort_retention_rate",
        f"saved_query.{prefix}.daily_revenue_by_country",
        f"exposure.{prefix}.health_report",
        f"exposure.{prefix}.customer_analytics_dashboard",
    ):
        assert node in nodes, node
    edges = {tuple(edge) for edge in graph["edges"]}
    assert (f"model.{prefix}.fct_orders", f"semantic_model.{prefix}.orders") in edges
    assert (f"metric.{prefix}.revenue", f"exposure.{prefix}.customer_analytics_dashboard") in edges
    assert (f"model.{prefix}.ops_run_history", f"exposure.{prefix}.health_report") in edges
    # the consumers end the lineage: nothing depends on an exposure
    assert not [edge for edge in edges if edge[0].startswith("exposure.")]
