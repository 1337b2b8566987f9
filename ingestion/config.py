"""Read the declarative source definitions (``ingestion/sources.yml``).

The file lists one entry per source system. ``${VAR:-default}`` expands environment variables
and a string ``secret:<key>`` is resolved through dlt's secrets providers, so credentials stay
in ``.dlt/secrets.toml`` or the environment, never in the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import yaml

DEFAULT_SOURCES_FILE = Path(__file__).with_name("sources.yml")
SOURCE_TYPES = ("rest_api", "sql_database", "filesystem")
_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SECRET_PREFIX = "secret:"


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
        key = value[len(SECRET_PREFIX) :]
        found: Any = dlt.secrets.get(key)
        return found if found is not None else default
    return value


def load(path: Path | None = None) -> dict[str, SourceConfig]:
    """Load and validate every source definition.

    Raises:
        SourceConfigError: the file is missing or a definition is invalid (names the source).
    """
    path = path or sources_file()
    if not path.exists():
        raise SourceConfigError(f"sources file {path} does not exist")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise SourceConfigError(f"{path}: expected a mapping of source name -> definition")
    configs: dict[str, SourceConfig] = {}
    for name, body in raw.items():
        if not isinstance(body, dict):
            raise SourceConfigError(f"{path}: source {name!r} must be a mapping")
        body = expand_env(body)
        kind = body.pop("type", None)
        if kind not in SOURCE_TYPES:
            raise SourceConfigError(
                f"{path}: source {name!r} has type {kind!r}; use one of {SOURCE_TYPES}"
            )
        configs[name] = SourceConfig(
            name=name,
            type=kind,
            dataset=str(body.pop("dataset", f"raw_{name}")),
            demo=bool(body.pop("demo", False)),
            enabled=bool(body.pop("enabled", True)),
            settings=body,
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
