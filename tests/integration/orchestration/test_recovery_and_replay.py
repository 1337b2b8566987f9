"""A failed dbt build keeps the load; replay re-admits fixed records exactly once."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Cli
from tests.support.demo import END_DATE, generate
from tests.support.warehouse import dict_rows

pytestmark = [pytest.mark.slow]


@pytest.fixture
def cli_with_loaders(cli_duckdb: Cli, tmp_path: Path) -> Iterator[Cli]:
    """The CLI with the real loaders on a tiny demo (with malformed event lines) and tiny dbt;
    a fixed end date: which lines are malformed, and in which file format, varies by date."""
    from demo.server import running_server

    demo = generate(tmp_path / "demo_data", scale=0.01, end_date=END_DATE, malformed_rate=0.05)
    cli_duckdb.env["DEMO_DIR"] = str(demo)
    with running_server(demo, port=0) as url:
        cli_duckdb.env["DEMO_API_URL"] = url
        yield cli_duckdb


def _count(env: dict[str, str], table: str) -> int:
    return int(dict_rows(env, f"select count(*) as n from {table}")[0]["n"])


def test_failed_dbt_build_keeps_the_load_and_the_next_run_picks_up(
    cli_with_loaders: Cli, tiny_dbt: Path
) -> None:
    env = cli_with_loaders.env
    broken = tiny_dbt / "models" / "broken.sql"
    broken.write_text("select * from no_such_table\n")

    failed = cli_with_loaders("run")

    assert failed.returncode == 1
    assert "FAILED at step dbt_build" in failed.stderr
    orders = _count(env, "raw_shop.orders")
    assert orders > 0  # the load stayed
    steps = dict_rows(env, "select step, status from ops.run_steps order by started_at")
    assert steps == [
        {"step": "ingest", "status": "success"},
        {"step": "dbt_build", "status": "failed"},
    ]

    broken.unlink()
    again = cli_with_loaders("run")

    assert again.returncode == 0, again.stderr[-2000:]
    assert _count(env, "raw_shop.orders") == orders
    (second,) = dict_rows(
        env, "select run_id from ops.runs where status = 'success' order by started_at"
    )
    new_orders = dict_rows(
        env,
        "select rows_new from ops.run_tables where table_name = 'raw_shop.orders' "
        f"and run_id = '{second['run_id']}'",
    )
    assert new_orders == [{"rows_new": 0}]  # nothing loaded twice


def _fix_line(bad: str, good_template: str, number: int, is_csv: bool) -> str:
    """A corrected record: a valid line of the same file with a new unique event id."""
    if is_csv:
        return good_template.replace("{event_id}", f"fixed-{number}")
    record = json.loads(good_template)
    record["event_id"] = f"fixed-{number}"
    return json.dumps(record)


def _fix_files(landing: Path, rejected: dict[str, set[int]]) -> int:
    """Rewrite each rejected line (file -> 1-based line numbers) of the event files as a valid
    record; returns lines fixed. By place, not text: a row refused for a value is kept as JSON."""
    fixed = 0
    for path in sorted(landing.rglob("*")):
        if path.suffix == ".gz":
            lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        elif path.suffix == ".csv":
            lines = path.read_text().splitlines()
        else:
            continue
        is_csv = path.suffix == ".csv"
        places = rejected.get(path.relative_to(landing / "events").as_posix(), set())
        kept = [line for number, line in enumerate(lines, start=1) if number not in places]
        if is_csv:
            header = next(csv.reader([lines[0]]))
            valid = next(row for row in csv.reader(kept[1:]) if len(row) == len(header) and row[0])
            row = dict(zip(header, valid, strict=True))
            row["event_id"] = "{event_id}"
            buffer = io.StringIO()
            csv.DictWriter(buffer, fieldnames=header, lineterminator="").writerow(row)
            template = buffer.getvalue()
        else:
            template = next(line for line in kept if _is_json(line))
        changed = False
        for i, line in enumerate(lines):
            if i + 1 in places:
                fixed += 1
                lines[i] = _fix_line(line, template, fixed, is_csv)
                changed = True
        if changed:
            text = "\n".join(lines) + "\n"
            if is_csv:
                path.write_text(text)
            else:
                path.write_bytes(gzip.compress(text.encode()))
    return fixed


def _is_json(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def test_replay_readmits_fixed_records_exactly_once_and_is_recorded(
    cli_with_loaders: Cli,
) -> None:
    env = cli_with_loaders.env
    first = cli_with_loaders("ingest")
    assert first.returncode == 0, first.stderr[-2000:]
    rejected = dict_rows(env, "select location, position from raw_events.rejected_records")
    assert rejected, "the demo was generated with malformed lines"
    events_before = _count(env, "raw_events.events")
    places: dict[str, set[int]] = {}
    for r in rejected:
        places.setdefault(r["location"], set()).add(r["position"])
    fixed = _fix_files(Path(env["DEMO_DIR"]) / "landing", places)
    assert fixed == len(rejected)

    replay = cli_with_loaders("replay", "--skip-dbt")

    assert replay.returncode == 0, replay.stderr[-2000:]
    assert _count(env, "raw_events.events") == events_before + fixed
    assert _count(env, "raw_events.rejected_records") == 0
    (run,) = dict_rows(env, "select * from ops.runs where command = 'replay'")
    assert run["status"] == "success"
    steps = dict_rows(env, f"select step from ops.run_steps where run_id = '{run['run_id']}'")
    assert steps == [{"step": "replay"}]

    again = cli_with_loaders("replay", "--skip-dbt")

    assert again.returncode == 0, again.stderr[-2000:]
    assert _count(env, "raw_events.events") == events_before + fixed  # admitted once
    assert len(dict_rows(env, "select run_id from ops.runs where command = 'replay'")) == 2
