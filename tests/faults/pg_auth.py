"""A throwaway PostgreSQL server that checks passwords (the shared test server trusts everyone).

Least-privilege and secrets tests need a server where a wrong password is refused and a role
logs in only with its own: `demo.pg_server.start()`, then the administrator gets a password
and TCP connections switch to SCRAM. The server logs every statement (``log_statement = all``)
to ``server_log(server)``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

from demo import pg_server
from tests.support.warehouse import connect

HBA = "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"


@contextmanager
def password_server(admin_password: str) -> Iterator[pg_server.PostgresServer]:
    """Start a server whose administrator logs in over TCP with ``admin_password`` only."""
    server = pg_server.start()
    try:
        conn = connect(server.env("postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("set password_encryption = 'scram-sha-256'")
            verifier = psycopg2.extensions.encrypt_password(admin_password, server.user, conn)
            cur.execute(f'alter role "{server.user}" password %s', (verifier,))
            # every statement goes to the server log, which the secrets tests scan too
            cur.execute("alter system set log_statement = 'all'")
        conn.close()
        (server.datadir / "pg_hba.conf").write_text(HBA)
        subprocess.run(
            [*server._as_user, str(server._bindir / "pg_ctl"), "-D", str(server.datadir), "reload"],
            check=True,
            capture_output=True,
        )
        yield server
    finally:
        server.stop()


def create_database(server: pg_server.PostgresServer, admin_password: str, name: str) -> None:
    """A fresh database on a password server."""
    conn = connect({**server.env("postgres"), "PGPASSWORD": admin_password})
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'drop database if exists "{name}" with (force)')
        cur.execute(f'create database "{name}"')
    conn.close()


def server_log(server: pg_server.PostgresServer) -> Path:
    """The server's log file (``pg_ctl -l``)."""
    return server.datadir.parent / "server.log"
