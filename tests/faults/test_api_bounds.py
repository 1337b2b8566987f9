"""Bounded API reads: paging that does not advance and pages without their data field fail fast,
naming source and endpoint and loading nothing; a source past its time limit fails alone.

Generated (hypothesis, derandomized) over dlt's paginator types, where a walk turns back (after
which page, how many pages back: a cursor or next link pointing at an earlier page or at itself,
an offset or page number the API ignores), page sizes and what a page without data looks like,
against the real demo HTTP server; the loader runs in this process under a watchdog, so a walk
that never ends fails the test instead of hanging it. Walks with benign faults (a page repeating
records of the previous one, an empty last page, 5xx, cut bodies) must still load exactly.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis import strategies as st

from demo import generator
from demo.faults import ApiFaults
from demo.server import running_server
from tests.faults.api_support import (
    loader_env,
    pending_packages,
    raw_rows,
    run_loaders,
    source_seconds,
    source_truth,
    stored_cursors,
)
from tests.faults.bounds_support import PAGINATORS, Outcome, crm_sources, crm_truth, load_crm
from tests.support.battery import size
from tests.support.paths import SOURCES_FILE
from tests.support.warehouse import fresh_env

AREA = "API bounds"
STOP_S = 20.0  # a bounded walk stops well within this; the watchdog gives up at 60 s


@pytest.fixture(scope="module")
def crm_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo shop whose CRM spans 7-14 pages per walk at 3-6 records a page (read-only)."""
    folder = tmp_path_factory.mktemp("api_bounds") / "demo"
    generator.generate(folder, days=2, scale=0.2, end_date=date(2026, 11, 20))
    return folder


def _examples(kind: str, fast: int, full: int, *fixed: dict[str, Any]) -> Any:
    """Seeded generation (no shrinking: a failing walk is reported as found); on DuckDB the
    ``fixed`` cases too (the demo's own cursor, the offset walk that repeats a page)."""

    def decorate(test: Any) -> Any:
        for case in fixed if kind == "duckdb" else ():
            test = example(**case)(test)
        return seed(16)(
            settings(
                max_examples=size(fast if kind == "duckdb" else 1, full),
                deadline=None,
                database=None,
                phases=(Phase.explicit, Phase.generate),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            )(test)
        )

    return decorate


