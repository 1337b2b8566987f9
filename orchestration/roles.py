"""``python -m orchestration warehouse-roles``: least-privilege PostgreSQL roles for the pipeline.

Connected as an administrator (the ``PG*`` variables), it creates or updates three login roles
and the schemas they own, idempotently (run it again after adding a source or a dbt schema):

- ``loader`` (``LOADER_PGUSER``, default ``loader``) owns the raw datasets of
  ``ingestion/sources.yml``, their ``<dataset>_staging`` schemas (dlt merges through them)
  and the run ledger schema ``ops``.
- ``transformer`` (``DBT_PGUSER``, default ``transformer``) owns dbt's schemas (``+schema`` in
  ``dbt_project.yml``, ``schema=`` in model configs, the profile's target schema), may create its
  views in ``ops`` and reads the raw schemas and the ledger.
- ``reader`` (``READER_PGUSER``, default ``reader``) has USAGE and SELECT on ``marts`` only,
  with default privileges so tables dbt creates later are readable too.
- with ``READER_REGIONS=EU,...``, a regional reader per region: the reader's grants on ``marts``,
  and the marts' row-level policies show it only its region's rows (``orchestration.regional``).

Neither writer may create schemas; both get TEMPORARY (dlt's merges of nested tables, dbt's
incremental models and snapshots use temp tables). ``CONNECT`` is revoked from PUBLIC. Passwords
come from ``LOADER_PGPASSWORD``, ``DBT_PGPASSWORD`` and ``READER_PGPASSWORD`` (the same variables
the processes log in with) and are sent to the server as SCRAM verifiers, never in clear text.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ingestion import config as source_config
from ingestion import warehouse as wh
from orchestration import grants, regional, settings
from orchestration.ledger import SCHEMA as LEDGER_SCHEMA

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

STAGING_SUFFIX = "_staging"  # dlt's staging_dataset_name_layout "%s_staging"
DEFAULT_TARGET_SCHEMA = "analytics"
DEFAULT_READER_SCHEMAS = ("marts",)
_SQL_SCHEMA_CONFIG = re.compile(r"""\bschema\s*=\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")


class RolesConfigError(ValueError):
    """A setting of warehouse-roles is missing or invalid (the message names it)."""


@dataclass(frozen=True)
class Role:
    """One login role: its name and the environment variable holding its password."""

    kind: str  # loader | transformer | reader
    name: str
    password_env: str


@dataclass(frozen=True)
class Plan:
    """Who owns and reads which schema."""

    database: str
    loader: Role
    transformer: Role
    reader: Role
    loader_schemas: tuple[str, ...]  # raw datasets and their _staging schemas
    raw_schemas: tuple[str, ...]  # the subset the transformer reads
    ledger_schema: str
    transformer_schemas: tuple[str, ...]
    reader_schemas: tuple[str, ...]
    regional: tuple[regional.RegionalReader, ...] = ()

    @property
    def roles(self) -> tuple[Role, ...]:
        """Every login role of the plan: the three, then the regional readers."""
        regional_roles = [Role("regional reader", r.name, r.password_env) for r in self.regional]
        return (self.loader, self.transformer, self.reader, *regional_roles)


def roles_from_env() -> tuple[Role, Role, Role]:
    """Role names from ``LOADER_PGUSER``/``DBT_PGUSER``/``READER_PGUSER`` (or the defaults)."""
    roles = (
        Role("loader", os.environ.get("LOADER_PGUSER") or "loader", "LOADER_PGPASSWORD"),
        Role("transformer", os.environ.get("DBT_PGUSER") or "transformer", "DBT_PGPASSWORD"),
        Role("reader", os.environ.get("READER_PGUSER") or "reader", "READER_PGPASSWORD"),
    )
    if len({r.name for r in roles}) != len(roles):
        raise RolesConfigError(
            "LOADER_PGUSER, DBT_PGUSER and READER_PGUSER must name three different roles"
        )
    return roles


def raw_schemas(sources: Iterable[source_config.SourceConfig]) -> list[str]:
    """Every source's dataset (enabled or not, so enabling one later needs no new grant)."""
    return sorted({s.dataset for s in sources})


def dbt_schemas(project_dir: Path, target_schema: str = DEFAULT_TARGET_SCHEMA) -> list[str]:
    """dbt's schemas: ``+schema`` in ``dbt_project.yml``, ``schema=`` in SQL configs, the target.

    The project's ``generate_schema_name`` uses custom schema names as they are, so these are
    the names dbt creates.
    """
    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    found = {target_schema}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in {"+schema", "schema", "+target_schema", "target_schema"} and isinstance(
                    value, str
                ):
                    found.add(value)
                else:
                    walk(value)

    for section in ("models", "seeds", "snapshots"):
        walk(project.get(section))
    for key in ("model-paths", "snapshot-paths"):
        for folder in project.get(key) or []:
            for sql in sorted((project_dir / folder).rglob("*.sql")):
                found.update(_SQL_SCHEMA_CONFIG.findall(sql.read_text(errors="replace")))
    return sorted(found)


