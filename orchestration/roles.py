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
from orchestration import dbt_step
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

    @property
    def roles(self) -> tuple[Role, Role, Role]:
        return (self.loader, self.transformer, self.reader)


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
    project_dir = dbt_step.dbt_project_dir()
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


# ---------------------------------------------------------------- applying the plan


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


class _Applier:
    """Runs the plan's statements on an admin connection and logs what changed."""

    def __init__(self, cur: Any, plan: Plan) -> None:
        self.cur = cur
        self.plan = plan

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        self.cur.execute(sql, params)
        return self.cur.fetchone()

    def ensure_role(self, role: Role, verifier: str) -> None:
        exists = self.one("select count(*) from pg_roles where rolname = %s", (role.name,))[0]
        verb = "alter" if exists else "create"
        attributes = "login nosuperuser nocreatedb nocreaterole noreplication nobypassrls"
        self.cur.execute(
            f"{verb} role {ident(role.name)} with {attributes} password %s", (verifier,)
        )
        log.info(
            "role %s (%s): %s, password from %s",
            role.name,
            role.kind,
            "updated" if exists else "created",
            role.password_env,
        )

    def ensure_schema(self, schema: str, owner: Role) -> None:
        exists = self.one("select count(*) from pg_namespace where nspname = %s", (schema,))[0]
        if exists:
            self.cur.execute(f"alter schema {ident(schema)} owner to {ident(owner.name)}")
        else:
            self.cur.execute(f"create schema {ident(schema)} authorization {ident(owner.name)}")

    def hand_over(self, schema: str, owner_of_tables: Role, owner_of_views: Role) -> None:
        """Give existing tables (and views) of ``schema`` to their role (an adopted warehouse)."""
        self.cur.execute(
            "select c.relname, c.relkind from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relkind in ('r', 'p', 'f', 'v', 'm') "
            "and pg_get_userbyid(c.relowner) not in (%s, %s)",
            (schema, owner_of_tables.name, owner_of_views.name),
        )
        kinds = {"r": "table", "p": "table", "f": "foreign table", "v": "view", "m": "view"}
        for name, relkind in self.cur.fetchall():
            owner = owner_of_views if relkind in {"v", "m"} else owner_of_tables
            keyword = "materialized view" if relkind == "m" else kinds[relkind]
            self.cur.execute(
                f"alter {keyword} {ident(schema)}.{ident(name)} owner to {ident(owner.name)}"
            )
            log.info("%s %s.%s: owner is now %s", keyword, schema, name, owner.name)

    def grant_read(self, schema: str, owner: Role, reader: Role, create: bool = False) -> None:
        """USAGE (and CREATE) on the schema, SELECT on its tables now and later."""
        privileges = "usage, create" if create else "usage"
        s, o, r = ident(schema), ident(owner.name), ident(reader.name)
        self.cur.execute(f"grant {privileges} on schema {s} to {r}")
        self.cur.execute(f"grant select on all tables in schema {s} to {r}")
        self.cur.execute(
            f"alter default privileges for role {o} in schema {s} grant select on tables to {r}"
        )


def apply(conn: Any, plan: Plan, secrets: dict[str, str]) -> None:
    """Create or update the roles, schemas and grants in one transaction."""
    import psycopg2.extensions

    loader, transformer, reader = plan.roles
    with conn.cursor() as cur:
        me = _current_user(cur)
        if me in {r.name for r in plan.roles}:
            raise RolesConfigError(
                f"connected as {me!r}, one of the roles to create: connect as an administrator"
            )
        run = _Applier(cur, plan)
        for role in plan.roles:
            verifier = psycopg2.extensions.encrypt_password(secrets[role.name], role.name, conn)
            run.ensure_role(role, verifier)
        db = ident(plan.database)
        writers = f"{ident(loader.name)}, {ident(transformer.name)}"
        cur.execute(f"revoke all on database {db} from public")
        cur.execute(f"revoke create on database {db} from {writers}, {ident(reader.name)}")
        cur.execute(f"grant connect, temporary on database {db} to {writers}")
        cur.execute(f"grant connect on database {db} to {ident(reader.name)}")
        cur.execute("revoke create on schema public from public")
        for schema in plan.loader_schemas:
            run.ensure_schema(schema, loader)
            run.hand_over(schema, loader, loader)
        run.ensure_schema(plan.ledger_schema, loader)
        run.hand_over(plan.ledger_schema, loader, transformer)  # dbt's ops views stay dbt's
        for schema in plan.transformer_schemas:
            run.ensure_schema(schema, transformer)
            run.hand_over(schema, transformer, transformer)
        for schema in plan.raw_schemas:
            run.grant_read(schema, loader, transformer)
        run.grant_read(plan.ledger_schema, loader, transformer, create=True)
        for schema in plan.reader_schemas:
            run.grant_read(schema, transformer, reader)
    conn.commit()


def _current_user(cur: Any) -> str:
    cur.execute("select current_user")
    return str(cur.fetchone()[0])


def describe(plan: Plan) -> list[str]:
    """What the roles may do, one line per role (no secrets)."""
    return [
        f"{plan.loader.name}: owns {', '.join(plan.loader_schemas)}, {plan.ledger_schema}",
        f"{plan.transformer.name}: owns {', '.join(plan.transformer_schemas)}; views in "
        f"{plan.ledger_schema}; reads {', '.join(plan.raw_schemas)}, {plan.ledger_schema}",
        f"{plan.reader.name}: reads {', '.join(plan.reader_schemas)}",
    ]


def main(reader_schemas: list[str] | None = None) -> int:
    """Entry point of ``warehouse-roles``; returns 0, 1 (the database refused) or 2 (settings)."""
    admin = wh.postgres()
    assert admin.pg is not None
    try:
        plan = make_plan(admin.pg["database"], reader_schemas or DEFAULT_READER_SCHEMAS)
        secrets = passwords(plan)
    except (RolesConfigError, source_config.SourceConfigError, OSError) as exc:
        log.error("warehouse-roles: %s", exc)
        return EXIT_CONFIG
    try:
        conn = wh.connect(admin)
    except Exception as exc:
        log.error("warehouse-roles: cannot connect to %s: %s", admin.describe(), exc)
        return EXIT_FAILED
    try:
        apply(conn, plan, secrets)
    except RolesConfigError as exc:
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
