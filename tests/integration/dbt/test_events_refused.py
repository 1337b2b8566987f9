"""Refused events are found incrementally: only new loads are read, and the result equals a scan
of every raw row, whatever the loads hold.

Generated loads (seeded) go into the fixture's ``raw_events.events`` the way the loader's merge
leaves them: new rows, blank, padded and missing ids, missing visitors and times, unknown types,
and deliveries again of earlier ids that replace the raw row (fixing or breaking it). After each
load an incremental ``dbt run`` of ``+quarantine_rows``; then every refused raw row must be
listed once, nothing else, and ``int_events_loads`` must hold each load's counts as delivered.
The share test reads only the loads a build brought: a bad load fails it, the clean load after
it passes, and the weekly whole-history build fails again.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from ingestion import warehouse
from tests.support import raw_fixture
from tests.support.dbt import DbtProject, DbtRun
from tests.support.env import environment
from tests.support.warehouse import fresh_env, query

pytestmark = pytest.mark.slow
WAREHOUSES = [
    pytest.param("duckdb", marks=pytest.mark.xdist_group("refused_duckdb")),
    pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.xdist_group("refused_pg")]),
]
COLUMNS = (
    "event_id, anonymous_id, customer_id, event_type, url, referrer, utm_source, utm_medium, "
    "utm_campaign, device, occurred_at, properties, _file_name, _file_line, _dlt_load_id, _dlt_id"
)
TYPES = ["page_view", "product_view", "add_to_cart", "checkout_started", "purchase"]
LOADS = 6
SHARE_TEST = "events_quarantine_share"
# the expected refusal, by the same rules as base_events__events, written independently
ID_FAULTS = [None, "", "   "]


def _reason(row: dict[str, Any]) -> str | None:
    event_id = row["event_id"].strip() if row["event_id"] is not None else None
    visitor = (row["anonymous_id"] or "").strip()
    event_type = (row["event_type"] or "").strip().lower()
    if not event_id:
        return "missing event_id"
    if not visitor:
        return "missing anonymous_id"
    if row["occurred_at"] is None:
        return "missing occurred_at"
    if event_type not in TYPES:
        return "unknown event_type"
    return None


def _event(rng: random.Random, event_id: str | None, load: str, line: int) -> dict[str, Any]:
    fault = rng.random()
    return {
        "event_id": event_id,
        "anonymous_id": None if fault < 0.08 else rng.choice(["v1", "v2", " v3 ", "", "v4"]),
        "customer_id": None,
        "event_type": rng.choice([*TYPES, "PAGE_VIEW ", "refund", None])
        if fault > 0.7
        else "purchase",
        "url": "https://shop.example/",
        "referrer": None,
        "utm_source": None,
        "utm_medium": None,
        "utm_campaign": None,
        "device": "desktop",
        "occurred_at": None if 0.08 <= fault < 0.14 else f"2026-10-0{1 + line % 9} 10:00:00+00",
        "properties": "{}",
        "_file_name": f"load-{load}.jsonl",
        "_file_line": line,
        "_dlt_load_id": load,
        "_dlt_id": f"{load}-{line}",
    }


@dataclass
class Lab:
    env: dict[str, str]
    wh: warehouse.Warehouse
    dbt: DbtProject
    raw: list[dict[str, Any]]  # the raw rows as the merge leaves them
    delivered: dict[str, Counter[str]]  # per load: rows and refused, as delivered

    def next_load(self) -> str:
        """A load id newer than every earlier one, as dlt's are."""
        return f"{1_790_000_000 + len(self.delivered)}.5"

    def load(self, rows: list[dict[str, Any]]) -> None:
        """Write one load the way dlt's merge on event_id does: a row again replaces its id's."""
        marks = ", ".join(["%s"] * 16)
        with warehouse.cursor(self.wh) as cur:
            for row in rows:
                if row["event_id"] is not None:
                    cur.execute(
                        warehouse.placeholders(
                            self.wh, "delete from raw_events.events where event_id = %s"
                        ),
                        (row["event_id"],),
                    )
                cur.execute(
                    warehouse.placeholders(
                        self.wh, f"insert into raw_events.events ({COLUMNS}) values ({marks})"
                    ),
                    tuple(row.values()),
                )
        for row in rows:
            if row["event_id"] is not None:
                self.raw = [kept for kept in self.raw if kept["event_id"] != row["event_id"]]
            self.raw.append(row)
        counts = self.delivered.setdefault(rows[0]["_dlt_load_id"], Counter())
        counts["rows"] += len(rows)
        counts["refused"] += sum(_reason(r) is not None for r in rows)

    def run(self, *args: str) -> DbtRun:
        with environment(self.env):
            return self.dbt.invoke(*args)


