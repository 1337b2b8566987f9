"""The systems to load: ``ingestion/sources.yml`` read, checked and built into dlt sources.

Each entry names its source type (``type:``), which picks a package: ``rest_api``,
``sql_database``, ``filesystem`` or ``postgres_cdc``. Reading the file expands
``${VAR:-default}`` and checks every entry against its type's typed settings and every warehouse
name in it, without importing dlt (the run lock is taken before dlt's import, see
``orchestration/lock.py``). ``build_source`` then clones the type's ``@dlt.source`` function
under the system's name and serves the entry to dlt as ``sources.<system>.<key>``
(``config_provider.py``): a key set under the system's section in the environment or
``.dlt/*.toml`` wins (``SOURCES__SHOP__CHUNK_SIZE``,
``SOURCES__CRM__TOKEN``). A string ``secret:<key>`` reads a dlt secret and ``file:<path>`` a
file's stripped content (e.g. a mounted Kubernetes secret).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field

from ingestion import redact
from ingestion.filesystem.settings import FilesystemSettings
from ingestion.identifiers import identifier_errors, personal_identifier_errors
from ingestion.postgres_cdc.settings import PostgresCdcSettings
from ingestion.rest_api.settings import RestApiSettings
from ingestion.sql_database.settings import SqlDatabaseSettings
from ingestion.time_limit import DEFAULT_TIME_LIMIT_S
from ingestion.typed_settings import Settings, SourceConfigError, problems

if TYPE_CHECKING:
    from dlt.extract import DltSource
    from dlt.extract.decorators import SourceFactory

    from ingestion.rejects import RejectCounter

__all__ = [
    "SourceConfig",
    "SourceConfigError",
    "build_source",
    "identifier_errors",
    "load",
    "select",
]

DEFAULT_SOURCES_FILE = Path(__file__).with_name("sources.yml")
SourceType = Literal["rest_api", "sql_database", "filesystem", "postgres_cdc"]
SOURCE_TYPES: tuple[SourceType, ...] = ("rest_api", "sql_database", "filesystem", "postgres_cdc")
TYPE_SETTINGS: dict[str, type[BaseModel]] = {
    "rest_api": RestApiSettings,
    "sql_database": SqlDatabaseSettings,
    "filesystem": FilesystemSettings,
    "postgres_cdc": PostgresCdcSettings,
}
_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SECRET_PREFIX = "secret:"
FILE_PREFIX = "file:"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # safe; libyaml when present


class PersonalTable(Settings):
    """Where one raw table holds a person's data (``personal_data:``, docs/privacy.md).

    ``customer_id`` and ``email`` name the columns that identify the person (the subject of
    an erasure request); ``redact`` the columns nulled when the person is erased (``email``
    becomes a placeholder address); ``nested`` the list fields emptied (their dlt child tables).
    """

    customer_id: str
    email: str | None = None
    redact: list[str] = Field(default_factory=list)
    nested: list[str] = Field(default_factory=list)


class Declaration(Settings):
    """The keys every entry has, whatever its type."""

    type: SourceType
    enabled: bool = True
    # the bundled demo shop serves it: an unreachable source's error says how to start it
    demo: bool = False
    dataset: str | None = None
    # seconds one run of the source may read before it fails (ingestion/time_limit.py)
    time_limit_s: Annotated[float, Field(gt=0)] = DEFAULT_TIME_LIMIT_S
    # raw tables holding personal data: erasure redacts them, every load suppresses erased people
    personal_data: dict[str, PersonalTable] = Field(default_factory=dict)


COMMON_KEYS = tuple(Declaration.model_fields)


@dataclass
class SourceConfig:
    """One source system as declared in the sources file.

    ``settings`` is the entry's type-specific part, environment variables expanded: what the
    config provider serves to dlt as ``sources.<name>.<key>``.
    """

    name: str
    type: SourceType
    dataset: str
    demo: bool
    enabled: bool
    settings: dict[str, Any] = field(default_factory=dict)
    path: Path = DEFAULT_SOURCES_FILE
    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    personal_data: dict[str, PersonalTable] = field(default_factory=dict)


def sources_file() -> Path:
    """The sources file in use: ``$INGESTION_SOURCES`` or the bundled ``sources.yml``."""
    return Path(os.environ.get("INGESTION_SOURCES") or DEFAULT_SOURCES_FILE)


def shown(path: Path) -> str:
    """A path as error messages show it: relative to the working directory when inside it."""
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def expand_env(value: Any) -> Any:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in every string of a nested structure."""
    if isinstance(value, str):
        return _ENV_PATTERN.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, list):
        return [expand_env(v) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- secret references


def resolve_secret(value: Any, default: Any = None, where: str = "") -> Any:
    """Return ``value``, or what it refers to when it is ``secret:<key>`` or ``file:<path>``.

    Args:
        value: a configuration value.
        default: returned when the named dlt secret is not set.
        where: the setting's name, for the error message.

    Raises:
        SourceConfigError: a ``file:`` reference cannot be read (names the file, not its content).
    """
    if not isinstance(value, str):
        return value
    if value.startswith(FILE_PREFIX):
        path = Path(value[len(FILE_PREFIX) :]).expanduser()
        try:
            return redact.secret(path.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise SourceConfigError(
                f"{where or 'secret'}: cannot read {value!r} ({reason})"
            ) from None
    if value.startswith(SECRET_PREFIX):
        # here: reading the sources file must not pay dlt's import (see orchestration/lock.py)
        import dlt

        from ingestion.config_provider import sources_file_hidden

        with sources_file_hidden():  # `secret:` names dlt's secrets, not this file's values
            found: Any = dlt.secrets.get(value[len(SECRET_PREFIX) :])
        return redact.secret(found) if found is not None else default
    if "." in where and redact.is_secret_key(where.rsplit(".", 1)[1]):
        redact.register(value)  # a literal under a secret-named key (``token``, ``password``)
    return value


def resolve_secrets(value: Any, where: str = "") -> Any:
    """``resolve_secret`` on every string of a nested structure (a copy)."""
    if isinstance(value, dict):
        return {
            k: resolve_secrets(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [resolve_secrets(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return resolve_secret(value, where=where)


# ---------------------------------------------------------------- the file


def _read(path: Path) -> dict[Any, Any]:
    if not path.exists():
        raise SourceConfigError(f"sources file {path} does not exist")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}
    except yaml.YAMLError as exc:  # the problem and its place; the line itself may hold a secret
        mark = getattr(exc, "problem_mark", None)
        place = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise SourceConfigError(f"{shown(path)}: not valid YAML: {problem}{place}") from None
    if not isinstance(raw, dict):
        raise SourceConfigError(f"{shown(path)}: expected a mapping of source name -> definition")
    return raw


def _entry(path: Path, name: Any, body: Any, problems_found: list[str]) -> SourceConfig | None:
    """One entry checked; its problems are appended to ``problems_found``."""
    if not isinstance(body, dict):
        problems_found.append(f"{name}: must be a mapping of settings")
        return None
    body = expand_env(body)
    common = {key: body.pop(key) for key in COMMON_KEYS if key in body}
    kind = common.get("type")
    if kind not in SOURCE_TYPES:
        given = "required key is missing" if kind is None else f"{kind!r} is not a source type"
        problems_found.append(f"{name}.type: {given}; use one of {', '.join(SOURCE_TYPES)}")
        return None
    dataset = common.get("dataset", f"raw_{name}")
    invalid = problems(Declaration, common, str(name))
    invalid += problems(TYPE_SETTINGS[kind], body, str(name), also=COMMON_KEYS)
    mistyped = {problem.split(": ", 1)[0] for problem in invalid}
    unsafe = identifier_errors(name, kind, dataset, body)
    unsafe += personal_identifier_errors(name, common.get("personal_data"))
    if kind == "postgres_cdc" and common.get("personal_data"):  # its tables share one resource
        invalid.append(
            f"{name}.personal_data: not supported by postgres_cdc sources yet (erased people"
            " would land unredacted); load personal tables with sql_database"
        )
    problems_found.extend(invalid)
    problems_found.extend(  # a value of the wrong type is named once
        u for u in unsafe if not (u.split(" = ", 1)[0] in mistyped and "must be a string" in u)
    )
    return SourceConfig(
        name=str(name),
        type=kind,
        dataset=str(dataset),
        demo=common.get("demo") is True,
        enabled=common.get("enabled", True) is not False,
        settings=body,
        path=path,
        time_limit_s=common.get("time_limit_s", DEFAULT_TIME_LIMIT_S),
        personal_data=_personal(common.get("personal_data"), invalid),
    )


def _personal(given: Any, invalid: list[str]) -> dict[str, PersonalTable]:
    """The entry's ``personal_data`` as typed settings (none while the entry has problems)."""
    if not given or invalid:
        return {}
    return Declaration.model_validate({"type": "rest_api", "personal_data": given}).personal_data


def load(path: Path | None = None) -> dict[str, SourceConfig]:
    """Load and check every source definition; nothing connects anywhere before this passes.

    Each entry is checked against its type's typed settings (unknown keys are errors, except
    inside dlt's own REST pieces, which dlt checks when the source is built) and every name that
    becomes a schema, table or column is checked (``identifier_errors``).

    Raises:
        SourceConfigError: the file is missing or a definition is invalid (names the file, the
            source and the key; never a value that could be a secret).
    """
    path = path or sources_file()
    raw = _read(path)
    configs: dict[str, SourceConfig] = {}
    found: list[str] = []
    for name, body in raw.items():
        config = _entry(path, name, body, found)
        if config is not None:
            configs[config.name] = config
    if found:
        head = f"{shown(path)}: " if len(found) == 1 else f"{shown(path)}: {len(found)} problems: "
        raise SourceConfigError(head + "; ".join(found))
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


# ---------------------------------------------------------------- dlt sources


def source_factory(kind: SourceType) -> SourceFactory[Any, DltSource]:
    """The ``@dlt.source`` function of a source type."""
    if kind == "rest_api":
        from ingestion.rest_api.source import rest_api_source

        return rest_api_source
    if kind == "sql_database":
        from ingestion.sql_database.source import sql_database_source

        return sql_database_source
    if kind == "postgres_cdc":
        from ingestion.postgres_cdc.source import postgres_cdc_source

        return postgres_cdc_source
    from ingestion.filesystem.source import filesystem_source

    return filesystem_source


def system_factory(spec: SourceConfig) -> SourceFactory[Any, DltSource]:
    """The type's source function cloned for one system: its name, its config section, its
    entry of the sources file served to dlt (``sources.<name>.<key>``)."""
    from ingestion.config_provider import serve

    serve(spec)
    return source_factory(spec.type).clone(name=spec.name, section=spec.name)


def build_source(
    spec: SourceConfig,
    counter: RejectCounter,
    start: date | None = None,
    end: date | None = None,
) -> DltSource:
    """The dlt source of one declared system, its settings injected by dlt.

    Args:
        spec: the system's entry of the sources file.
        counter: counts this run's rejected records per resource.
        start: with ``end``, a backfill window (inclusive days); no cursor is touched.
        end: last day of the backfill window.

    Raises:
        SourceConfigError: a setting is invalid once injected (an override, a secret reference).
    """
    from ingestion.run_options import RunOptions

    return system_factory(spec)(run=RunOptions(counter, start, end))
