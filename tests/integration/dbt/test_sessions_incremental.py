"""Sessions are built incrementally (int_events_sessionized, fct_sessions): whatever the loads
and the builds, every build leaves the sessions a sessionisation of all accepted events gives.

Generated loads (seeded) go into the fixture's ``raw_events.events`` as dlt's merge on
``event_id`` leaves them: visitors coming back minutes or days later, gaps on either side of
the 30-minute timeout, equal times, late events before a visitor's kept sessions, and
deliveries again that move an event in time or to another visitor. Builds of the chain
interleave with loads left for a later build, staging built ahead alone, and full refreshes.
After each build of the chain, both models must equal an independent sessionisation (below)
of ``stg_events__events``.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.event_lab import Lab, raw_event
from tests.support.warehouse import query

pytestmark = pytest.mark.slow
WAREHOUSES = [
    pytest.param("duckdb", marks=pytest.mark.xdist_group("sessions_duckdb")),
    pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.xdist_group("sessions_pg")]),
]
SEEDS = {"duckdb": 7, "postgres": 1969}
TIMEOUT = timedelta(minutes=30)  # dbt_project.yml: session_timeout_minutes
START = datetime(2026, 10, 1, 8, 0)
GAPS = [
    timedelta(0),
    timedelta(seconds=1),
    TIMEOUT - timedelta(seconds=1),
    TIMEOUT,
    TIMEOUT + timedelta(seconds=1),
    timedelta(hours=3),
    timedelta(days=1, hours=2),
]
CHAIN = ("run", "--select", "stg_events__events", "int_events_sessionized", "fct_sessions")
BUILDS = {
    "chain": CHAIN,
    "none": (),
    "staging only": ("run", "--select", "stg_events__events"),
    "full refresh": (*CHAIN, "--full-refresh"),
}
WEIGHTS = {"chain": 6, "none": 2, "staging only": 1, "full refresh": 1}


@pytest.fixture(scope="module", params=WAREHOUSES)
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    kind = request.param
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    lab = Lab.on_fixture(kind, tmp_path_factory.mktemp(f"sessions_{kind}"), server)
    lab.run("run", "--select", "+fct_sessions")
    return lab


def _sessionised(events: list[tuple[str, str, datetime]]) -> dict[str, tuple[str, int, int]]:
    """event_id -> (visitor, session number, place in session): a new session after a gap
    over the timeout, events ordered by (time, event_id) within each visitor."""
    by_visitor: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for event_id, visitor, occurred_at in events:
        by_visitor[visitor].append((occurred_at, event_id))
    out = {}
    for visitor, timeline in by_visitor.items():
        session, place, previous = 0, 0, None
        for occurred_at, event_id in sorted(timeline):
            if previous is None or occurred_at - previous > TIMEOUT:
                session, place = session + 1, 0
            place += 1
            previous = occurred_at
            out[event_id] = (visitor, session, place)
    return out


def _assert_sessions_hold(lab: Lab, history: list[str]) -> None:
    accepted = query(
        lab.env, "select event_id, anonymous_id, occurred_at from staging.stg_events__events"
    )
    expected = _sessionised([(str(e), str(v), t) for e, v, t in accepted])
    built = {
        str(event_id): (str(visitor), int(session), int(place))
        for event_id, visitor, session, place in query(
            lab.env,
            "select event_id, anonymous_id, session_number, event_sequence "
            "from intermediate.int_events_sessionized",
        )
    }
    wrong = {k: (built.get(k), v) for k, v in expected.items() if built.get(k) != v}
    extra = set(built) - set(expected)
    assert not wrong and not extra, f"after {history}: built vs expected {wrong}; extra {extra}"

    sessions = Counter((visitor, session) for visitor, session, _ in expected.values())
    kept = Counter(
        (str(visitor), int(session))
        for visitor, session, count in query(
            lab.env, "select anonymous_id, session_number, event_count from marts.fct_sessions"
        )
        for _ in range(int(count))
    )
    assert kept == sessions, (
        f"fct_sessions after {history}: only built {dict(kept - sessions)}; "
        f"only expected {dict(sessions - kept)}"
    )


class Shop:
    """Visitors' clocks and every event id sent, to draw the next load from."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.clocks: dict[str, datetime] = {}
        self.sent: dict[str, tuple[str, datetime]] = {}
        self.count = 0

    def load(self, lab: Lab) -> list[dict[str, Any]]:
        rng, load = self.rng, lab.next_load()
        rows: list[dict[str, Any]] = []
        for line in range(rng.randint(1, 10)):
            pick = rng.random()
            if self.sent and pick < 0.2:  # delivered again: moved in time or to another visitor
                event_id = rng.choice(sorted(self.sent))
                visitor, at = self.sent[event_id]
                if rng.random() < 0.3:
                    visitor = rng.choice(sorted(self.clocks))
                at += rng.choice([timedelta(0), *GAPS[1:5], -GAPS[4], -GAPS[5]])
            else:
                self.count += 1
                event_id = f"s{self.count:05d}"
                if not self.clocks or pick < 0.35:
                    visitor = f"sv-{len(self.clocks):03d}"
                    self.clocks[visitor] = START + timedelta(minutes=rng.randint(0, 600))
                else:
                    visitor = rng.choice(sorted(self.clocks))
                if pick < 0.5:  # late: before (or at) what the visitor already did
                    at = self.clocks[visitor] - rng.choice([*GAPS[:6], timedelta(hours=20)])
                else:
                    self.clocks[visitor] += rng.choice(GAPS)
                    at = self.clocks[visitor]
            if any(r["event_id"] == event_id for r in rows):
                continue  # one row per id within a load, as the merge leaves it
            self.sent[event_id] = (visitor, at)
            at_text = f"{at:%Y-%m-%d %H:%M:%S}+00"
            rows.append(raw_event(event_id, load, line, anonymous_id=visitor, occurred_at=at_text))
        return rows


def test_generated_loads_sessionise_as_a_whole_history_would(lab: Lab) -> None:
    rng = random.Random(SEEDS[lab.env["WAREHOUSE"]])
    shop = Shop(rng)
    history: list[str] = []
    checks = 0
    for _ in range(12):
        rows = shop.load(lab)
        lab.load(rows)
        history.append(f"load {rows[0]['_dlt_load_id']} ({len(rows)} rows)")
        build = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        if BUILDS[build]:
            lab.run(*BUILDS[build])
            history.append(build)
        if build in ("chain", "full refresh"):
            _assert_sessions_hold(lab, history)
            checks += 1
    lab.run(*CHAIN)
    history.append("chain")
    _assert_sessions_hold(lab, history)
    assert checks >= 3, history