def _generated_load(
    rng: random.Random, load: str, ids: list[str], tag: str
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for line in range(rng.randint(5, 40)):
        pick = rng.random()
        if ids and pick < 0.25:
            event_id = rng.choice(ids)  # delivered again: replaces the raw row
        elif pick < 0.33:
            event_id = rng.choice(ID_FAULTS)
        else:
            event_id = f"{' ' if pick > 0.9 else ''}{tag}-{load}-{line}"
            ids.append(event_id)
        if event_id is not None and any(r["event_id"] == event_id for r in rows):
            continue  # one row per id within a load, as the merge leaves it
        rows.append(_event(rng, event_id, load, line))
    return rows


@pytest.fixture(scope="module", params=WAREHOUSES)
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    kind = request.param
    tmp = tmp_path_factory.mktemp(f"refused_{kind}")
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    env = fresh_env(kind, tmp, server)
    with environment(env):
        (tmp / "warehouse").mkdir(exist_ok=True)
        conn = warehouse.connect()
        raw_fixture.build(conn)
        conn.close()
        wh = warehouse.current()
    fixture_rows = query(env, f"select {COLUMNS} from raw_events.events")
    names = [c.strip() for c in COLUMNS.split(",")]
    raw = [dict(zip(names, row, strict=True)) for row in fixture_rows]
    lab = Lab(env, wh, DbtProject(tmp / "dbt"), raw, {})
    first = lab.run("run", "--select", "+quarantine_rows")
    assert first.success, first.output[-2000:]
    return lab


def _refused_in_raw(lab: Lab) -> Counter[tuple[Any, ...]]:
    return Counter(
        ((row["event_id"] or "").strip(), _reason(row), row["_dlt_load_id"])
        for row in lab.raw
        if _reason(row) is not None
    )


def _listed(lab: Lab) -> Counter[tuple[Any, ...]]:
    rows = query(
        lab.env,
        "select coalesce(record_key, ''), reason, dlt_load_id from quarantine.quarantine_rows "
        "where layer = 'staging' and source_table = 'raw_events.events'",
    )
    return Counter(tuple(r) for r in rows)


@pytest.mark.parametrize("seed", [7, 23])
def test_incremental_refusals_equal_a_scan_of_every_raw_row(lab: Lab, seed: int) -> None:
    rng = random.Random(seed)
    ids: list[str] = []
    for _ in range(LOADS):
        lab.load(_generated_load(rng, lab.next_load(), ids, f"s{seed}"))
        run = lab.run("run", "--select", "+quarantine_rows")
        assert run.success, run.output[-2000:]
        assert _listed(lab) == _refused_in_raw(lab)
    kept = query(
        lab.env, "select _dlt_load_id, row_count, refused_count from intermediate.int_events_loads"
    )
    counts = {load: (rows, refused) for load, rows, refused in kept}
    for load, delivered in lab.delivered.items():
        assert counts[load] == (delivered["rows"], delivered["refused"]), load


def _statuses(run: DbtRun) -> dict[str, str]:
    return {str(r["unique_id"]).split(".")[2]: str(r["status"]) for r in run.results}


def test_the_share_test_reads_the_loads_the_build_brought(lab: Lab) -> None:
    rng = random.Random(5)
    select = ("build", "--select", "int_events_loads")
    bad = [_event(rng, f"bad-{i}", lab.next_load(), i) for i in range(20)]
    for row in bad[:10]:
        row["event_type"] = "refund"
    lab.load(bad)
    after_bad = lab.run(*select)
    clean = [_event(rng, f"clean-{i}", lab.next_load(), i) for i in range(20)]
    for row in clean:
        row.update(anonymous_id="v1", event_type="page_view", occurred_at="2026-10-05 10:00:00+00")
    lab.load(clean)
    after_clean = lab.run(*select)
    weekly = lab.run(*select, "--vars", "{full_history_tests: true}")
    assert _statuses(after_bad)[SHARE_TEST] == "fail"
    assert _statuses(after_clean)[SHARE_TEST] == "pass"
    assert _statuses(weekly)[SHARE_TEST] == "fail"
