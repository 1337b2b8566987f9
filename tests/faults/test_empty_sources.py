"""Sources that look empty: destructive changes need evidence, and a missing source is an error.

A database table that briefly returns nothing (a restore in progress, a replica fail-over, the
wrong schema) looks exactly like a table whose every row was deleted. Generated faults (random
tables thinned by random shares around the threshold, tables emptied, the database swapped for
an empty one mid-history, under random thresholds set per source or per table) are applied to
the demo shop between two loads; every load must either record exactly the keys removed (at
most `max_delete_share` of a table's keys) or record none and fail naming source, table, keys
landed vs present and the setting. Raw never loses a row, and the load after the source is back
loads normally. Through the run script, the run exits 1 with the error and an alert, and the
marts keep their revenue, equal to `demo.truth` before the fault, even when `dbt build` runs on.

A missing database file or table: `test_missing_sources.py`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.faults.empty_support import (
    KEYS,
    WATCHED,
    ShopSource,
    World,
    flagged_deleted,
    raw_counts,
    revenue,
    shop_world,
    template,
    truth_revenue,
)
from tests.support.battery import full_battery, size
from tests.support.cli import real_project_cli
from tests.support.paths import SOURCES_FILE
from tests.support.webhook import receiver

AREA = "sources that look empty"
DEFAULT_SHARE = 0.1  # shop.max_delete_share in ingestion/sources.yml (checked below)
WAREHOUSES = [
    pytest.param("duckdb", marks=pytest.mark.xdist_group("empty_duckdb")),
    pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.xdist_group("empty_pg")]),
]
# the run script's test: DuckDB in the fast slice, both warehouses in the full battery
RUN_WAREHOUSES = WAREHOUSES if full_battery() else WAREHOUSES[:1]
MARTS = "+fct_orders +fct_order_items +dim_customers +fct_daily_revenue"
SOURCES = ("--source", "crm", "--source", "fx", "--source", "shop")


@pytest.fixture(scope="session")
def empty_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo shop (~200 orders, ~500 items), generated once."""
    return template(tmp_path_factory)


@dataclass(frozen=True)
class Fault:
    """One generated fault and the thresholds it meets."""

    swap: bool  # the whole database swapped for an empty one (else `shares` removed)
    # table -> how much of it is removed, as a multiple of its threshold (None: all of it)
    shares: tuple[tuple[str, float | None], ...]
    seed: int
    source_share: float | None  # SOURCES__SHOP__MAX_DELETE_SHARE; None: the file's value
    orders_share: float | None  # shop.tables.orders.max_delete_share in a copy of the file

    def share_of(self, table: str) -> float:
        if table == "orders" and self.orders_share is not None:
            return self.orders_share
        return DEFAULT_SHARE if self.source_share is None else self.source_share

    def removed_shares(self) -> dict[str, float]:
        """The share of each table to remove: around its threshold, or all of it."""
        return {
            table: 1.0 if times is None else min(1.0, times * self.share_of(table))
            for table, times in self.shares
        }


# how many times its threshold a table loses: mostly around it, sometimes everything
TIMES = st.one_of(st.none(), st.integers(0, 200).map(lambda n: n / 100))
FAULTS = st.builds(
    Fault,
    swap=st.sampled_from([False] * 5 + [True]),
    shares=st.dictionaries(st.sampled_from(list(KEYS)), TIMES, min_size=1).map(
        lambda d: tuple(sorted(d.items()))
    ),
    seed=st.integers(0, 10**6),
    source_share=st.sampled_from([None, None, 0.05, 0.25]),
    orders_share=st.sampled_from([None, None, 0.2, 1.0]),
)


def _settings_env(world: World, fault: Fault, tmp: Path) -> dict[str, str]:
    extra = {}
    if fault.source_share is not None:
        extra["SOURCES__SHOP__MAX_DELETE_SHARE"] = str(fault.source_share)
    if fault.orders_share is not None:
        doc = yaml.safe_load(SOURCES_FILE.read_text())
        doc["shop"]["tables"]["orders"]["max_delete_share"] = fault.orders_share
        path = tmp / "sources.yml"
        path.write_text(yaml.safe_dump(doc))
        extra["INGESTION_SOURCES"] = str(path)
    return extra


def _refusals(world: World, fault: Fault, removed: Mapping[str, list[int]]) -> dict[str, str]:
    """Watched table -> the counts its refusal must name (computed here, not by the loader)."""
    out = {}
    for table in WATCHED:
        live, gone = world.sizes[table], len(removed.get(table, []))
        present, share = live - gone, fault.share_of(table)
        if gone and share < 1 and (present == 0 or gone > share * live):
            out[table] = (
                f"{table}: {present:,} keys in the source, {gone:,} of {live:,} landed gone"
            )
    return out