def _warehouse(kind: str, folder: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    return fresh_env(kind, folder, server)


def _run(
    shop: Path,
    tmp: Path,
    kind: str,
    request: pytest.FixtureRequest,
    faults: ApiFaults,
    paginator: str,
    limit: int,
) -> Outcome:
    folder = Path(tempfile.mkdtemp(dir=tmp))
    warehouse = _warehouse(kind, folder, request)
    sources = crm_sources(folder, paginator, limit)
    return load_crm(shop, folder, warehouse, sources, faults, PAGINATORS[paginator][1])


def _nothing_left(outcome: Outcome) -> bool:
    return outcome.crm_rows == 0 and not outcome.cursors and not outcome.pending


KINDS = ["duckdb", "postgres"]


@pytest.mark.parametrize("kind", KINDS)
def test_paging_that_turns_back_fails_naming_source_and_endpoint_and_loads_nothing(
    kind: str, crm_shop: Path, tmp_path: Path, request: pytest.FixtureRequest, figure: Any
) -> None:
    seen: list[tuple[str, Outcome]] = []

    @_examples(
        kind,
        3,
        30,
        {"paginator": "cursor", "limit": 3, "after": 2, "back": 1},
        {"paginator": "offset", "limit": 4, "after": 3, "back": 2},
    )
    @given(
        paginator=st.sampled_from(sorted(PAGINATORS)),
        limit=st.integers(3, 6),
        after=st.integers(1, 5),
        back=st.integers(1, 5),
    )
    def walk(paginator: str, limit: int, after: int, back: int) -> None:
        faults = ApiFaults(loop_after=after, loop_length=min(back, after))
        outcome = _run(crm_shop, tmp_path, kind, request, faults, paginator, limit)
        label = f"{paginator}, {limit} a page, back {min(back, after)} from page {after}"
        seen.append((label, outcome))
        assert not outcome.ok, label
        assert "source 'crm'" in outcome.error and "paging does not advance" in outcome.error
        assert "'customers'" in outcome.error or "'campaigns'" in outcome.error, outcome.error
        assert outcome.injected.get("loop", 0) <= 2, outcome.injected  # stopped at first sight
        assert outcome.seconds < STOP_S, outcome.error
        assert _nothing_left(outcome), (outcome.rows, outcome.cursors, outcome.pending)

    try:
        walk()
    finally:
        _figures(figure, kind, "paging that turns back", seen)


def _figures(figure: Any, kind: str, what: str, seen: list[tuple[str, Outcome]]) -> None:
    """Figures over every generated walk: how many failed cleanly, how fast, what was left."""
    clean = [label for label, o in seen if not o.ok and _nothing_left(o) and o.seconds < STOP_S]
    slowest = max((o.seconds for _, o in seen), default=0.0)
    left = sum(o.crm_rows for _, o in seen)
    types = sorted({label.split(",")[0] for label, _ in seen})
    figure(AREA, f"{what}: walks stopped with a named error, nothing loaded",
           f"{len(clean)}/{len(seen)}", "all", len(clean) == len(seen) > 0, kind,
           f"paginators tried: {', '.join(types)}")  # fmt: skip
    figure(AREA, f"{what}: slowest stop (s)", round(slowest, 1), f"< {STOP_S:.0f}",
           slowest < STOP_S, kind)  # fmt: skip
    figure(AREA, f"{what}: CRM rows loaded", left, "= 0", left == 0, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_walks_with_benign_faults_still_load_exactly_with_every_paginator(
    kind: str, crm_shop: Path, tmp_path: Path, request: pytest.FixtureRequest, figure: Any
) -> None:
    truth = crm_truth(crm_shop)
    seen: list[tuple[str, Outcome]] = []

    @_examples(
        kind,
        1,
        20,
        {"paginator": "cursor", "limit": 4, "duplicate": 1.0, "empty_last_page": True,
         "error": 0.2, "truncate": 0.2, "seed": 5},
        # the last page's records sent again on the empty page after it: an overlap, no loop
        {"paginator": "auto", "limit": 6, "duplicate": 0.5, "empty_last_page": True,
         "error": 0.0, "truncate": 0.0, "seed": 671},
        {"paginator": "page_number", "limit": 5, "duplicate": 0.0, "empty_last_page": False,
         "error": 0.0, "truncate": 0.2, "seed": 6},
    )  # fmt: skip
    @given(
        paginator=st.sampled_from(sorted(PAGINATORS)),
        limit=st.integers(3, 6),
        duplicate=st.sampled_from([0.0, 0.5, 1.0]),
        empty_last_page=st.booleans(),
        error=st.sampled_from([0.0, 0.2]),
        truncate=st.sampled_from([0.0, 0.2]),
        seed=st.integers(0, 1000),
    )
    def walk(
        paginator: str,
        limit: int,
        duplicate: float,
        empty_last_page: bool,
        error: float,
        truncate: float,
        seed: int,
    ) -> None:
        faults = ApiFaults(
            duplicate_rate=duplicate,
            empty_last_page=empty_last_page,
            error_rate=error,
            truncate_rate=truncate,
            seed=seed,
        )
        outcome = _run(crm_shop, tmp_path, kind, request, faults, paginator, limit)
        seen.append((paginator, outcome))
        assert outcome.ok, (paginator, faults, outcome.error)
        assert {t: outcome.rows[t] for t in truth} == truth, (paginator, faults)

    try:
        walk()
    finally:
        exact = sum(1 for _, o in seen if o.ok and all(o.rows[t] == n for t, n in truth.items()))
        figure(AREA, "benign faults (repeated records, empty last page, 5xx, cut bodies): "
               "walks loaded exactly", f"{exact}/{len(seen)}", "all", exact == len(seen) > 0,
               kind, f"paginators tried: {', '.join(sorted({p for p, _ in seen}))}")  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_a_page_without_its_data_field_fails_naming_the_endpoint_and_loads_nothing(
    kind: str, crm_shop: Path, tmp_path: Path, request: pytest.FixtureRequest, figure: Any
) -> None:
    seen: list[tuple[str, Outcome]] = []

    @_examples(kind, 2, 20, {"paginator": "offset", "limit": 3, "after": 2, "body": "null"})
    @given(
        paginator=st.sampled_from(sorted(PAGINATORS)),
        limit=st.integers(3, 6),
        after=st.integers(0, 6),
        body=st.sampled_from(["error", "empty", "null"]),
    )
    def walk(paginator: str, limit: int, after: int, body: str) -> None:
        faults = ApiFaults(missing_data_after=after, missing_data_body=body)
        outcome = _run(crm_shop, tmp_path, kind, request, faults, paginator, limit)
        seen.append((f"{paginator}, page {after + 1} {body}", outcome))
        assert not outcome.ok
        assert "source 'crm'" in outcome.error, outcome.error
        assert "without its data field 'data'" in outcome.error, outcome.error
        assert outcome.injected.get("missing_data", 0) >= 1
        assert _nothing_left(outcome), (outcome.rows, outcome.cursors, outcome.pending)

    try:
        walk()
    finally:
        _figures(figure, kind, "a 200 page without its data field", seen)


def test_the_error_names_the_endpoint_of_the_page(
    crm_shop: Path, tmp_path: Path, request: pytest.FixtureRequest, figure: Callable[..., Any]
) -> None:
    outcome = _run(
        crm_shop, tmp_path, "duckdb", request, ApiFaults(missing_data_after=0), "cursor", 5
    )
    named = any(f"endpoint '{e}' (GET " in outcome.error for e in ("customers", "campaigns"))
    figure(AREA, "a page without data: error names source, endpoint and path", str(named),
           "True", named, "duckdb", outcome.error[:200])  # fmt: skip
    assert named, outcome.error


# ---------------------------------------------------------------- the wall-clock limit

LIMIT_S = 3.0
# A drip-fed CRM page (5 records, 32 bytes every 0.1 s) takes about 5 s: longer than the limit,
# each byte well within the request timeout. Only an interruption inside the page stops in time.
DRIP = ApiFaults(drip_seconds=0.1, drip_chunk=32)
PAST_LIMIT_S = 1.5


@pytest.mark.parametrize(
    ("kind", "how"), [("duckdb", "--time-limit"), ("postgres", "time_limit_s in sources.yml")]
)
def test_a_source_past_its_time_limit_fails_alone_and_releases_the_lock(
    kind: str,
    how: str,
    crm_shop: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    figure: Callable[..., Any],
) -> None:
    warehouse = _warehouse(kind, tmp_path, request)
    doc = yaml.safe_load(crm_sources(tmp_path, "cursor", 5).read_text())
    full = yaml.safe_load(SOURCES_FILE.read_text())
    if how.startswith("time_limit_s"):
        doc["crm"]["time_limit_s"] = LIMIT_S
    args = ("--time-limit", f"{LIMIT_S:g}") if how == "--time-limit" else ()
    with running_server(crm_shop, faults=DRIP, rate_limit=10_000) as url:
        env = loader_env(tmp_path, crm_shop, url, warehouse)  # writes tmp_path/sources.yml
        sources = tmp_path / "crm_and_fx.yml"
        sources.write_text(yaml.safe_dump({"crm": doc["crm"], "fx": full["fx"]}, sort_keys=False))
        env["INGESTION_SOURCES"] = str(sources)
        run = run_loaders(env, ("crm", "fx"), args=args)
        again = run_loaders(env, ("fx",))
    truth = source_truth(crm_shop)
    rows = raw_rows(warehouse)
    crm_rows = sum(n for t, n in rows.items() if t.startswith("raw_crm."))
    fx_off = abs(rows["raw_fx.rates"] - truth["rows"]["raw_fx.rates"])
    cursors = [k for k in stored_cursors(warehouse) if k[0] == "crm"]
    pending = [p for p in pending_packages(tmp_path) if "/crm/" in p]
    past = source_seconds(warehouse, "crm") - LIMIT_S
    named = f"source 'crm' exceeded its time limit of {LIMIT_S:g} s" in run.output

    figure(AREA, f"time limit ({how}): seconds past the limit when the stuck source stopped",
           round(past, 2), f"< {PAST_LIMIT_S}", 0 <= past < PAST_LIMIT_S, kind,
           f"a drip-fed page takes ~5 s; the whole run took {run.seconds:.1f} s")  # fmt: skip
    figure(AREA, f"time limit ({how}): error names source and limit, exit code 1", str(named),
           "True", named and run.returncode == 1, kind)  # fmt: skip
    figure(AREA, f"time limit ({how}): stuck source's rows, cursors, pending packages",
           crm_rows + len(cursors) + len(pending), "= 0",
           crm_rows + len(cursors) + len(pending) == 0, kind)  # fmt: skip
    figure(AREA, f"time limit ({how}): the other source's rows off vs source", fx_off, "= 0",
           fx_off == 0, kind)  # fmt: skip
    figure(AREA, f"time limit ({how}): exit code of the next run (lock released)",
           again.returncode, "= 0", again.returncode == 0, kind)  # fmt: skip

    assert run.returncode == 1, run.output[-3000:]
    assert named, run.output[-3000:]
    assert 0 <= past < PAST_LIMIT_S, past
    assert crm_rows == 0 and not cursors and not pending, (rows, cursors, pending)
    assert fx_off == 0, rows
    assert again.returncode == 0, again.output[-3000:]


def test_outside_the_main_thread_the_limit_stops_the_read_at_the_next_page(
    crm_shop: Path, tmp_path: Path, figure: Callable[..., Any]
) -> None:
    """No signal reaches another thread: the readers' check points stop it at a page end."""
    warehouse = fresh_env("duckdb", tmp_path)
    sources = crm_sources(tmp_path, "cursor", 3)
    drip = ApiFaults(drip_seconds=0.05, drip_chunk=64)  # about 0.5 s a page
    outcome: list[Outcome] = []

    def load() -> None:
        outcome.append(load_crm(crm_shop, tmp_path, warehouse, sources, drip, "cursor", 1.0))

    thread = threading.Thread(target=load, name="loader")
    thread.start()
    thread.join(timeout=60)
    stopped = bool(outcome) and "exceeded its time limit of 1 s" in outcome[0].error
    seconds = outcome[0].seconds if outcome else float("inf")
    figure(AREA, "time limit outside the main thread: seconds to stop (limit 1 s)",
           round(seconds, 1), "< 3", stopped and seconds < 3, "duckdb")  # fmt: skip
    assert stopped, outcome[0].error if outcome else "the load did not end"
    assert seconds < 3
    assert _nothing_left(outcome[0])
