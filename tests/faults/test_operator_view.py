"""The operator sees the truth: `status` names what failed in the last run, freshness counts only
loads that landed rows, and on DuckDB a command started while a run holds the warehouse is
refused with exit 3 (or, for `status`, answered from the last finished run) instead of failing
on DuckDB's file lock.

Everything goes through the real CLIs against a real demo API, a real dbt project (a copy of
this one with one broken model and one failing test added) and both warehouses.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from demo.server import running_server
from ingestion import warehouse
from orchestration import settings
from orchestration.lock import run_lock
from tests.support.cli import Cli, real_project_cli
from tests.support.demo import generate
from tests.support.paths import REPO_ROOT
from tests.support.warehouse import dict_rows

AREA = "operator view"
BROKEN_MODEL = "select * from no_such_table_anywhere\n"
FAILING_TEST = "select 1 as always_one\n"  # a singular test fails when it returns rows

WAREHOUSES = [
    pytest.param("duckdb", marks=pytest.mark.xdist_group("operator_duckdb")),
    pytest.param("postgres", marks=pytest.mark.xdist_group("operator_postgres")),
]


@dataclass
class World:
    """A demo, its API, a copy of the dbt project with a broken model, and the CLI."""

    cli: Cli
    demo_dir: Path
    kind: str

    def ingest(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ingestion", "--quiet", *args],
            cwd=REPO_ROOT,
            env={**self.cli.env, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )


def _broken_project(tmp: Path) -> Path:
    """This dbt project, copied, plus a model that errors and a test that fails."""
    project = tmp / "project"
    project.mkdir()
    shutil.copy(REPO_ROOT / "dbt_project.yml", project / "dbt_project.yml")
    shutil.copytree(REPO_ROOT / "dbt_project", project / "dbt_project")
    broken = project / "dbt_project" / "models" / "intermediate" / "int_broken_joined.sql"
    broken.write_text(BROKEN_MODEL)
    (project / "dbt_project" / "data-tests" / "always_fails.sql").write_text(FAILING_TEST)
    return project


@pytest.fixture(params=WAREHOUSES)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    demo_dir = generate(tmp_path / "demo_data", scale=0.01)
    server = request.getfixturevalue("postgres") if request.param == "postgres" else None
    cli = real_project_cli(tmp_path, demo_dir, request.param, server)
    cli.env["DBT_PROJECT_DIR"] = str(_broken_project(tmp_path))
    with running_server(demo_dir, port=0) as url:
        cli.env["DEMO_API_URL"] = url
        yield World(cli, demo_dir, request.param)


def _problems(status_out: str) -> str:
    return status_out.split("Problems of the last run", 1)[-1]


def _freshness(env: dict[str, str]) -> dict[str, dict[str, object]]:
    rows = dict_rows(env, "select * from ops.ops_source_status")
    return {str(r["source_dataset"]): r for r in rows}


def test_status_names_the_failed_model_test_and_source_and_freshness_counts_only_data(
    world: World, figure: Callable[..., object], tmp_path: Path
) -> None:
    run = world.cli("run", timeout=900)
    assert run.returncode == 1, run.stderr[-3000:]  # a model errored and a test failed
    status = world.cli("status")
    problems = _problems(status.stdout)
    named = {
        "the errored model": re.search(r"model\s+│ int_broken_joined\s+│ error", problems),
        "its error": "no_such_table_anywhere" in problems,
        "the failed test": re.search(r"test\s+│ always_fails\s+│ fail", problems),
        "the failed step": re.search(r"step\s+│ dbt_build\s+│ failed", problems),
    }
    for what, found in named.items():
        figure(AREA, f"status names {what} of the last run", bool(found), "True", bool(found),
               world.kind)  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert all(named.values()), status.stdout[-4000:]
    before = _freshness(world.cli.env)

    # an FX endpoint that answers 404: the source fails; events find nothing new
    sources = yaml.safe_load((REPO_ROOT / "ingestion" / "sources.yml").read_text())
    sources["fx"]["resources"][0]["endpoint"]["path"] = "no_such_rates"
    (tmp_path / "sources.yml").write_text(yaml.safe_dump(sources))
    failed = world.ingest(INGESTION_SOURCES=str(tmp_path / "sources.yml"))
    assert failed.returncode == 1, failed.stderr[-2000:]
    status = world.cli("status")
    problems = _problems(status.stdout)
    fx_named = bool(re.search(r"source\s+│ fx\s+│ failed\s+│ source 'fx' failed", problems))
    figure(AREA, "status names the failed source with its error", fx_named, "True", fx_named,
           world.kind)  # fmt: skip
    assert fx_named, status.stdout[-4000:]
    after = _freshness(world.cli.env)
    events_fresh = (
        after["raw_events"]["last_data_loaded_at"] == before["raw_events"]["last_data_loaded_at"]
        and after["raw_events"]["last_attempted_at"] != before["raw_events"]["last_attempted_at"]
    )
    figure(AREA, "an empty load leaves freshness where data last landed", events_fresh, "True",
           events_fresh, world.kind)  # fmt: skip
    assert events_fresh, (before["raw_events"], after["raw_events"])
    assert after["raw_fx"]["last_run_status"] == "failed"
    assert "no_such_rates" in str(after["raw_fx"]["last_error"])
    assert after["raw_fx"]["last_data_loaded_at"] == before["raw_fx"]["last_data_loaded_at"]


COMMANDS = {
    "python -m orchestration run": [sys.executable, "-m", "orchestration", "run"],
    "python -m orchestration build": [sys.executable, "-m", "orchestration", "build"],
    "python -m orchestration ingest": [sys.executable, "-m", "orchestration", "ingest"],
    "python -m ingestion": [sys.executable, "-m", "ingestion", "--quiet"],
    "python -m orchestration report": [
        sys.executable, "-m", "orchestration", "report", "--out", "/dev/null"
    ],
}  # fmt: skip


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_commands_started_while_a_run_holds_the_warehouse_are_refused_and_status_answers(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, figure: Callable[..., object]
) -> None:
    demo_dir = generate(tmp_path / "demo_data", scale=0.01)
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    cli = real_project_cli(tmp_path, demo_dir, kind, server)
    with running_server(demo_dir, port=0) as url:
        cli.env["DEMO_API_URL"] = url
        assert cli("ingest").returncode == 0
    env = cli.env
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        wh = warehouse.current(warehouse.LOADER)
        # what a running load holds: the run lock and, on DuckDB, the warehouse file
        with run_lock(wh, settings.lock_path(wh.duckdb_path), "holder-run", "run"):
            conn = warehouse.connect(wh)
            try:
                codes = {
                    name: subprocess.run(
                        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
                    )
                    for name, argv in COMMANDS.items()
                }
                status = cli("status")
            finally:
                conn.close()
    for name, done in codes.items():
        expected = 3 if (kind == "duckdb" or "report" not in name) else 0
        figure(AREA, f"{name} while a run holds the warehouse: exit code", done.returncode,
               f"= {expected}", done.returncode == expected, kind)  # fmt: skip
        assert done.returncode == expected, (name, done.stderr[-2000:])
        assert "IOException" not in done.stderr and "IO Error" not in done.stderr, name
    expected_text = "the warehouse is busy: run holder-run (run)" if kind == "duckdb" else "ops"
    answered = status.returncode == 0 and expected_text in status.stdout
    figure(AREA, "status while a run holds the warehouse answers", answered, "True", answered,
           kind)  # fmt: skip
    assert answered, status.stdout + status.stderr


def test_file_names_with_console_markup_do_not_break_the_clis(
    tmp_path: Path, figure: Callable[..., object]
) -> None:
    demo_dir = generate(tmp_path / "demo_data", scale=0.01)
    cli = real_project_cli(tmp_path, demo_dir, "duckdb", None)
    day = next((demo_dir / "landing" / "events").glob("date=*"))
    # folders "[" and "[b]x[" make the paths ".../[/]evil[red].csv" and ".../[b]x[/]y.jsonl"
    for folder, name in (("[", "]evil[red].csv"), ("[b]x[", "]y.jsonl")):
        (day / folder).mkdir()
        text = (
            "event_id,occurred_at\n[/],[/]\n"
            if name.endswith(".csv")
            else ('{"event_id": "[red]", "occurred_at": "no [b]time"}\n')
        )
        (day / folder / name).write_text(text)
    with running_server(demo_dir, port=0) as url:
        cli.env["DEMO_API_URL"] = url
        loaded = subprocess.run(
            [sys.executable, "-m", "ingestion"],  # the progress display too
            cwd=REPO_ROOT, env=cli.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    status = cli("status")
    rejected = dict_rows(
        cli.env, "select location from raw_events.rejected_records where location like '%[%'"
    )
    ok = (loaded.returncode, status.returncode, len(rejected)) == (0, 0, 2)
    figure(AREA, "console markup in file names: CLIs exit 0, both files recorded", ok, "True",
           ok)  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert "MarkupError" not in loaded.stderr + status.stderr
    assert len(rejected) == 2, rejected
    assert status.returncode == 0, status.stderr[-2000:]
    assert all("[/]" in str(row["location"]) for row in rejected), rejected

    # an error that names a path with markup in it: printed as it is, the CLI does not crash
    sources = yaml.safe_load((REPO_ROOT / "ingestion" / "sources.yml").read_text())
    missing = tmp_path / "[b]x[" / "]no-such-landing"
    sources["events"]["bucket_url"] = str(missing)
    (tmp_path / "sources.yml").write_text(yaml.safe_dump(sources))
    failed = subprocess.run(
        [sys.executable, "-m", "ingestion", "--source", "events"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env={**cli.env, "INGESTION_SOURCES": str(tmp_path / "sources.yml")},
    )  # fmt: skip
    named = failed.returncode == 1 and "[b]x[/]no-such-landing" in failed.stderr
    figure(AREA, "an error naming a path with console markup is printed as it is", named,
           "True", named)  # fmt: skip
    assert named, failed.stderr[-3000:]
    assert "MarkupError" not in failed.stderr
