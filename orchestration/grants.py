"""Apply a roles plan on an admin connection: roles, schema owners, grants, in one transaction."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from orchestration.regional import MARTS
from orchestration.regional import record as record_regions

if TYPE_CHECKING:
    from orchestration.roles import Plan, Role

log = logging.getLogger(__name__)


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


class ConnectedAsARole(ValueError):
    """The admin connection logs in as one of the roles it would create."""


def apply(conn: Any, plan: Plan, secrets: dict[str, str]) -> None:
    """Create or update the roles, schemas and grants in one transaction."""
    import psycopg2.extensions

    loader, transformer, reader = plan.loader, plan.transformer, plan.reader
    with conn.cursor() as cur:
        me = _current_user(cur)
        if me in {r.name for r in plan.roles}:
            raise ConnectedAsARole(
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
        for regional_reader in plan.roles[3:]:
            cur.execute(f"grant connect on database {db} to {ident(regional_reader.name)}")
            run.grant_read(MARTS, transformer, regional_reader)
        record_regions(cur, plan.regional, ident(transformer.name))
    conn.commit()


def _current_user(cur: Any) -> str:
    cur.execute("select current_user")
    return str(cur.fetchone()[0])
