"""No secret leaves the pipeline: sentinel secrets are counted wherever failing runs leave text.

Every credential is a unique random string (see ``role_world``): the administrator's and the
three roles' PostgreSQL passwords, the shop database's password, the CRM API token, the alert
webhook's URL. The run fails in the ways operators meet (a wrong password, a revoked token, an
unreachable API or database, a failing dbt model, an alert receiver that errors or is down),
each time with the wrong credential itself a fresh sentinel too. Then every place a run writes
is scanned: stdout/stderr, dlt's working folder (state, traces, load packages), dbt's logs and
target folders, the alert bodies, every warehouse table (the ``ops`` ledger, dlt's traces in
``ops.run_sources`` included) and the PostgreSQL server log (which logs every statement).
The successful run is scanned in ``test_roles.py``. The demo API's ``api_token`` file is where
the demo token comes from, by design, and is not scanned.

An API key gets the same scan wherever it travels and whatever the run meets: generated keys
with regex and URL metacharacters, in the URL query, a header or the URL path, read from a file,
a ``secret:`` reference or injected by dlt, on a run that loads, gets 401 or meets an error text
naming the key, at any log level, on PostgreSQL and DuckDB (``api_keys.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from demo.server import running_server
from tests.faults import api_keys
from tests.faults.role_world import ENV_PREFIXES_TO_DROP, World, closed_port, sentinel, world
from tests.support.battery import full_battery, size
from tests.support.env import clean_env

pytestmark = pytest.mark.xdist_group("secrets")

DATABASE = "warehouse"


@dataclass(frozen=True)
class Scenario:
    """A way the run fails, and what in its output shows it failed that way."""

    name: str
    args: tuple[str, ...]
    expect: tuple[str, ...]  # substrings of stderr proving the failure happened as intended
    fast: bool = False
    wrong: dict[str, str] = field(default_factory=dict)  # env var -> sentinel label
    webhook_status: int = 200
    webhook_down: bool = False
    api_down: bool = False
    admin: bool = False  # run warehouse-roles as the administrator instead of the pipeline


ONLY_STG_FX_RATES = ("--select", "stg_fx__rates")
SCENARIOS = (
    Scenario(
        "wrong loader password",
        ("run",),
        ("FAILED at step ledger", "password authentication failed"),
        fast=True,
        wrong={"LOADER_PGPASSWORD": "wrong-loader-password"},
    ),
    Scenario(
        "CRM API answers 401 (wrong token), alert receiver answers 500",
        ("run", "--source", "crm"),
        ("FAILED at step ingest", "401", "alert webhook could not be reached"),
        fast=True,
        wrong={"SOURCES__CRM__TOKEN": "wrong-crm-token"},
        webhook_status=500,
    ),
    Scenario(
        "CRM API unreachable, alert receiver down",
        ("run", "--source", "crm"),
        ("FAILED at step ingest", "alert webhook could not be reached"),
        api_down=True,
        webhook_down=True,
    ),
    Scenario(
        "shop database refuses the password",
        ("run", "--source", "shop"),
        ("FAILED at step ingest", "password authentication failed"),
        wrong={"SOURCES__SHOP__CREDENTIALS": "wrong-shop-password"},
    ),
    Scenario(
        "dbt model fails (its source table is missing)",
        ("run", "--skip-ingest", *ONLY_STG_FX_RATES),
        ("FAILED at step dbt_build", "stg_fx__rates"),
    ),
    Scenario(
        "wrong transformer (dbt) password",
        ("run", "--skip-ingest", *ONLY_STG_FX_RATES),
        ("FAILED at step dbt_build", "password authentication failed"),
        wrong={"DBT_PGPASSWORD": "wrong-transformer-password"},
    ),
    Scenario(
        "warehouse-roles with a wrong administrator password",
        ("warehouse-roles",),
        ("cannot connect", "password authentication failed"),
        wrong={"PGPASSWORD": "wrong-admin-password"},
        admin=True,
    ),
)


@pytest.fixture(scope="session")  # one world per worker, even if xdist interleaves modules
def secrets_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("secrets"), with_sources=True) as w:
        w.new_database(DATABASE)
        setup = w.warehouse_roles(DATABASE)
        assert setup.returncode == 0, setup.stderr
        yield w


def _environment(w: World, scenario: Scenario, folder_name: str) -> dict[str, str]:
    assert w.webhook is not None
    env = w.admin_env(DATABASE) if scenario.admin else w.run_env(DATABASE, w.tmp / folder_name)
    for variable, label in scenario.wrong.items():
        value = sentinel(label)
        w.secrets[label] = value  # scanned from now on
        env[variable] = w.shop_url(value) if variable == "SOURCES__SHOP__CREDENTIALS" else value
    if scenario.api_down:
        env["DEMO_API_URL"] = f"http://127.0.0.1:{closed_port()}"
        env["RUNTIME__REQUEST_MAX_ATTEMPTS"] = "2"
    if scenario.webhook_down:
        env["ORCHESTRATION__ALERT_WEBHOOK_URL"] = (
            f"http://127.0.0.1:{closed_port()}{w.secrets['webhook_path']}"
        )
    w.webhook.status = scenario.webhook_status
    w.webhook.raw.clear()
    return env


@pytest.mark.parametrize(
    "scenario",
    [s for s in SCENARIOS if s.fast or full_battery()],
    ids=lambda s: s.name.split(" (")[0].split(",")[0].replace(" ", "-"),
)
def test_a_failing_run_leaves_no_secret_behind(
    secrets_world: World, scenario: Scenario, figure: Callable[..., object]
) -> None:
    w = secrets_world
    folder = "scenario-" + str(SCENARIOS.index(scenario))
    env = _environment(w, scenario, folder)

    result = w.orchestration(env, *scenario.args, timeout=600)

    found = w.scan(
        DATABASE,
        {"stdout": result.stdout, "stderr": result.stderr},
        [w.tmp / folder] if (w.tmp / folder).exists() else [],
    )
    figure(
        "secrets",
        f"sentinel occurrences: {scenario.name}",
        sum(found.values()),
        "= 0",
        not found,
        warehouse="postgres",
        detail="; ".join(f"{k} x{n}" for k, n in found.items()),
    )
    assert not found, found
    # the run failed the way the scenario says (otherwise the scan proves little)
    assert result.returncode != 0
    for text in scenario.expect:
        assert text in result.stderr, (text, result.stderr[-3000:])
    if not scenario.admin and scenario.webhook_status == 200 and not scenario.webhook_down:
        assert len(w.webhook.raw) == 1, "the failed run posted one alert"


KEY_SCENARIOS = api_keys.scenarios(size(len(api_keys.FIXED), 12))


def _key_env(w: World, scenario: api_keys.KeyScenario, folder: Path) -> dict[str, str]:
    """The run's environment on the scenario's warehouse, no other API credential in it."""
    assert w.webhook is not None
    if scenario.warehouse == "postgres":
        env = w.run_env(DATABASE, folder)
        for name in ("SOURCES__CRM__TOKEN", "SOURCES__SHOP__CREDENTIALS"):
            env.pop(name, None)
    else:
        env = clean_env(*ENV_PREFIXES_TO_DROP) | {
            "WAREHOUSE": "duckdb",
            "DUCKDB_PATH": str(folder / "warehouse.duckdb"),
            "DLT_DATA_DIR": str(folder / "dlt_data"),
            "ORCHESTRATION__RETRIES": "0",
            "ORCHESTRATION__ALERT_WEBHOOK_URL": w.webhook.url + w.secrets["webhook_path"],
        }
    w.webhook.status = 200
    w.webhook.raw.clear()
    return env | {"RUNTIME__LOG_LEVEL": scenario.log_level}


@pytest.mark.parametrize("scenario", KEY_SCENARIOS, ids=lambda s: s.name.replace(" ", "-"))
def test_an_api_key_in_the_url_a_header_or_an_error_text_leaves_no_trace(
    secrets_world: World, scenario: api_keys.KeyScenario, figure: Callable[..., object]
) -> None:
    w = secrets_world
    assert w.demo_dir is not None
    index = KEY_SCENARIOS.index(scenario)
    folder = w.tmp / f"api-key-{index}"
    w.secrets[f"api_key_{index}"] = scenario.key  # scanned from now on
    sources, key_env = api_keys.declare(scenario, folder, w.tmp / f"keys-{index}")
    api = api_keys.api_folder(scenario, w.demo_dir, w.tmp / f"api-{index}")
    with running_server(api, faults=api_keys.faults(scenario), rate_limit=10_000) as url:
        env = _key_env(w, scenario, folder) | key_env
        env |= {"INGESTION_SOURCES": str(sources), "DEMO_API_URL": url}
        result = w.orchestration(env, "run", "--source", "crm", "--skip-dbt", timeout=300)

    texts = {"stdout": result.stdout, "stderr": result.stderr}
    texts["duckdb tables"] = api_keys.duckdb_text(folder / "warehouse.duckdb")
    found = w.scan(DATABASE, texts, [folder])
    figure(
        "secrets",
        f"sentinel occurrences: {scenario.name}",
        sum(found.values()),
        "= 0",
        not found,
        warehouse=scenario.warehouse,
        detail="; ".join(f"{k} x{n}" for k, n in found.items()),
    )
    assert not found, found
    expected = {"loads": 0, "401": 1, "error text": 1}[scenario.outcome]
    assert result.returncode == expected, result.stderr[-3000:]
    proof = {"loads": "succeeded", "401": "401", "error text": "without its data field"}
    output = result.stdout + result.stderr
    assert proof[scenario.outcome] in output, output[-3000:]
    assert len(w.webhook.raw) == expected, "a failed run posts one alert"  # type: ignore[union-attr]


# last: the planted secret stays in the PostgreSQL server log for the rest of the session
def test_the_scanner_finds_a_secret_planted_in_each_kind_of_place(secrets_world: World) -> None:
    import gzip

    w = secrets_world
    token = w.secrets["crm_token"]
    folder = w.tmp / "planted"
    (folder / "dlt_data").mkdir(parents=True)
    (folder / "dlt_data" / "trace.log").write_text(f"Authorization: Bearer {token}")
    (folder / "dlt_data" / "job.jsonl.gz").write_bytes(gzip.compress(token.encode()))
    conn = w.connect(DATABASE)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("create table public.planted (note text)")
            cur.execute("insert into public.planted values (%s)", (f"token={token}",))
        found = w.scan(DATABASE, {"stderr": f"error: {token}"}, [folder])
    finally:
        with conn, conn.cursor() as cur:
            cur.execute("drop table public.planted")
        conn.close()

    assert found == {
        "stderr: crm_token": 1,
        "planted/dlt_data/trace.log: crm_token": 1,
        "planted/dlt_data/job.jsonl.gz: crm_token": 1,
        "warehouse tables: crm_token": 1,
        # the insert above is a statement, and the server logs every statement
        "postgres server log: crm_token": 1,
    }, found