def _check_one(world: World, fault: Fault, tmp: Path) -> None:
    """Apply one fault, load, check; put the source back, load, check."""
    before_flagged, before_raw = flagged_deleted(world.env), raw_counts(world.env)
    removed = (
        world.shop.swap_for_empty()
        if fault.swap
        else world.shop.remove(fault.removed_shares(), fault.seed)
    )
    report = world.load(**_settings_env(world, fault, tmp))
    new = flagged_deleted(world.env) - before_flagged
    refusals = _refusals(world, fault, removed)
    world.tried += 1
    world.raw_lost += sum(before_raw[t] - n for t, n in raw_counts(world.env).items())
    if refusals:
        world.refused += 1
        world.recorded_above += len(new)
        error = " ".join(report.errors)
        parts = ["source 'shop'", "max_delete_share", *refusals.values()]
        world.named += all(part in error for part in parts)
        assert not report.ok and not new, (fault, report.errors, len(new))
        assert all(part in error for part in parts), (refusals, error)
    else:
        expected = {(t, str(k)) for t in WATCHED for k in removed.get(t, [])}
        world.accepted += 1
        world.recorded_exactly += report.ok and new == expected
        assert report.ok and new == expected, (fault, report.errors, len(new), len(expected))
    world.shop.restore()
    back = world.load()
    world.failed_after_back += not back.ok or bool(flagged_deleted(world.env))
    assert back.ok and not flagged_deleted(world.env), (fault, back.errors)


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_a_table_that_looks_empty_is_never_turned_into_mass_deletes(
    kind: str,
    empty_template: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    figure: Callable[..., Any],
) -> None:
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    world = shop_world(kind, empty_template, tmp_path, server)

    @settings(max_examples=size(4, 25), deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(fault=FAULTS)
    def examples(fault: Fault) -> None:
        _check_one(world, fault, tmp_path)

    try:
        examples()
    finally:
        detail = f"{world.tried} generated faults, {world.refused} refused; sizes {world.sizes}"
        figure(AREA, "keys recorded as hard-deleted by loads above the threshold",
               world.recorded_above, "= 0", world.recorded_above == 0, kind, detail)  # fmt: skip
        figure(AREA, "refusals naming source, table, keys landed vs present and the setting",
               f"{world.named}/{world.refused}", "all", world.named == world.refused,
               kind)  # fmt: skip
        figure(AREA, "loads under the threshold recording exactly the keys removed",
               f"{world.recorded_exactly}/{world.accepted}", "all",
               world.recorded_exactly == world.accepted, kind)  # fmt: skip
        figure(AREA, "raw rows lost to a source that looked empty", world.raw_lost, "= 0",
               world.raw_lost == 0, kind)  # fmt: skip
        figure(AREA, "loads failing after the source is back", world.failed_after_back, "= 0",
               world.failed_after_back == 0, kind)  # fmt: skip
    assert world.tried >= size(4, 25) and world.refused > 0


def _orders_emptied(shop: ShopSource) -> str:
    shop.remove({"orders": 1.0}, seed=1)
    return "orders: 0 keys in the source"


def _database_swapped(shop: ShopSource) -> str:
    shop.swap_for_empty()
    return "order_items: 0 keys in the source"


def _items_thinned(shop: ShopSource) -> str:
    shop.remove({"order_items": 0.3}, seed=2)
    return "order_items: "


def _file_unmounted(shop: ShopSource) -> str:
    shop.unmount()
    return f"{shop.path} does not exist"


RUN_FAULTS = {"orders emptied": _orders_emptied, "database swapped for an empty one":
              _database_swapped, "items thinned by 30 %": _items_thinned,
              "database file unmounted": _file_unmounted}  # fmt: skip
FAST_RUN_FAULTS = ("orders emptied",)


@pytest.mark.parametrize("kind", RUN_WAREHOUSES)
def test_a_source_that_looks_empty_stops_the_run_and_the_marts_keep_their_revenue(
    kind: str,
    empty_template: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    figure: Callable[..., Any],
) -> None:
    from demo.server import running_server

    demo_dir = tmp_path / "demo"
    shutil.copytree(empty_template, demo_dir)
    shop = ShopSource.of(demo_dir)
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    cli = real_project_cli(tmp_path, demo_dir, kind, server)
    run = ("run", *SOURCES, "--select", MARTS)
    names = RUN_FAULTS if full_battery() else FAST_RUN_FAULTS
    with running_server(demo_dir, port=0) as url, receiver() as hook:
        cli.env.update(DEMO_API_URL=url, ORCHESTRATION__ALERT_WEBHOOK_URL=hook.url)
        first = cli(*run, timeout=600)
        assert first.returncode == 0, first.stderr[-3000:]
        before = truth_revenue(demo_dir)
        assert revenue(cli.env) == before and before
        for name in names:
            expected_text = RUN_FAULTS[name](shop)
            failed = cli(*run, timeout=600)
            output = failed.stdout + failed.stderr
            alerted = any(expected_text in str(body) for body in hook.bodies[-1:])
            # a dbt build that runs on anyway (another scheduler's task) finds raw unchanged
            build = cli("build", "--select", MARTS, timeout=600)
            kept = revenue(cli.env) == before
            shop.restore()
            again = cli(*run[:-2], "--skip-dbt", timeout=600)
            ok = (failed.returncode, expected_text in output, alerted, kept, again.returncode)
            figure(AREA, f"{name}: exit code, error named, alert sent, revenue kept, next run",
                   str(ok), str((1, True, True, True, 0)), ok == (1, True, True, True, 0), kind,
                   "revenue equal to demo.truth before the fault after a dbt build on the same "
                   "raw")  # fmt: skip
            assert build.returncode == 0, build.stderr[-3000:]
            assert ok == (1, True, True, True, 0), (name, output[-3000:], again.stderr[-2000:])
            assert not flagged_deleted(cli.env)


def test_the_share_the_tests_rely_on_is_the_configured_default() -> None:
    from ingestion import config

    assert config.load(SOURCES_FILE)["shop"].settings["max_delete_share"] == DEFAULT_SHARE
