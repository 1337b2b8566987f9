"""The source-side SQL for a change-data-capture reader with only the rights it needs.

Run on the application database by an administrator (the publication by the tables' owner):
a login with REPLICATION (create, read and advance its slot) and SELECT on the published tables
(the snapshot), nothing else. The loader then finds its publication in place.
"""

from __future__ import annotations


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def reader_sql(role: str, tables: list[tuple[str, str]], publication: str) -> list[str]:
    """``CREATE ROLE`` ... ``CREATE PUBLICATION`` for ``(schema, table)`` pairs; the password
    is set apart (``ALTER ROLE ... PASSWORD``), so it never sits in a script."""
    names = ", ".join(f"{_quoted(s)}.{_quoted(t)}" for s, t in tables)
    schemas = ", ".join(sorted({_quoted(s) for s, _ in tables}))
    return [
        f"create role {_quoted(role)} with login replication",
        f"grant usage on schema {schemas} to {_quoted(role)}",
        f"grant select on {names} to {_quoted(role)}",
        f"create publication {_quoted(publication)} for table {names}",
    ]
