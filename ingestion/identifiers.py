"""Which names from configuration may become schema, table or column names in the warehouse.

A name is accepted only when it is already in dlt's normalised form (``snake_case`` naming:
lower-case ASCII letters, digits and ``_``, not starting with a digit), fits PostgreSQL's 63-byte
limit and is not a reserved SQL word. Then the name in the configuration is exactly the name in
the warehouse, and every SQL statement that uses it (dlt's, the runner's, dbt's sources) reads
the same object without quoting. Anything else is refused before any SQL runs: a quote or ``;``
could change a statement, and a name dlt would silently rewrite (``Order ID`` -> ``order_id``)
would make the configuration and the warehouse disagree.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

MAX_BYTES = 63  # PostgreSQL truncates longer names (NAMEDATALEN - 1)
_SAFE = re.compile(r"[a-z_][a-z0-9_]*")
# Words of letters and digits joined by single `_`, parts joined by dlt's path separator `__`:
# dlt's snake_case leaves such a name as it is, so it needs no dlt import (which costs ~1 s and
# would delay the run lock, see locking.py).
_PART = r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*"
_PLAIN = re.compile(rf"{_PART}(?:__{_PART})*")


@cache
def _naming() -> Any:
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return NamingConvention()


# Reserved words of PostgreSQL 15 (pg_get_keywords(), catcode 'R') and DuckDB
# (duckdb_keywords(), category 'reserved'); tests/faults/test_identifiers.py checks this list
# against both engines.
RESERVED_WORDS = frozenset(
    """
    all analyse analyze and any array as asc asymmetric both case cast check collate column
    constraint create current_catalog current_date current_role current_time current_timestamp
    current_user default deferrable desc describe distinct do else end except false fetch for
    foreign from grant group having in initially intersect into lambda lateral leading limit
    localtime localtimestamp not null offset on only or order pivot pivot_longer pivot_wider
    placing primary qualify references returning select session_user show some summarize
    symmetric table then to trailing true union unique unpivot user using variadic when where
    window with
    """.split()  # noqa: SIM905 - a word list reads better than 80 quoted strings
)


def identifier_problem(name: object) -> str | None:
    """Why ``name`` cannot be used as a warehouse identifier, or None when it can.

    Args:
        name: a schema, table or column name as written in the configuration.
    """
    if not isinstance(name, str):
        return f"must be a string, not {type(name).__name__}"
    if not name:
        return "is empty"
    size = len(name.encode("utf-8"))
    if size > MAX_BYTES:
        return f"is {size} bytes long; at most {MAX_BYTES} (PostgreSQL's limit)"
    if not _SAFE.fullmatch(name):
        suggestion = _naming().normalize_path(name)
        return (
            "may only hold lower-case ASCII letters, digits and _ and must not start with a digit"
            f" (dlt would store it as {suggestion!r}; write that name instead)"
        )
    if name.lower() in RESERVED_WORDS:
        return "is a reserved SQL word; choose another name"
    if _PLAIN.fullmatch(name):
        return None
    normalised = _naming().normalize_path(name)
    if normalised != name:
        return f"is not in dlt's normalised form (dlt would store it as {normalised!r})"
    return None
