"""PostgreSQL over TLS: the whole pipeline runs on a server that admits nothing else.

The harness starts a TLS-only server (``pg_server.start(tls=True)``): a throwaway CA signs the
server's certificate (for 127.0.0.1) and the administrator's client certificate, and
``pg_hba.conf`` rejects every connection that is not encrypted or lacks a client certificate
naming its role. The run script then loads the demo (its shop database on the same server, read
by the ``sql_database`` source over TLS too), builds the orders chain with dbt and reports its
status, every tool with ``PGSSLMODE=verify-full`` and each least-privilege role presenting its own
certificate (``LOADER_PGSSLCERT``, ``DBT_PGSSLCERT``). A plain connection, a connection that trusts
another CA and a role presenting another role's certificate are refused, with an error that says
why and shows no secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from demo import pg_server, tls_certs
from demo.server import running_server
from demo.shop import copy_to_postgres
from tests.support.cli import Cli, real_project_cli
from tests.support.demo import generate
from tests.support.env import environment
from tests.support.warehouse import dict_rows, new_database

pytestmark = pytest.mark.xdist_group("tls")

AREA = "encrypted connections"
FAST_SELECTION = "+fct_orders +tag:ops"
SENTINEL_PASSWORD = "tls-sentinel-password-5d1c"
LOADER, TRANSFORMER, READER = "tls_loader", "tls_transformer", "tls_reader"


@pytest.fixture(scope="module")
def tls_server() -> Iterator[pg_server.PostgresServer]:
    """A TLS-only PostgreSQL server with its own throwaway CA."""
    try:
        server = pg_server.start(tls=True, tls_logins=[LOADER, TRANSFORMER, READER])
    except pg_server.PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL is required by this test and could not be started: {exc}")
    yield server
    server.stop()


@pytest.fixture
def tls_cli(tls_server: pg_server.PostgresServer, tmp_path: Path) -> Iterator[Cli]:
    """The run script on a fresh database of the TLS server, the shop database beside it."""
    demo_dir = generate(tmp_path / "demo_data", scale=0.01)
    cli = real_project_cli(tmp_path, demo_dir, "postgres", tls_server)
    shop = new_database(tls_server, "shop")
    assert tls_server.tls is not None
    cert, key = tls_server.tls.clients[tls_server.user]
    tls_query = {
        "sslmode": "verify-full",
        "sslrootcert": str(tls_server.tls.ca_cert),
        "sslcert": str(cert),
        "sslkey": str(key),
    }
    url = (
        f"postgresql+psycopg2://{tls_server.user}@{tls_server.host}:{tls_server.port}"
        f"/{shop['PGDATABASE']}"
    )
    with environment(shop):
        copy_to_postgres(demo_dir, url)
    cli.env["SOURCES__SHOP__CREDENTIALS"] = f"{url}?{urlencode(tls_query)}"
    cli.env["PGPASSWORD"] = SENTINEL_PASSWORD  # unused by the server; must never be printed
    with running_server(demo_dir, port=0) as api:
        cli.env["DEMO_API_URL"] = api
        yield cli


def _role_env(server: pg_server.PostgresServer, loader_cert_of: str = LOADER) -> dict[str, str]:
    """Each role's login and its own client certificate (the administrator's stays in PGSSLCERT)."""
    assert server.tls is not None
    env = {"LOADER_PGUSER": LOADER, "DBT_PGUSER": TRANSFORMER, "READER_PGUSER": READER}
    for prefix, login in (("LOADER_", loader_cert_of), ("DBT_", TRANSFORMER)):
        cert, key = server.tls.clients[login]
        env.update({f"{prefix}PGSSLCERT": str(cert), f"{prefix}PGSSLKEY": str(key)})
    for variable in ("LOADER_PGPASSWORD", "DBT_PGPASSWORD", "READER_PGPASSWORD"):
        env[variable] = SENTINEL_PASSWORD  # cert logins ignore it; it must never be printed
    return env


def test_the_pipeline_runs_over_verified_tls_each_role_with_its_own_certificate(
    tls_cli: Cli, tls_server: pg_server.PostgresServer, figure: Callable[..., object]
) -> None:
    started = time.monotonic()
    roles = tls_cli("warehouse-roles", **_role_env(tls_server))
    assert roles.returncode == 0, roles.stdout[-3000:] + roles.stderr[-3000:]
    tls_cli.env.update(_role_env(tls_server))
    run = tls_cli("run", "--select", FAST_SELECTION, DBT_INDIRECT_SELECTION="cautious")
    status = tls_cli("status")
    elapsed = time.monotonic() - started
    passed = run.returncode == 0 and status.returncode == 0
    figure(AREA, "load + dbt build + status over TLS (verify-full, a certificate per role)",
           "passes" if passed else "fails", "passes", passed, warehouse="postgres",
           detail=f"{elapsed:.0f} s; dbt --select {FAST_SELECTION}")  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert status.returncode == 0, status.stderr[-3000:]
    assert "succeeded" in status.stdout or "success" in status.stdout, status.stdout[-2000:]

    owners = {
        f"{r['schemaname']}.{r['tablename']}": r["tableowner"]
        for r in dict_rows(tls_cli.env, "select schemaname, tablename, tableowner from pg_tables")
    }
    assert owners["raw_shop.orders"] == LOADER  # the loader's certificate logged the loader in
    assert owners["marts.fct_orders"] == TRANSFORMER  # and dbt's logged dbt's role in
    orders = dict_rows(tls_cli.env, "select count(*) as n from marts.fct_orders")[0]["n"]
    tls = dict_rows(
        tls_cli.env,
        "select ssl, version from pg_stat_ssl where pid = pg_backend_pid()",
    )[0]
    assert orders > 0
    assert tls["ssl"] is True and str(tls["version"]).startswith("TLSv1.")
    for out in (roles.stdout, roles.stderr, run.stdout, run.stderr, status.stdout, status.stderr):
        assert SENTINEL_PASSWORD not in out

    swapped = tls_cli(
        "ingest", "--source", "fx", **_role_env(tls_server, loader_cert_of=TRANSFORMER)
    )
    output = " ".join((swapped.stdout + swapped.stderr).split())
    reason = f'authentication failed for user "{LOADER}"'  # clientcert=verify-full: CN != role
    refused = swapped.returncode != 0 and reason in output
    figure(AREA, "a role presenting another role's certificate refused", refused, "True",
           refused, warehouse="postgres", detail=reason)  # fmt: skip
    assert refused, output[-3000:]
    assert SENTINEL_PASSWORD not in output


@pytest.mark.parametrize(
    ("case", "settings", "reason"),
    [
        ("plain connection", {"PGSSLMODE": "disable"}, "no encryption"),
        ("server signed by another CA", {"PGSSLROOTCERT": "OTHER_CA"}, "certificate verify failed"),
    ],
)
def test_a_connection_without_verified_tls_is_refused_with_a_clear_error(
    tls_server: pg_server.PostgresServer,
    tmp_path: Path,
    figure: Callable[..., object],
    case: str,
    settings: dict[str, str],
    reason: str,
) -> None:
    cli = real_project_cli(tmp_path, tmp_path / "no_demo", "postgres", tls_server)
    cli.env["PGPASSWORD"] = SENTINEL_PASSWORD
    if settings.get("PGSSLROOTCERT") == "OTHER_CA":
        other = tls_certs.make(tmp_path / "other_ca", [], ca_name="another CA")
        settings = {"PGSSLROOTCERT": str(other.ca_cert)}

    status = cli("status", **settings)
    output = " ".join((status.stdout + status.stderr).split())  # the console wraps lines
    refused = status.returncode != 0 and reason in output and SENTINEL_PASSWORD not in output
    figure(AREA, f"{case} refused with a clear error", refused, "True", refused,
           warehouse="postgres", detail=reason)  # fmt: skip
    assert status.returncode != 0, output[-2000:]
    assert reason in output, output[-2000:]
    assert SENTINEL_PASSWORD not in output
