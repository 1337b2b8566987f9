"""PostgreSQL over TLS: the libpq variables every tool forwards to its connection.

libpq's own variables name the settings: ``PGSSLMODE`` (``verify-full`` checks the server's
certificate and host name), ``PGSSLROOTCERT`` (the CA that signed the server's certificate),
``PGSSLCERT``/``PGSSLKEY`` (a client certificate). The client certificate is a login's, so each
role may have its own: ``LOADER_PGSSLCERT``/``LOADER_PGSSLKEY`` and ``DBT_PGSSLCERT``/
``DBT_PGSSLKEY`` fall back to the plain variables on their own. The values are passed on
explicitly (psycopg2 keyword arguments, the query of dlt's connection URL, dbt's profile), so every
driver of every tool (psycopg2, dlt's ADBC Parquet path, dbt) gets the same settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# libpq parameter -> its environment variable
TLS_VARIABLES = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
}
# settings that belong to one login, so a role's own variable may override them
PER_LOGIN = ("sslcert", "sslkey")


def settings(prefix: str = "", env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The TLS parameters set in ``env`` (default: this process's environment).

    Args:
        prefix: a role's variable prefix (``LOADER_``, ``DBT_``) for its own client certificate.
        env: the variables to read.
    """
    env = os.environ if env is None else env
    found = {}
    for param, variable in TLS_VARIABLES.items():
        value = None
        if prefix and param in PER_LOGIN:
            value = env.get(prefix + variable)
        if value is None:
            value = env.get(variable)
        if value:
            found[param] = value
    return found


def describe(params: dict[str, str]) -> str:
    """A short, secret-free note of the connection's TLS mode (empty when nothing is set)."""
    mode = params.get("sslmode")
    return f" (sslmode={mode})" if mode else ""
