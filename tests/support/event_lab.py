"""A raw events table fed by hand, load by load, as dlt's merge on ``event_id`` leaves it, and
the dbt project built on it: the lab of the incremental event-model tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion import warehouse
from tests.support import raw_fixture
from tests.support.dbt import DbtProject, DbtRun
from tests.support.env import environment
from tests.support.warehouse import fresh_env, query

COLUMNS = (
    "event_id, anonymous_id, customer_id, event_type, url, referrer, utm_source, utm_medium, "
    "utm_campaign, device, occurred_at, properties, _file_name, _file_line, _dlt_load_id, _dlt_id"
)
NAMES = [c.strip() for c in COLUMNS.split(",")]


def raw_event(event_id: str | None, load: str, line: int, **fields: Any) -> dict[str, Any]:
    """One raw row of ``load`` as the events loader lands it; ``fields`` replace columns."""
    row = {
        "event_id": event_id,
        "anonymous_id": " v1 ",
        "customer_id": None,
        "event_type": "PAGE_VIEW ",
        "url": "https://shop.example/",
        "referrer": None,
        "utm_source": None,
        "utm_medium": None,
        "utm_campaign": None,
        "device": "desktop",
        "occurred_at": f"2026-10-0{1 + line % 9} 10:00:00+00",
        "properties": "{}",
        "_file_name": f"load-{load}.jsonl",
        "_file_line": line,
        "_dlt_load_id": load,
        "_dlt_id": f"{load}-{line}",
    }
    return {**row, **fields}


@dataclass
class Lab:
    env: dict[str, str]
    wh: warehouse.Warehouse
    dbt: DbtProject
    raw: list[dict[str, Any]]  # the raw rows as the merge leaves them
    loads: int = 0

    @classmethod
    def on_fixture(cls, kind: str, tmp: Path, server: Any) -> Lab:
        """A fresh warehouse of ``kind`` holding the raw fixture (tests/support/raw_fixture)."""
        env = fresh_env(kind, tmp, server)
        with environment(env):
            (tmp / "warehouse").mkdir(exist_ok=True)
            conn = warehouse.connect()
            raw_fixture.build(conn)
            conn.close()
            wh = warehouse.current()
        raw = [
            dict(zip(NAMES, row, strict=True))
            for row in query(env, f"select {COLUMNS} from raw_events.events")
        ]
        return cls(env, wh, DbtProject(tmp / "dbt"), raw)

    def next_load(self) -> str:
        """A load id newer than every earlier one, same width, as dlt's are."""
        self.loads += 1
        return f"{1_790_000_000 + self.loads}.25"

    def load(self, rows: list[dict[str, Any]]) -> str:
        """Write one load as dlt's merge on event_id does: a row again replaces its exact id's."""
        load_id = rows[0]["_dlt_load_id"]
        assert all(r["_dlt_load_id"] == load_id for r in rows)
        marks = ", ".join(["%s"] * len(NAMES))
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
                    tuple(row[n] for n in NAMES),
                )
        for row in rows:
            if row["event_id"] is not None:
                self.raw = [kept for kept in self.raw if kept["event_id"] != row["event_id"]]
            self.raw.append(row)
        return load_id

    def run(self, *args: str) -> DbtRun:
        """A dbt run that must succeed."""
        done = self.build(*args)
        assert done.success, f"dbt {' '.join(args)}: {done.output[-3000:]}"
        return done

    def build(self, *args: str) -> DbtRun:
        """A dbt invocation that may fail (a failing test exits non-zero)."""
        with environment(self.env):
            return self.dbt.invoke(*args)
