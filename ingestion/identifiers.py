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
from collections.abc import Iterator
from functools import cache
from typing import Any

MAX_BYTES = 63  # PostgreSQL truncates longer names (NAMEDATALEN - 1)
_SAFE = re.compile(r"[a-z_][a-z0-9_]*")
# plain snake_case names, which dlt leaves as they are: checked without importing dlt
_PART = r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*"
_PLAIN = re.compile(rf"{_PART}(?:__{_PART})*")


@cache
def _naming() -> Any:
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return NamingConvention()


# reserved in PostgreSQL 15 or DuckDB (tests/faults/test_identifiers.py checks both engines)
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


# ---------------------------------------------------------------- names in a source definition


def _names(value: Any) -> list[Any]:
    """A key setting as a list of names (``id`` or ``[date, currency]``)."""
    return list(value) if isinstance(value, list) else [value]


def _column_names(columns: Any) -> list[Any]:
    if isinstance(columns, dict):
        return list(columns)
    if isinstance(columns, list):  # dlt also accepts a list of column schemas
        return [c.get("name") if isinstance(c, dict) else c for c in columns]
    return []


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _rest_identifiers(settings: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    defaults = _mapping(settings.get("resource_defaults"))
    for key in ("primary_key", "merge_key"):
        if key in defaults:
            yield from ((f"resource_defaults.{key}", n) for n in _names(defaults[key]))
    for column in _column_names(defaults.get("columns")):
        yield "resource_defaults.columns", column
    resources = settings.get("resources")
    for index, resource in enumerate(resources if isinstance(resources, list) else []):
        where = f"resources[{index}]"
        if not isinstance(resource, dict):
            yield where, resource
            continue
        yield f"{where}.name", resource.get("name")
        if "table_name" in resource:
            yield f"{where}.table_name", resource["table_name"]
        for key in ("primary_key", "merge_key"):
            if key in resource:
                yield from ((f"{where}.{key}", n) for n in _names(resource[key]))
        for column in _column_names(resource.get("columns")):
            yield f"{where}.columns", column
        copied = _mapping(resource.get("endpoint")).get("copy_body_fields")
        for field_name in copied if isinstance(copied, list) else []:
            yield f"{where}.endpoint.copy_body_fields", field_name


def _sql_identifiers(settings: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for table, spec in _mapping(settings.get("tables")).items():
        yield "tables", table
        spec = _mapping(spec)
        for key in ("primary_key", "cursor", "schema", "resource_name"):
            if spec.get(key) is not None:
                yield from ((f"tables.{table}.{key}", n) for n in _names(spec[key]))


def _file_identifiers(settings: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for key in ("table", "primary_key", "required"):
        if settings.get(key) is not None:
            yield from ((key, n) for n in _names(settings[key]))
    for column in _column_names(settings.get("columns")):
        yield "columns", column


def identifier_errors(name: Any, kind: str, dataset: Any, settings: dict[str, Any]) -> list[str]:
    """Every name in one source definition that cannot be a warehouse identifier.

    Pure: reads only its arguments. Names that reach SQL as schema, table or column names are
    checked (the source name, ``dataset``, tables/resources, keys, cursors, declared columns);
    paths, URLs and JSON paths are not identifiers and are left alone.

    Returns:
        One ``<source>.<key> = <value>: <problem>`` line per bad name.
    """
    found: list[tuple[str, Any]] = [("", name), ("dataset", dataset)]
    walkers = {
        "rest_api": _rest_identifiers,
        "sql_database": _sql_identifiers,
        "postgres_cdc": _sql_identifiers,
    }
    found.extend(walkers.get(kind, _file_identifiers)(settings))
    errors = []
    for key, value in found:
        problem = identifier_problem(value)
        if problem:
            where = f"{name}.{key}" if key else f"source name {name!r}"
            errors.append(f"{where} = {value!r} {problem}")
    return errors


def personal_identifier_errors(name: Any, personal: Any) -> list[str]:
    """Every name under a source's ``personal_data`` that cannot be a warehouse identifier."""
    if not isinstance(personal, dict):
        return []
    found: list[tuple[str, Any]] = []
    for table, declared in personal.items():
        found.append(("personal_data", table))
        if not isinstance(declared, dict):
            continue
        for key in ("customer_id", "email"):
            if isinstance(declared.get(key), str):
                found.append((f"personal_data.{table}.{key}", declared[key]))
        for key in ("redact", "nested"):
            columns = declared.get(key)
            if isinstance(columns, list):
                found.extend((f"personal_data.{table}.{key}", c) for c in columns)
    errors = []
    for key, value in found:
        problem = identifier_problem(value)
        if problem:
            errors.append(f"{name}.{key} = {value!r} {problem}")
    return errors
