"""Read the declarative source definitions (``ingestion/sources.yml``).

The file lists one entry per source system. ``${VAR:-default}`` expands environment variables
and a string ``secret:<key>`` is resolved through dlt's secrets providers, so credentials stay
in ``.dlt/secrets.toml`` or the environment, never in the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ingestion.identifiers import identifier_problem

DEFAULT_SOURCES_FILE = Path(__file__).with_name("sources.yml")
SOURCE_TYPES = ("rest_api", "sql_database", "filesystem")
_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SECRET_PREFIX = "secret:"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # safe; libyaml when present


class SourceConfigError(ValueError):
    """A source definition is missing, unknown or invalid."""


@dataclass
class SourceConfig:
    """One source system as declared in the sources file."""

    name: str
    type: str
    dataset: str
    demo: bool
    enabled: bool
    settings: dict[str, Any] = field(default_factory=dict)


def sources_file() -> Path:
    """The sources file in use: ``$INGESTION_SOURCES`` or the bundled ``sources.yml``."""
    return Path(os.environ.get("INGESTION_SOURCES") or DEFAULT_SOURCES_FILE)


def expand_env(value: Any) -> Any:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in every string of a nested structure."""
    if isinstance(value, str):
        return _ENV_PATTERN.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, list):
        return [expand_env(v) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v) for k, v in value.items()}
    return value


def resolve_secret(value: Any, default: Any = None) -> Any:
    """Return ``value``, or the dlt secret it names when it is ``secret:<key>``.

    Args:
        value: a configuration value.
        default: returned when the named secret is not set.
    """
    if isinstance(value, str) and value.startswith(SECRET_PREFIX):
        import dlt  # here: reading the sources file must not pay dlt's import (see locking.py)

        key = value[len(SECRET_PREFIX) :]
        found: Any = dlt.secrets.get(key)
        return found if found is not None else default
    return value


def _names(value: Any) -> list[Any]:
    """A key setting as a list of names (``id`` or ``[date, currency]``)."""
    return list(value) if isinstance(value, list) else [value]


def _column_names(columns: Any) -> list[Any]:
    if isinstance(columns, dict):
        return list(columns)
    if isinstance(columns, list):  # dlt also accepts a list of column schemas
        return [c.get("name") if isinstance(c, dict) else c for c in columns]
    return []


def _rest_identifiers(settings: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    defaults = settings.get("resource_defaults") or {}
    for key in ("primary_key", "merge_key"):
        if key in defaults:
            yield from ((f"resource_defaults.{key}", n) for n in _names(defaults[key]))
    for column in _column_names(defaults.get("columns")):
        yield "resource_defaults.columns", column
    for index, resource in enumerate(settings.get("resources") or []):
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
        endpoint = resource.get("endpoint")
        if isinstance(endpoint, dict):
            for field_name in endpoint.get("copy_body_fields") or []:
                yield f"{where}.endpoint.copy_body_fields", field_name


def _sql_identifiers(settings: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    tables = settings.get("tables")
    if not isinstance(tables, dict):
        return
    for table, spec in tables.items():
        yield "tables", table
        spec = spec or {}
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
    walkers = {"rest_api": _rest_identifiers, "sql_database": _sql_identifiers}
    found.extend(walkers.get(kind, _file_identifiers)(settings))
    errors = []
    for key, value in found:
        problem = identifier_problem(value)
        if problem:
            where = f"{name}.{key}" if key else f"source name {name!r}"
            errors.append(f"{where} = {value!r} {problem}")
    return errors


def load(path: Path | None = None) -> dict[str, SourceConfig]:
    """Load and validate every source definition.

    Every name that becomes a schema, table or column is checked (``identifier_errors``)
    before anything connects to the warehouse.

    Raises:
        SourceConfigError: the file is missing or a definition is invalid (names the file,
            the source and the key).
    """
    path = path or sources_file()
    if not path.exists():
        raise SourceConfigError(f"sources file {path} does not exist")
    raw = yaml.load(path.read_text(), Loader=_YAML_LOADER) or {}
    if not isinstance(raw, dict):
        raise SourceConfigError(f"{path}: expected a mapping of source name -> definition")
    configs: dict[str, SourceConfig] = {}
    unsafe: list[str] = []
    for name, body in raw.items():
        if not isinstance(body, dict):
            raise SourceConfigError(f"{path}: source {name!r} must be a mapping")
        body = expand_env(body)
        kind = body.pop("type", None)
        if kind not in SOURCE_TYPES:
            raise SourceConfigError(
                f"{path}: source {name!r} has type {kind!r}; use one of {SOURCE_TYPES}"
            )
        dataset = body.pop("dataset", f"raw_{name}")
        unsafe.extend(identifier_errors(name, kind, dataset, body))
        configs[name] = SourceConfig(
            name=name,
            type=kind,
            dataset=str(dataset),
            demo=bool(body.pop("demo", False)),
            enabled=bool(body.pop("enabled", True)),
            settings=body,
        )
    if unsafe:
        raise SourceConfigError(
            f"{path}: unsafe identifier(s), nothing was run: " + "; ".join(unsafe)
        )
    return configs


def select(configs: dict[str, SourceConfig], names: list[str] | None) -> list[SourceConfig]:
    """The enabled sources, or exactly the named ones (in the given order).

    Raises:
        SourceConfigError: a name is not defined.
    """
    if not names:
        return [c for c in configs.values() if c.enabled]
    unknown = [n for n in names if n not in configs]
    if unknown:
        raise SourceConfigError(f"unknown source(s) {unknown}; defined: {sorted(configs)}")
    return [configs[n] for n in names]