def profile_target_schema(project_dir: Path) -> str:
    """The PostgreSQL output's ``schema`` in the dbt profile (``analytics`` if unreadable)."""
    explicit = os.environ.get("DBT_PROFILES_DIR")
    folders = [Path(explicit)] if explicit else []
    folders.append(project_dir)
    candidates = [f / "profiles.yml" for f in folders] + [project_dir / "profiles.example.yml"]
    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    for path in candidates:
        if not path.is_file():
            continue
        profiles = yaml.safe_load(path.read_text()) or {}
        outputs = (profiles.get(project.get("profile")) or {}).get("outputs") or {}
        schema = (outputs.get("postgres") or {}).get("schema")
        if isinstance(schema, str) and "{{" not in schema:
            return schema
    return DEFAULT_TARGET_SCHEMA


def make_plan(database: str, reader_schemas: Iterable[str] = DEFAULT_READER_SCHEMAS) -> Plan:
    """Work out roles and schemas from the sources file and the dbt project."""
    loader, transformer, reader = roles_from_env()
    raw = raw_schemas(source_config.load().values())
    project_dir = settings.dbt_project()
    dbt = [
        s
        for s in dbt_schemas(project_dir, profile_target_schema(project_dir))
        if s != LEDGER_SCHEMA
    ]
    clash = set(dbt) & set(raw)
    if clash:
        raise RolesConfigError(f"schemas {sorted(clash)} are both raw datasets and dbt schemas")
    readable = tuple(dict.fromkeys(reader_schemas))
    unknown = [s for s in readable if s not in dbt]
    if unknown:
        raise RolesConfigError(f"--reader-schema {unknown} is not a dbt schema ({dbt})")
    try:
        regionals = regional.from_env(project_dir, reader.name)
    except (ValueError, OSError) as exc:
        raise RolesConfigError(str(exc)) from None
    if regionals and regional.MARTS not in dbt:
        raise RolesConfigError(f"READER_REGIONS needs the dbt schema {regional.MARTS!r}")
    names = [loader.name, transformer.name, reader.name, *(r.name for r in regionals)]
    if len(set(names)) != len(names):
        raise RolesConfigError(f"role names must differ: {names}")
    return Plan(
        database=database,
        loader=loader,
        transformer=transformer,
        reader=reader,
        loader_schemas=tuple(sorted([*raw, *(d + STAGING_SUFFIX for d in raw)])),
        raw_schemas=tuple(raw),
        ledger_schema=LEDGER_SCHEMA,
        transformer_schemas=tuple(dbt),
        reader_schemas=readable,
        regional=regionals,
    )


def passwords(plan: Plan) -> dict[str, str]:
    """Each role's password from its environment variable (never logged).

    Raises:
        RolesConfigError: a variable is unset or empty, naming it.
    """
    missing = [r.password_env for r in plan.roles if not os.environ.get(r.password_env)]
    if missing:
        raise RolesConfigError(
            f"set {', '.join(missing)} (the password of each role; the processes log in with "
            "the same variables)"
        )
    return {r.name: os.environ[r.password_env] for r in plan.roles}


def describe(plan: Plan) -> list[str]:
    """What the roles may do, one line per role (no secrets)."""
    return [
        f"{plan.loader.name}: owns {', '.join(plan.loader_schemas)}, {plan.ledger_schema}",
        f"{plan.transformer.name}: owns {', '.join(plan.transformer_schemas)}; views in "
        f"{plan.ledger_schema}; reads {', '.join(plan.raw_schemas)}, {plan.ledger_schema}",
        f"{plan.reader.name}: reads {', '.join(plan.reader_schemas)}",
        *(f"{r.name}: reads {regional.MARTS}, rows of region {r.region}" for r in plan.regional),
    ]


def main(reader_schemas: list[str] | None = None) -> int:
    """Entry point of ``warehouse-roles``; returns 0, 1 (the database refused) or 2 (settings)."""
    admin = wh.postgres()
    assert admin.pg is not None
    try:
        plan = make_plan(admin.pg["database"], reader_schemas or DEFAULT_READER_SCHEMAS)
        secrets = passwords(plan)
    except (
        RolesConfigError,
        settings.SettingsError,
        source_config.SourceConfigError,
        OSError,
    ) as exc:
        log.error("warehouse-roles: %s", exc)
        return EXIT_CONFIG
    try:
        conn = wh.connect(admin)
    except Exception as exc:
        log.error("warehouse-roles: cannot connect to %s: %s", admin.describe(), exc)
        return EXIT_FAILED
    try:
        grants.apply(conn, plan, secrets)
    except grants.ConnectedAsARole as exc:
        log.error("warehouse-roles: %s", exc)
        return EXIT_CONFIG
    except Exception as exc:
        log.error("warehouse-roles failed on %s: %s", admin.describe(), exc)
        return EXIT_FAILED
    finally:
        conn.close()
    for line in describe(plan):
        log.info("%s", line)
    return EXIT_OK
