"""API faults: the CRM and FX loaders (`python -m ingestion`) against the real demo HTTP server.

Recoverable faults (429, 5xx, stalls past the request timeout, truncated 200 bodies, repeated
records, an empty last page) must end in exactly the source's rows, no duplicate key, and the
incremental cursors at the source's newest value. A rejected token must fail fast, name the
source and endpoint, not leak the token, and leave nothing behind: no rows, no cursor, no
pending package a later run would half-load.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from demo import generator
from demo.faults import ApiFaults
from demo.server import running_server
from tests.faults.api_support import (
    LoaderRun,
    duplicate_keys,
    fault_report,
    loader_env,
    pending_packages,
    raw_rows,
    run_loaders,
    source_seconds,
    source_truth,
    stored_cursors,
)
from tests.support.battery import full_battery, size
from tests.support.warehouse import dict_rows, fresh_env

AREA = "API faults"
END_DATE = date(2026, 11, 20)
# A rejected token must fail before the retry budget of .dlt/config.toml would have run out
# (6 attempts, backoff 0.5 s doubling: 15.5 s of waiting alone). The source's own duration is
# mostly dlt's set-up (~1 s quiet, ~6 s on a loaded 2-core machine); the count of 401 answers
# is the direct proof that nothing was retried.
FAIL_FAST_S = 15.0

# name -> (faults, extra loader env, fault kinds that must have been injected)
SCENARIOS: dict[str, tuple[ApiFaults, dict[str, str], tuple[str, ...]]] = {
    "429 at 20%": (ApiFaults(throttle_rate=0.2, seed=1), {}, ("throttle",)),
    "5xx at 20%": (ApiFaults(error_rate=0.2, seed=2), {}, ("error",)),
    "stall beyond the request timeout": (
        ApiFaults(slow_rate=0.2, slow_seconds=2.0, seed=3),
        {"RUNTIME__REQUEST_TIMEOUT": "0.5"},
        ("slow",),
    ),
    "truncated 200 bodies": (ApiFaults(truncate_rate=0.2, seed=4), {}, ("truncate",)),
    "a page repeated": (ApiFaults(duplicate_rate=0.5, seed=5), {}, ("duplicate",)),
    "empty last page": (ApiFaults(empty_last_page=True), {}, ("empty_last_page",)),
    "all at once": (
        ApiFaults(
            throttle_rate=0.1,
            error_rate=0.1,
            slow_rate=0.1,
            truncate_rate=0.1,
            duplicate_rate=0.3,
            empty_last_page=True,
            slow_seconds=2.0,
            seed=6,
        ),
        {"RUNTIME__REQUEST_TIMEOUT": "0.5"},
        ("throttle", "error", "truncate", "duplicate", "empty_last_page"),
    ),
}
# The fast slice runs the combined scenario on DuckDB; `make faults` runs each fault on its own
# and the combined one on PostgreSQL as well.
CASES = [
    pytest.param(name, "duckdb", id=f"{name}-duckdb")
    for name in SCENARIOS
    if full_battery() or name == "all at once"
]
CASES.append(
    pytest.param(
        "all at once",
        "postgres",
        id="all at once-postgres",
        marks=pytest.mark.skipif(
            not full_battery(), reason="PostgreSQL exactness runs in the full battery only"
        ),
    )
)


@pytest.fixture(scope="module")
def api_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo shop whose CRM spans many small pages (the API is read-only: shared)."""
    folder = tmp_path_factory.mktemp("api_faults") / "demo"
    generator.generate(folder, days=2, scale=0.2 * size(1, 5), end_date=END_DATE)
    return folder


def _warehouse(kind: str, tmp: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    return fresh_env(kind, tmp, server)


def _same_instant(a: Any, b: Any) -> bool:
    """Cursor values compared as instants (dlt may store `...Z` text or an offset form); a
    missing cursor (None) matches nothing."""
    if a is None:
        return False

    def parse(v: Any) -> datetime | date:
        text = str(v).replace("Z", "+00:00").replace(" ", "T")
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)

    return parse(a) == parse(b)


@pytest.mark.parametrize(("scenario", "kind"), CASES)
def test_recoverable_api_faults_end_in_exactly_the_source_rows(
    scenario: str,
    kind: str,
    api_shop: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    figure: Callable[..., Any],
) -> None:
    faults, extra_env, kinds = SCENARIOS[scenario]
    wh = _warehouse(kind, tmp_path, request)
    with running_server(api_shop, faults=faults, rate_limit=10_000) as url:
        env = loader_env(tmp_path, api_shop, url, wh) | extra_env
        run = run_loaders(env)
        injected = fault_report(url)["injected"]
    truth = source_truth(api_shop)
    rows = raw_rows(wh)
    missing = sum(abs(truth["rows"][t] - rows[t]) for t in truth["rows"])
    duplicates = sum(duplicate_keys(wh).values())
    cursors = stored_cursors(wh)
    stale = [k for k, v in truth["cursors"].items() if not _same_instant(cursors.get(k), v)]
    faults_seen = sum(injected.get(k, 0) for k in kinds)
    detail = f"{scenario}; injected {injected}; {run.seconds:.1f} s"

    figure(AREA, f"{scenario}: faults injected", faults_seen, "> 0", faults_seen > 0, kind, detail)
    figure(AREA, f"{scenario}: exit code", run.returncode, "= 0", run.returncode == 0, kind)
    figure(AREA, f"{scenario}: rows off vs source", missing, "= 0", missing == 0, kind, detail)
    figure(AREA, f"{scenario}: duplicated keys", duplicates, "= 0", duplicates == 0, kind)
    figure(AREA, f"{scenario}: cursors not advanced", len(stale), "= 0", not stale, kind)

    assert all(injected.get(k, 0) > 0 for k in kinds), injected
    assert run.returncode == 0, run.output[-3000:]
    assert rows == truth["rows"]
    assert duplicates == 0
    assert not stale, (cursors, truth["cursors"])


