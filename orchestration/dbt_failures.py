"""Which dbt failures can succeed on retry: the network, a lock, a killed connection.

A retry runs the same SQL from the same project, so a compilation, parsing or dependency error,
an error in a model's own SQL and a failed test fail the same way again. What changes between
attempts is the outside world: a server that was down or restarting, a lock another process
held, a connection the server killed. dbt reports those as exceptions (``FailedToConnectError``,
DuckDB's ``IOException``) or as node errors whose message carries the driver's text; both are
recognised by that text. Anything not recognised is not retried.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# The driver's words for a failure of the outside world, by kind (DuckDB, psycopg2, PostgreSQL).
TRANSIENT: dict[str, re.Pattern[str]] = {
    "connection": re.compile(
        r"connection refused|could not connect to server|timeout expired|timed out"
        r"|connection reset|network is unreachable|no route to host"
        r"|could not translate host name|temporary failure in name resolution"
        r"|the database system is (starting up|shutting down|in recovery mode|not yet accepting)"
        r"|too many (connections|clients)|remaining connection slots are reserved"
        r"|ssl syscall error|eof detected",
        re.IGNORECASE,
    ),
    "lock": re.compile(
        r"could not set lock|conflicting lock|database is locked|lock timeout"
        r"|could not obtain lock|deadlock detected|could not serialize access",
        re.IGNORECASE,
    ),
    "killed connection": re.compile(
        r"server closed the connection unexpectedly|terminating connection"
        r"|connection already closed|crash of another server process"
        r"|server process .* was terminated|interrupted",
        re.IGNORECASE,
    ),
}
# dbt's node statuses of a failure; ``fail`` is a test that ran and found rows
NODE_ERROR = {"error", "runtime error"}
TEST_FAIL = {"fail"}


def transient_kind(text: str | None) -> str | None:
    """The kind of outside failure ``text`` describes (``connection``, ``lock``,
    ``killed connection``), or None when a retry would fail the same way."""
    if not text:
        return None
    for kind, pattern in TRANSIENT.items():
        if pattern.search(text):
            return kind
    return None


def retry_can_help(exceptions: Iterable[str], failures: Iterable[tuple[str, str | None]]) -> bool:
    """Whether a failed build is worth another attempt: it failed, and every failure is
    transient.

    Args:
        exceptions: the texts of the exceptions dbt raised (it ran no node then).
        failures: ``(status, message)`` of each node that errored or failed.
    """
    raised, found = list(exceptions), list(failures)
    if not raised and not found:
        return False
    return all(transient_kind(text) is not None for text in raised) and all(
        status in NODE_ERROR and transient_kind(message) is not None for status, message in found
    )
