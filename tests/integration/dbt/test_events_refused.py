"""Refused events are found incrementally (int_events_loads, int_events_refused): whatever the
loads and the builds, ``quarantine_rows`` lists exactly the refused rows of the current raw table.

Loads go into the fixture's ``raw_events.events`` as dlt's merge on ``event_id`` leaves them:
new rows, padded, blank and missing ids, missing visitors and times, unknown types, and
deliveries again of earlier ids that replace the raw row (fixing or breaking it). A hand-written
sequence and generated ones (seeded) interleave whole builds, one model alone, full refreshes
and several loads between builds; after each whole build the listed rows must equal the view
``base_events__events``' refused rows and an independent Python model of raw. The share test
reads only the loads a build brought. Written first by a helper trying to break the models.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from ingestion import warehouse
from tests.support.dbt import DbtRun
from tests.support.event_lab import Lab, raw_event
from tests.support.warehouse import query

pytestmark = pytest.mark.slow
WAREHOUSES = [
    pytest.param("duckdb", marks=pytest.mark.xdist_group("refused_duckdb")),
    pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.xdist_group("refused_pg")]),
]
TYPES = ["page_view", "product_view", "add_to_cart", "checkout_started", "purchase"]
FAULTS = ["visitor", "blank_visitor", "time", "type", "null_type"]
ID_FAULTS = [None, "", " ", "   "]
SHARE_TEST = "events_quarantine_share"
ALL = ("run", "--select", "+quarantine_rows")
BIG_LOAD = """insert into raw_events.events (event_id, anonymous_id, event_type, occurred_at,
    properties, _file_name, _file_line, _dlt_load_id, _dlt_id)
select 'big-{attempt}-' || cast(i as varchar), 'v' || cast(i % 5000 as varchar), 'page_view',
    cast('2026-10-05 10:00:00+00' as timestamp with time zone) + i * interval '1 second', '{{}}',
    'big.parquet', i, '{load}', 'big-{attempt}-' || cast(i as varchar)
from generate_series(1, 400000) as g (i)"""
SEEDS = {"duckdb": 11, "postgres": 2026}  # one sequence a warehouse keeps the file short


def _reason(row: dict[str, Any]) -> str | None:
    """The refusal by base_events__events' rules, written independently (trim = spaces)."""
    event_id = row["event_id"].strip(" ") if row["event_id"] is not None else None
    visitor = (row["anonymous_id"] or "").strip(" ")
    event_type = (row["event_type"] or "").strip(" ").lower()
    if not event_id:
        return "missing event_id"
    if not visitor:
        return "missing anonymous_id"
    if row["occurred_at"] is None:
        return "missing occurred_at"
    if event_type not in TYPES:
        return "unknown event_type"
    return None


def _event(event_id: str | None, load: str, line: int, fault: str | None = None) -> dict[str, Any]:
    row = raw_event(event_id, load, line)
    if fault in ("visitor", "blank_visitor"):
        row["anonymous_id"] = None if fault == "visitor" else "  "
    if fault in ("type", "null_type"):
        row["event_type"] = "refund" if fault == "type" else None
    if fault == "time":
        row["occurred_at"] = None
    return row


@pytest.fixture(scope="module", params=WAREHOUSES)
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    kind = request.param
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    lab = Lab.on_fixture(kind, tmp_path_factory.mktemp(f"refused_{kind}"), server)
    lab.run(*ALL)
    return lab


# ---------------------------------------------------------------------------------------------
# what must hold


def _rows(lab: Lab, sql: str) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r) for r in query(lab.env, sql))


def _recomputed(lab: Lab) -> Counter[tuple[Any, ...]]:
    """Every refused row of the current raw table, through the view."""
    return _rows(
        lab,
        "select event_id, quarantine_reason, _dlt_load_id from staging.base_events__events "
        "where quarantine_reason is not null",
    )


def _modelled(lab: Lab) -> Counter[tuple[Any, ...]]:
    """The same from the Python model of raw (a check on this file's merge model)."""
    return Counter(
        (
            row["event_id"].strip(" ") if row["event_id"] is not None else None,
            _reason(row),
            row["_dlt_load_id"],
        )
        for row in lab.raw
        if _reason(row) is not None
    )


def _listed(lab: Lab) -> Counter[tuple[Any, ...]]:
    return _rows(
        lab,
        "select record_key, reason, dlt_load_id from quarantine.quarantine_rows "
        "where layer = 'staging' and source_table = 'raw_events.events'",
    )


REFUSED = "select event_id, raw_event_id, quarantine_reason, _dlt_load_id from "


def _kept_refused(lab: Lab) -> Counter[tuple[Any, ...]]:
    return _rows(lab, REFUSED + "intermediate.int_events_refused")


def _raw_refused(lab: Lab) -> Counter[tuple[Any, ...]]:
    return _rows(lab, REFUSED + "staging.base_events__events where quarantine_reason is not null")