def _assert_rejected_cleanly(
    run: LoaderRun,
    answered_401: int,
    wh: dict[str, str],
    tmp: Path,
    secrets: list[str],
    label: str,
    figure: Any,
) -> None:
    """The checks shared by both 401 cases: fast, clear, terminal, nothing loaded or kept."""
    rows = raw_rows(wh)
    crm_rows = sum(n for t, n in rows.items() if t.startswith("raw_crm."))
    crm_cursors = [k for k in stored_cursors(wh) if k[0] == "crm"]
    pending = [p for p in pending_packages(tmp) if "/crm/" in p]
    error_lines = [line for line in run.output.splitlines() if "ingestion failed" in line]
    clear = any("'crm'" in line and "401" in line and "/crm/v1/" in line for line in error_lines)
    traces = " ".join(
        f"{r['error']} {r['trace']}"
        for r in dict_rows(wh, "select error, trace from ops.run_sources")
    )
    leaked = sum(run.output.count(s) + traces.count(s) for s in secrets)
    seconds = source_seconds(wh, "crm")

    figure(AREA, f"{label}: seconds to fail (CRM source)", round(seconds, 1),
           f"< {FAIL_FAST_S:.0f}", seconds < FAIL_FAST_S,
           detail=f"whole process incl. start-up: {run.seconds:.1f} s")  # fmt: skip
    figure(AREA, f"{label}: 401 answers (one per CRM endpoint: no retry)", answered_401, "<= 2",
           1 <= answered_401 <= 2)  # fmt: skip
    figure(AREA, f"{label}: exit code", run.returncode, "= 1", run.returncode == 1)
    figure(AREA, f"{label}: error names source, endpoint and 401", str(clear), "True", clear,
           detail=" / ".join(error_lines)[:300])  # fmt: skip
    figure(AREA, f"{label}: token in output and the ledger's traces", leaked, "= 0", leaked == 0)
    figure(AREA, f"{label}: CRM rows loaded", crm_rows, "= 0", crm_rows == 0, "duckdb")
    figure(AREA, f"{label}: CRM cursors stored", len(crm_cursors), "= 0", not crm_cursors)
    figure(AREA, f"{label}: pending CRM packages", len(pending), "= 0", not pending)

    assert run.returncode == 1, run.output[-3000:]
    assert 0 < seconds < FAIL_FAST_S
    assert 1 <= answered_401 <= 2, "a rejected token must not be retried"
    assert clear, error_lines or run.output[-3000:]
    assert leaked == 0
    assert crm_rows == 0, rows
    assert not crm_cursors
    assert not pending, pending


@pytest.mark.skipif(
    not full_battery(),
    reason="full battery only: the revoked-token test checks the same at the fast size",
)
def test_a_wrong_token_fails_fast_and_clearly_and_loads_nothing(
    api_shop: Path, tmp_path: Path, figure: Callable[..., Any]
) -> None:
    wh = fresh_env("duckdb", tmp_path)
    wrong = f"wrong-{uuid.uuid4().hex}"
    real = (api_shop / "api_token").read_text().strip()
    with running_server(api_shop, rate_limit=10_000) as url:
        env = loader_env(tmp_path, api_shop, url, wh, fast_retries=False)
        env["SOURCES__CRM__TOKEN"] = wrong
        run = run_loaders(env, ("crm",))
        answered = fault_report(url)["answered"]

    _assert_rejected_cleanly(
        run, answered.get("401", 0), wh, tmp_path, [wrong, real], "wrong token", figure
    )


def test_a_token_revoked_mid_run_keeps_no_half_load_and_the_next_run_is_exact(
    api_shop: Path, tmp_path: Path, figure: Callable[..., Any]
) -> None:
    wh = fresh_env("duckdb", tmp_path)
    real = (api_shop / "api_token").read_text().strip()
    with running_server(api_shop, faults=ApiFaults(unauthorized_after=4), rate_limit=10_000) as url:
        run = run_loaders(loader_env(tmp_path, api_shop, url, wh, fast_retries=False), ("crm",))
        report = fault_report(url)
    assert report["injected"].get("unauthorized", 0) >= 1, report

    _assert_rejected_cleanly(
        run,
        report["answered"].get("401", 0),
        wh,
        tmp_path,
        [real],
        "token revoked mid-run",
        figure,
    )

    with running_server(api_shop, rate_limit=10_000) as url:  # the token works again
        again = run_loaders(loader_env(tmp_path, api_shop, url, wh), ("crm",))
    crm = [t for t in source_truth(api_shop)["rows"] if t.startswith("raw_crm.")]
    expected = {t: source_truth(api_shop)["rows"][t] for t in crm}
    rows = {t: raw_rows(wh)[t] for t in crm}
    duplicates = sum(duplicate_keys(wh).values())
    off = sum(abs(expected[t] - rows[t]) for t in crm)
    figure(AREA, "after a revoked token: next run rows off vs source", off, "= 0", off == 0,
           "duckdb")  # fmt: skip
    figure(AREA, "after a revoked token: duplicated keys", duplicates, "= 0", duplicates == 0,
           "duckdb")  # fmt: skip
    assert again.returncode == 0, again.output[-3000:]
    assert rows == expected
    assert duplicates == 0
