"""Kill a change-data-capture load anywhere: the next run must land every change exactly once.

The shop runs on PostgreSQL and is read through a logical replication slot (``postgres_cdc``).
Between kills the demo shop lives a day (new orders, updates, late commits, hard deletes) and
its changes are committed to PostgreSQL row by row; the loader is SIGKILLed in extract,
normalize or load (every fifth kill hits a new warehouse's first load: the snapshot; the fast
slice kills one load of a day's changes). Every other kill also deletes dlt's working folder,
as when the loader's disk goes with it: then only the warehouse's state and the slot remember. One
normal run later, the change tables must describe the source exactly, hold every committed
change once and the slot must hold back no more WAL than the run left unread.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from demo import changes, generator, pg_server
from demo.faults import FileFaults
from tests.faults.kill_support import (
    BETWEEN,
    STAGES,
    base_env,
    kill_ingestion_at,
    pipeline_dirs,
    run_ingestion,
)
from tests.support.battery import full_battery, size
from tests.support.cdc import SYSTEM, CdcShop, cdc_shop, change_rows, compare
from tests.support.warehouse import fresh_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SEED = 20
# the CDC load of the tiny demo is short: kill early in a stage, so the run is still there
MAX_DELAY_S = {"extract": 0.3, "normalize": 0.1, "load": 0.2}
ATTEMPTS = 4  # runs that finished before the kill are normal runs; try again


@dataclass
class Tally:
    kills: Counter[str] = field(default_factory=Counter)
    finished_first: int = 0
    disks_lost: int = 0
    reruns: list[int] = field(default_factory=list)
    missing: int = 0
    extra: int = 0
    duplicates: int = 0
    changes_off: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


def new_warehouse(kind: str, root: Path, server: pg_server.PostgresServer, shop: CdcShop) -> dict:
    root.mkdir(parents=True)
    env = base_env(root)
    env.update({"INGESTION_SOURCES": str(shop.sources_file), "DLT_DATA_DIR": str(root / "dlt")})
    env.update(fresh_env(kind, root, server if kind == "postgres" else None))
    shop.changes.clear()  # what this warehouse has to land after its snapshot
    return env


def live_a_day(demo_dir: Path, shop: CdcShop, seed: int) -> None:
    """A day of the shop, a row updated twice, late commits and hard deletes, each synced."""
    generator.advance(demo_dir, 1, FileFaults())
    shop.sync(demo_dir)
    for _ in range(2):
        changes.update(demo_dir, 0.03, seed=seed)
        shop.sync(demo_dir)
    changes.commit_late(demo_dir, 2, age_seconds=3600, seed=seed)
    changes.hard_delete(demo_dir, 0.03, seed=seed)
    shop.sync(demo_dir)


def check(env: dict, shop: CdcShop, tally: Tally, log: Path) -> None:
    """One normal run, then the change tables against the source."""
    code = run_ingestion(env, log)
    tally.reruns.append(1)
    if code != 0:
        tally.mismatches.append(f"rerun exited {code}: {log.read_text()[-2000:]}")
        return
    result = compare(env, shop)
    tally.missing += result.missing
    tally.extra += result.extra
    tally.duplicates += result.duplicates
    tally.mismatches += result.mismatches
    landed = change_rows(env)
    tally.changes_off += [
        f"{key}: {landed.get(key, 0)} landed of {n}"
        for key, n in shop.changes.items()
        if landed.get(key, 0) != n
    ]


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_cdc_loads_killed_anywhere_land_every_change_exactly_once(
    kind: str,
    postgres: pg_server.PostgresServer,
    tiny_demo: Path,
    tmp_path: Path,
    figure: Callable[..., object],
) -> None:
    kills = size(1 if kind == "duckdb" else 0, 15)
    if not kills:
        pytest.skip("the fast slice kills CDC loads into DuckDB only; `make faults` does both")
    rng = random.Random(f"{SEED}-{kind}")
    demo_dir = tmp_path / "demo"
    shutil.copytree(tiny_demo, demo_dir)
    log = tmp_path / "run.log"
    tally = Tally()
    with ExitStack() as stack:
        shop = stack.enter_context(cdc_shop(postgres, demo_dir, tmp_path))
        for i in range(kills):
            if i % 5 == 0:  # a new warehouse: its first load is the slot's snapshot
                env = new_warehouse(kind, tmp_path / f"w{i}", postgres, shop)
                if not full_battery():  # fast: the snapshot lands whole, a day's changes die
                    assert run_ingestion(env, log) == 0, log.read_text()[-2000:]
                    live_a_day(demo_dir, shop, seed=i)
            else:
                live_a_day(demo_dir, shop, seed=i)
            target = STAGES[(i + 1) % len(STAGES)]  # normalize first: all extracted, none loaded
            for _ in range(ATTEMPTS):
                kill = kill_ingestion_at(
                    env, Path(env["DLT_DATA_DIR"]), rng, target, log, (SYSTEM,), MAX_DELAY_S
                )
                if kill.killed:
                    break
                tally.finished_first += 1
            assert kill.killed, f"every run finished before it could be killed ({kill})"
            tally.kills[kill.stage] += 1
            if i % 2 == 0:  # the loader's disk is lost with it: only the warehouse remembers
                for folder in pipeline_dirs(Path(env["DLT_DATA_DIR"]), SYSTEM):
                    shutil.rmtree(folder)
                tally.disks_lost += 1
            check(env, shop, tally, log)

    record(figure, kind, kills, tally)
    if kills >= len(STAGES):
        assert all(tally.kills[s] for s in STAGES), tally.kills
    assert (tally.missing, tally.extra, tally.duplicates) == (0, 0, 0), tally.mismatches
    assert tally.changes_off == [] and tally.mismatches == []


def record(figure: Callable[..., object], kind: str, kills: int, tally: Tally) -> None:
    area = "kill anywhere (CDC)"
    by_stage = ", ".join(f"{s}: {tally.kills[s]}" for s in (*STAGES, BETWEEN))
    detail = (
        f"{tally.disks_lost} kills also lost dlt's working folder; {tally.finished_first} runs"
        " finished before their kill (normal runs)"
    )
    figure(area, "CDC loads killed, by stage", by_stage, f"{kills} kills", True, kind, detail)
    reruns = max(tally.reruns, default=0)
    figure(area, "runs to complete after a kill", reruns, "= 1", reruns == 1, kind)
    figure(area, "source rows missing or wrong", tally.missing, "= 0", tally.missing == 0, kind)
    figure(area, "rows landed the source does not hold", tally.extra, "= 0", tally.extra == 0, kind)
    figure(area, "change rows landed twice", tally.duplicates, "= 0", tally.duplicates == 0, kind)
    figure(
        area,
        "committed changes not landed exactly once",
        len(tally.changes_off),
        "= 0",
        not tally.changes_off,
        kind,
        "; ".join(tally.changes_off + tally.mismatches)[:500],
    )