def _diff(a: Counter[Any], b: Counter[Any]) -> str:
    return f"only listed: {dict(a - b)}; only recomputed: {dict(b - a)}"


def _assert_listed_rows_hold(lab: Lab, history: list[str]) -> None:
    expected = _recomputed(lab)
    assert expected == _modelled(lab), "the view disagrees with this file's model of raw"
    listed = _listed(lab)
    assert listed == expected, f"after {history}: {_diff(listed, expected)}"
    kept = _kept_refused(lab)
    raw = _raw_refused(lab)
    assert kept == raw, f"int_events_refused after {history}: {_diff(kept, raw)}"
    counted = _load_counts(lab)  # one row per load, every load raw holds
    missing = {r["_dlt_load_id"] for r in lab.raw} - set(counted)
    assert not missing, f"loads not in int_events_loads after {history}: {missing}"


def _load_counts(lab: Lab) -> dict[str, tuple[int, int]]:
    rows = query(
        lab.env,
        "select _dlt_load_id, row_count, refused_count from intermediate.int_events_loads",
    )
    loads = [r[0] for r in rows]
    assert len(loads) == len(set(loads)), f"a load twice in int_events_loads: {loads}"
    return {load: (int(n), int(refused)) for load, n, refused in rows}


def _statuses(run: DbtRun) -> dict[str, str]:
    return {str(r["unique_id"]).split(".")[2]: str(r["status"]) for r in run.results}


# ---------------------------------------------------------------------------------------------
# the listed rows: a hand-written sequence of the edge cases


def test_padded_blank_null_and_redelivered_ids(lab: Lab) -> None:
    history: list[str] = []

    def step(name: str, *args: str) -> None:
        history.append(name)
        lab.run(*args)

    load = lab.next_load()
    lab.load(
        [
            _event("h-x", load, 1, "type"),
            _event("  h-x", load, 2, "visitor"),  # padded twin: its own raw row
            _event("h-x ", load, 3),  # valid padded twin
            _event("h-y", load, 4, "time"),
            _event("", load, 5),
            _event("   ", load, 6, "type"),
            _event(None, load, 7),
            _event(None, load, 8, "type"),
            _event("h-z", load, 9),
        ]
    )
    history.append("L1")
    step("refused only", "run", "--select", "int_events_refused")  # loads not yet counted
    step("all", *ALL)
    _assert_listed_rows_hold(lab, history)

    load = lab.next_load()  # only valid rows, redelivering refused ids
    lab.load([_event("h-x", load, 1), _event("h-y", load, 2), _event("h-w", load, 3)])
    history.append("L2 valid redeliveries")
    step("all", *ALL)
    _assert_listed_rows_hold(lab, history)

    load = lab.next_load()  # a refused id delivered again, refused again (another reason)
    lab.load([_event("  h-x", load, 1, "type"), _event("h-x", load, 2, "null_type")])
    history.append("L3 refused again")
    step("loads only", "run", "--select", "int_events_loads")
    load = lab.next_load()  # blank and null ids again; '' and '   ' replace their raw rows
    lab.load([_event("", load, 1, "type"), _event("   ", load, 2), _event(None, load, 3)])
    history.append("L4 blank ids again")
    step("refused only", "run", "--select", "int_events_refused")
    step("all", *ALL)
    _assert_listed_rows_hold(lab, history)

    step("full refresh refused", "run", "--select", "int_events_refused", "--full-refresh")
    load = lab.next_load()
    lab.load([_event("  h-x", load, 1), _event("h-x ", load, 2, "time")])
    history.append("L5")
    step("all", *ALL)
    _assert_listed_rows_hold(lab, history)

    step("full refresh loads", "run", "--select", "int_events_loads", "--full-refresh")
    load = lab.next_load()  # no refusals; redelivers the refused ones, far-apart ids too
    lab.load([_event("h-x", load, 1), _event("h-x ", load, 2), _event("   ", load, 3)])
    history.append("L6 valid")
    step("all", *ALL)
    _assert_listed_rows_hold(lab, history)


# ---------------------------------------------------------------------------------------------
# the listed rows: generated sequences (seeded) of loads and builds


def _generated_load(
    rng: random.Random, lab: Lab, pool: list[str], tag: str
) -> list[dict[str, Any]]:
    load = lab.next_load()
    refused_ids = [
        r["event_id"] for r in lab.raw if r["event_id"] is not None and _reason(r) is not None
    ]
    valid_only = rng.random() < 0.25
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for line in range(rng.randint(1, 12)):
        pick = rng.random()
        if valid_only and refused_ids and pick < 0.6:
            event_id: str | None = rng.choice(refused_ids)
        elif pool and pick < 0.35:
            event_id = rng.choice(pool)  # delivered again, any load ago
        elif pool and pick < 0.45:
            base = rng.choice(pool).strip(" ")
            event_id = rng.choice([base, f" {base}", f"{base} ", f"  {base}"])
        elif pick < 0.6 and not valid_only:
            event_id = rng.choice(ID_FAULTS)
        else:
            event_id = f"{tag}-{lab.loads}-{line}"
        if event_id is not None:
            if event_id in seen:
                continue  # one row per id within a load, as the merge leaves it
            seen.add(event_id)
            if event_id not in pool and event_id.strip(" "):
                pool.append(event_id)
        fault = None if valid_only or rng.random() < 0.55 else rng.choice(FAULTS)
        rows.append(_event(event_id, load, line, fault))
    if not rows:
        rows.append(_event(f"{tag}-{lab.loads}-only", load, 0))
    return rows


