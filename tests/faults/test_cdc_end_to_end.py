"""The demo's shop on PostgreSQL read by change data capture: the marts equal the truth.

Every system as the demo declares it, but the shop is a ``postgres_cdc`` source and staging
reads it with ``shop_capture: cdc``. Between the two loads the shop lives a day, some orders
change twice, changes commit late (older ``updated_at``), and orders are hard-deleted; then
``dbt build`` and the marts are reconciled with ``demo.truth`` to the cent. The fast slice
runs it into DuckDB; ``make faults`` into PostgreSQL too.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from demo import changes, generator, pg_server
from demo.faults import FileFaults
from ingestion.config import DEFAULT_SOURCES_FILE
from tests.faults.e2e_reconcile import reconcile
from tests.support.battery import full_battery
from tests.support.cdc import cdc_shop
from tests.support.dbt import DbtProject, ingest
from tests.support.env import environment
from tests.support.warehouse import fresh_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]

WAREHOUSES = [
    "duckdb",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(
            not full_battery(),
            reason="PostgreSQL runs it in the full battery only (one more dbt build)",
        ),
    ),
]


def with_cdc_shop(cdc_sources: Path, folder: Path) -> Path:
    """The bundled sources file with its ``shop`` replaced by the CDC one."""
    systems = yaml.safe_load(DEFAULT_SOURCES_FILE.read_text(encoding="utf-8"))
    systems["shop"] = yaml.safe_load(cdc_sources.read_text(encoding="utf-8"))["shop"]
    path = folder / "sources.yml"
    path.write_text(yaml.safe_dump(systems, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_marts_from_the_change_stream_reconcile_with_the_truth_to_the_cent(
    kind: str,
    postgres: pg_server.PostgresServer,
    tiny_demo: Path,
    tmp_path: Path,
    figure: Callable[..., object],
) -> None:
    demo_dir = tmp_path / "demo"
    shutil.copytree(tiny_demo, demo_dir)
    with cdc_shop(postgres, demo_dir, tmp_path) as shop:
        env = {
            "INGESTION_SOURCES": str(with_cdc_shop(shop.sources_file, tmp_path)),
            "DEMO_DIR": str(demo_dir),
            **fresh_env(kind, tmp_path, postgres),
        }
        with environment(env):
            ingest(demo_dir)
            generator.advance(demo_dir, 1, FileFaults())
            shop.sync(demo_dir)
            for _ in range(2):  # the same orders change twice between two loads
                changes.update(demo_dir, 0.05, seed=5)
                shop.sync(demo_dir)
            changes.commit_late(demo_dir, 3, age_seconds=3600, seed=5)
            changes.hard_delete(demo_dir, 0.05, seed=5)
            shop.sync(demo_dir)
            ingest(demo_dir)
            build = DbtProject(tmp_path / "dbt").invoke("build", "--vars", "{shop_capture: cdc}")
    assert shop.changes["orders.delete"] > 0 and shop.changes["orders.update"] > 0
    assert build.failures() == [], build.failures()
    result = reconcile(env, demo_dir)
    doubled = sum(result.duplicated_keys.values())
    area, detail = "change data capture", "; ".join(result.detail)[:500]
    figure(area, "marts vs truth mismatches (CDC shop)", result.mismatches, "= 0",
           result.mismatches == 0, kind, detail)  # fmt: skip
    figure(area, "duplicated keys in marts (CDC shop)", doubled, "= 0", doubled == 0, kind)
    assert result.mismatches == 0, result.detail
    assert doubled == 0, result.duplicated_keys
