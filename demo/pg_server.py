"""Start a throwaway PostgreSQL server on 127.0.0.1: the demo's database server.

The tests and the benchmark start one each (``start()``) and stop it at the end.

``initdb`` into a temp dir, a free port, trust auth on loopback only, stopped at the end.
``wal_level=logical``: a ``postgres_cdc`` source can read the server's changes (replication
connections from 127.0.0.1 are admitted like any other).
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` OS user.
``start(tls=True)`` serves TLS only: a throwaway CA (``demo.tls_certs``) signs the server's and
the administrator's certificates, and ``pg_hba.conf`` admits only ``hostssl`` connections that
present a client certificate naming their role; plain connections are rejected.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from demo import tls_certs

# a TLS-only server: encrypted connections with a verified client certificate, nothing else
TLS_HBA = """\
hostssl all all 127.0.0.1/32 trust clientcert=verify-full
hostnossl all all 0.0.0.0/0 reject
"""


class PostgresUnavailable(RuntimeError):
    """PostgreSQL server binaries are missing or the server did not start."""


def bindir() -> Path:
    """Directory holding initdb/pg_ctl (``pg_config --bindir``)."""
    pg_config = shutil.which("pg_config")
    candidates = []
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found. Install them with "
        "`apt-get update && apt-get install -y postgresql` or run `make system-deps`."
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    datadir: Path
    _as_user: list[str]
    _bindir: Path
    tls: tls_certs.TlsFiles | None = None

    def env(self, database: str) -> dict[str, str]:
        """libpq variables pointing at ``database`` on this server (TLS ones if it has TLS)."""
        env = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": "",
            "PGDATABASE": database,
        }
        if self.tls is not None:
            env.update(self.tls.client_env(self.user))
        return env

    def connect_args(self, database: str) -> dict[str, str]:
        """psycopg2 keyword arguments for the administrator on ``database``."""
        args = {"host": self.host, "port": str(self.port), "user": self.user, "dbname": database}
        if self.tls is not None:
            cert, key = self.tls.clients[self.user]
            args.update(sslmode="verify-full", sslrootcert=str(self.tls.ca_cert))
            args.update(sslcert=str(cert), sslkey=str(key))
        return args

    def crash(self) -> None:
        """Stop the server abruptly (``pg_ctl -m immediate``): no checkpoint, crash recovery
        on the next start, as after a killed server process."""
        self._pg_ctl("-m", "immediate", "-w", "stop")

    def start_again(self) -> None:
        """Start the stopped server again with the same data dir, port and options."""
        log = self.datadir.parent / "server.log"
        started = self._pg_ctl("-l", str(log), "-w", "-t", "60", "restart")
        if started.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl restart failed: {started.stderr.strip()}")

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as_user, str(self._bindir / "pg_ctl"), "-D", str(self.datadir), *args],
            capture_output=True,
            text=True,
        )

    def stop(self) -> None:
        subprocess.run(
            [
                *self._as_user,
                str(self._bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start(tls: bool = False, tls_logins: Sequence[str] = ()) -> PostgresServer:
    """Initialise and start a server; raise PostgresUnavailable with the reason if it fails.

    Args:
        tls: serve TLS only (a throwaway CA, client certificates required; module docstring).
        tls_logins: more logins (roles) to give a client certificate, beside the administrator.
    """
    bins = bindir()
    root = Path(tempfile.mkdtemp(prefix="ca-pg-"))
    datadir = root / "data"
    as_user: list[str] = []
    user = os.environ.get("USER") or "postgres"
    if os.geteuid() == 0:
        user = "postgres"
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, user="postgres")
        os.chmod(root, 0o700)
    run = lambda args: subprocess.run(  # noqa: E731
        [*as_user, *args], capture_output=True, text=True
    )
    init = run(
        [
            str(bins / "initdb"),
            "-D",
            str(datadir),
            "-U",
            user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]
    )
    if init.returncode != 0:
        raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()}")
    port = free_port()
    opts = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c wal_recycle=off "
        "-c max_connections=200 -c shared_buffers=256MB "
        # logical decoding for the postgres_cdc sources; initdb's pg_hba admits replication
        # connections from 127.0.0.1 (trust, as every other connection here)
        "-c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20"
    )
    files = _tls_files(root, datadir, [user, *tls_logins], bool(as_user)) if tls else None
    if files is not None:
        opts += (
            f" -c ssl=on -c ssl_cert_file={files.server_cert} -c ssl_key_file={files.server_key}"
            f" -c ssl_ca_file={files.ca_cert}"
        )
    started = run(
        [
            str(bins / "pg_ctl"),
            "-D",
            str(datadir),
            "-o",
            opts,
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        ]
    )
    if started.returncode != 0:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        raise PostgresUnavailable(f"pg_ctl start failed: {started.stderr.strip()} {log[-2000:]}")
    server = PostgresServer("127.0.0.1", port, user, datadir, as_user, bins, files)
    deadline = time.time() + 30
    while time.time() < deadline:
        if run([str(bins / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)]).returncode == 0:
            return server
        time.sleep(0.2)
    server.stop()
    raise PostgresUnavailable("PostgreSQL did not become ready within 30 s")


def _tls_files(
    root: Path, datadir: Path, logins: list[str], as_other_user: bool
) -> tls_certs.TlsFiles:
    """Write the CA and the pairs, hand the server's key to the server's user, admit only TLS."""
    user = logins[0]
    files = tls_certs.make(root / "tls", logins)
    if as_other_user:
        shutil.chown(files.server_key, user=user)
        shutil.chown(files.server_cert, user=user)
    (datadir / "pg_hba.conf").write_text(TLS_HBA)
    if as_other_user:
        shutil.chown(datadir / "pg_hba.conf", user=user)
    return files


def create_database(server: PostgresServer, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(**server.connect_args("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'drop database if exists "{name}" with (force)')
        cur.execute(f'create database "{name}"')
    conn.close()