BUILDS = {
    "all": ALL,
    "refused only": ("run", "--select", "int_events_refused"),
    "loads only": ("run", "--select", "int_events_loads"),
    "refused+rows": ("run", "--select", "int_events_refused", "quarantine_rows"),
    "full refresh refused": ("run", "--select", "int_events_refused", "--full-refresh"),
    "full refresh loads": ("run", "--select", "int_events_loads", "--full-refresh"),
    "none": (),
}
WEIGHTS = {
    "all": 4,
    "refused only": 2,
    "loads only": 2,
    "refused+rows": 1,
    "full refresh refused": 1,
    "full refresh loads": 1,
    "none": 3,
}


def test_generated_sequences_equal_a_recomputation(lab: Lab) -> None:
    seed = SEEDS[lab.env["WAREHOUSE"]]
    rng = random.Random(seed)
    pool: list[str] = []
    history: list[str] = []
    checks = 0
    for _ in range(14):
        rows = _generated_load(rng, lab, pool, f"g{seed}")
        lab.load(rows)
        history.append(
            f"load {rows[0]['_dlt_load_id']} ({len(rows)} rows, "
            f"{sum(_reason(r) is not None for r in rows)} refused)"
        )
        build = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        if BUILDS[build]:
            lab.run(*BUILDS[build])
            history.append(build)
        if build == "all":
            _assert_listed_rows_hold(lab, history)
            checks += 1
    lab.run(*ALL)
    history.append("all")
    _assert_listed_rows_hold(lab, history)
    assert checks + 1 >= 2, history


# ---------------------------------------------------------------------------------------------
# the share test on the loads a build brought


def _valid_load(lab: Lab, tag: str, rows: int, refused: int) -> list[dict[str, Any]]:
    load = lab.next_load()
    return [
        _event(f"{tag}-{load}-{i}", load, i, "type" if i < refused else None) for i in range(rows)
    ]


def test_share_test_thresholds_on_the_new_loads(lab: Lab) -> None:
    build = ("build", "--select", "int_events_loads")
    lab.build(*build)  # catch up: whatever earlier tests left is now old
    # exactly 5 % is not above 5 %: warns (above 1 %), does not fail
    lab.load(_valid_load(lab, "s-exact", 20, 1))
    assert _statuses(lab.build(*build))[SHARE_TEST] == "warn"
    # just above 5 %
    lab.load(_valid_load(lab, "s-above", 19, 1))
    assert _statuses(lab.build(*build))[SHARE_TEST] == "fail"
    # a build bringing nothing new, after a bad load: old loads not read
    assert _statuses(lab.build(*build))[SHARE_TEST] == "pass"
    # two bad loads in one build, each above 5 %
    lab.load(_valid_load(lab, "s-two-a", 10, 1))
    lab.load(_valid_load(lab, "s-two-b", 10, 2))
    assert _statuses(lab.build(*build))[SHARE_TEST] == "fail"
    # a clean load after them: passes although the history is above 5 %
    lab.load(_valid_load(lab, "s-clean", 30, 0))
    assert _statuses(lab.build(*build))[SHARE_TEST] == "pass"
    # a clean load whose rows redeliver the old bad ones: the new load is clean
    old_bad = [
        r["event_id"] for r in lab.raw if r["event_id"] and r["event_id"].startswith("s-two")
    ]
    load = lab.next_load()
    lab.load([_event(event_id, load, i) for i, event_id in enumerate(old_bad)])
    assert _statuses(lab.build(*build))[SHARE_TEST] == "pass"


def test_the_first_incremental_build_records_windows_of_models_built_at_once(lab: Lab) -> None:
    # stg_events__events and int_events_loads both record a window and build in parallel; a
    # large load keeps one's transaction open while the other starts (they once both created
    # the windows table and DuckDB failed the second on a write-write conflict)
    lab.run("run", "--select", "stg_events__events")
    for attempt in range(2):
        with warehouse.cursor(lab.wh) as cur:
            cur.execute("drop table if exists staging.build_windows")
            cur.execute(BIG_LOAD.format(load=lab.next_load(), attempt=attempt))
        run = lab.build("build", "--select", "stg_events__events", "int_events_loads")
        assert run.success, f"attempt {attempt}: {run.output[-1500:]}"
        windows = query(lab.env, "select model_name from staging.build_windows")
        assert sorted(r[0] for r in windows) == ["int_events_loads", "stg_events__events"]
