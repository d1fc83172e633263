"""The database's two roles, and what each may do.

- The schema's owner owns the database and everything in it, runs the migrations and
  `prune_audit`. It is the only role that could switch the append-only triggers off.
- The serving role is what the request path connects as. It owns nothing and may create
  nothing: SELECT and INSERT on the append-only records, SELECT on the migration history,
  SELECT, INSERT, UPDATE and DELETE on every other table, USAGE on the sequences.

Roles are made or repaired with the database's administrator (the RDS master user, or the
local superuser): `ensure_login_role`, `hand_database_to_owner`. The owner then grants the
serving role its rights after every `migrate`: `grant_serving_role`. Plain SQL on a DB-API
cursor, so that the deploy's management commands and the local stack (devstack, before
Django is configured) share it. PostgreSQL only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The ops function's secret carries these besides DATABASE_URL (the owner's): the
# administrator, to make the roles, and the serving role, whose name and password they get.
ADMIN_URL_VARIABLE = "DATABASE_ADMIN_URL"
SERVING_URL_VARIABLE = "DATABASE_SERVING_URL"
# Role names are written into SQL: only the plain lower-case identifiers Postgres itself
# would not need quoted.
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
READ_WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE")
APPEND_ONLY = ("SELECT", "INSERT")
READ_ONLY = ("SELECT",)
# What a table a later migration creates gets until the grants are repaired: the least
# anything needs, never more than an append-only record may have.
NEW_TABLES = APPEND_ONLY
# pg_class kinds that take table privileges: tables, partitioned tables, views,
# materialized views, foreign tables.
TABLE_KINDS = ("r", "p", "v", "m", "f")
_ALTER_BY_KIND = {
    "r": "TABLE",
    "p": "TABLE",
    "v": "VIEW",
    "m": "MATERIALIZED VIEW",
    "f": "FOREIGN TABLE",
    "S": "SEQUENCE",
}


class DatabaseRoleError(Exception):
    """The roles cannot be set up as asked (a name, a role's attributes, ownership)."""


@dataclass(frozen=True, slots=True)
class ServingGrants:
    """What grant_serving_role gave, by kind of table."""

    role: str
    append_only: int
    read_only: int
    read_write: int
    sequences: int


def database_from_environment(
    variable: str, environ: Mapping[str, str] = os.environ
) -> dict[str, Any] | None:
    """The connection settings a database URL variable holds (None when unset)."""
    import environ as django_environ

    url = environ.get(variable, "")
    return dict(django_environ.Env.db_url_config(url)) if url else None


def role_name(name: str) -> str:
    """`name`, if it is a role name this module will write into SQL."""
    if not ROLE_NAME.fullmatch(name):
        raise DatabaseRoleError(
            f"{name!r} is not a role name used here (lower-case letters, digits and '_', "
            "at most 63 characters, not starting with a digit)"
        )
    return name


def quoted(identifier: str) -> str:
    """An identifier as SQL writes it (double quotes, a double quote doubled)."""
    return '"' + identifier.replace('"', '""') + '"'


def _rows(cursor: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    cursor.execute(sql, list(params) if params else None)
    return list(cursor.fetchall())


def _role_exists(cursor: Any, name: str) -> bool:
    return bool(_rows(cursor, "SELECT 1 FROM pg_roles WHERE rolname = %s", [name]))


# ==============================================================================
# With the administrator: the roles exist, the owner owns the database
# ==============================================================================
def ensure_login_role(
    cursor: Any,
    name: str,
    *,
    password_verifier: str | None = None,
    create_databases: bool = False,
) -> str:
    """Create a role that may log in, if it does not exist; set its password if one is
    given (a SCRAM verifier: the password itself never reaches the server or its log).

    Returns what was done: "created", "password set" or "kept". An existing role is never
    given more rights; one that has a superuser's is refused.
    """
    name = role_name(name)
    password = " PASSWORD %s" if password_verifier else ""
    params = [password_verifier] if password_verifier else None
    if not _role_exists(cursor, name):
        createdb = " CREATEDB" if create_databases else ""
        cursor.execute(f"CREATE ROLE {quoted(name)} LOGIN{createdb}{password}", params)
        return "created"
    [(superuser, bypass_rls)] = _rows(
        cursor, "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [name]
    )
    if superuser or bypass_rls:
        raise DatabaseRoleError(f"role {name} exists with a superuser's rights; refusing it")
    if password_verifier:
        cursor.execute(f"ALTER ROLE {quoted(name)}{password}", params)
        return "password set"
    return "kept"


def hand_database_to_owner(cursor: Any, owner: str) -> int:
    """Make `owner` own the current database, and the schema objects the administrator
    (the connected role) owns: a database migrated before the owner existed is handed over.

    A non-superuser administrator (RDS's master user) is made a member of the owner first:
    giving an object to a role needs the right to act as it (from PostgreSQL 16, the ADMIN
    membership a CREATEROLE user gets in the roles it creates does not give that). Returns
    how many objects moved.
    """
    owner = role_name(owner)
    [(administrator, superuser, database, schema)] = _rows(
        cursor,
        "SELECT current_user, rolsuper, current_database(), current_schema()"
        " FROM pg_roles WHERE rolname = current_user",
    )
    if not superuser and not _rows(
        cursor, "SELECT 1 WHERE pg_has_role(current_user, %s, 'USAGE')", [owner]
    ):
        cursor.execute(f"GRANT {quoted(owner)} TO {quoted(administrator)}")
    [(database_owner,)] = _rows(
        cursor,
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()",
    )
    moved = 0
    if database_owner != owner:
        cursor.execute(f"ALTER DATABASE {quoted(database)} OWNER TO {quoted(owner)}")
        moved += 1
    # From PostgreSQL 15 the public schema belongs to whoever owns the database; before, to
    # the superuser that created the cluster.
    if _rows(
        cursor,
        "SELECT 1 FROM pg_namespace WHERE nspname = %s AND nspowner = %s::regrole",
        [schema, administrator],
    ):
        cursor.execute(f"ALTER SCHEMA {quoted(schema)} OWNER TO {quoted(owner)}")
        moved += 1
    # Tables first: their identity sequences follow them.
    for kind in (*TABLE_KINDS, "S"):
        for (relation,) in _rows(
            cursor,
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind = %s AND c.relowner = %s::regrole",
            [schema, kind, administrator],
        ):
            cursor.execute(
                f"ALTER {_ALTER_BY_KIND[kind]} {quoted(schema)}.{quoted(relation)}"
                f" OWNER TO {quoted(owner)}"
            )
            moved += 1
    for (function,) in _rows(
        cursor,
        "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = %s AND p.proowner = %s::regrole",
        [schema, administrator],
    ):
        # regprocedure's text is already quoted and qualified as needed.
        cursor.execute(f"ALTER ROUTINE {function} OWNER TO {quoted(owner)}")
        moved += 1
    return moved


# ==============================================================================
# With the owner: the serving role's rights
# ==============================================================================
def serving_role_problems(cursor: Any, role: str) -> list[str]:
    """Why `role` may not be the serving role of the connected owner (empty: it may)."""
    rows = _rows(
        cursor,
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb,"
        " pg_has_role(rolname, current_user, 'MEMBER'), rolname = current_user"
        " FROM pg_roles WHERE rolname = %s",
        [role],
    )
    if not rows:
        return [f"role {role} does not exist (ensure_database_roles creates it)"]
    superuser, bypass_rls, create_role, create_db, member, itself = rows[0]
    problems = [
        reason
        for flag, reason in (
            (itself, "it is the owner itself"),
            (superuser, "it is a superuser"),
            (bypass_rls, "it bypasses row-level security"),
            (create_role, "it may create roles"),
            (create_db, "it may create databases"),
            (member, "it is a member of the owner, so it has the owner's rights"),
        )
        if flag
    ]
    owned = _rows(
        cursor,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relowner = %s::regrole"
        " UNION ALL SELECT p.proname FROM pg_proc p JOIN pg_namespace n"
        " ON n.oid = p.pronamespace WHERE n.nspname = current_schema()"
        " AND p.proowner = %s::regrole ORDER BY 1",
        [role, role],
    )
    if owned:
        problems.append(f"it owns {', '.join(name for (name,) in owned)}")
    return problems


def grant_serving_role(
    cursor: Any, role: str, *, append_only: Iterable[str], read_only: Iterable[str] = ()
) -> ServingGrants:
    """Give `role` exactly the serving role's rights in the current database and schema,
    as their owner (the connected role), taking back anything else it was given.

    Idempotent; run in one transaction, so other sessions see the old rights or the new.
    A table that does not exist yet, or that the owner does not own, is an error.
    """
    role = role_name(role)
    problems = serving_role_problems(cursor, role)
    if problems:
        raise DatabaseRoleError(f"{role} cannot be the serving role: {'; '.join(problems)}")
    [(owner, database, schema)] = _rows(
        cursor, "SELECT current_user, current_database(), current_schema()"
    )
    tables = dict(
        _rows(
            cursor,
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind = ANY(%s)",
            [schema, list(TABLE_KINDS)],
        )
    )
    foreign = sorted(name for name, table_owner in tables.items() if table_owner != owner)
    if foreign:
        raise DatabaseRoleError(
            f"{owner} does not own {', '.join(foreign)} (ensure_database_roles hands them over)"
        )
    kinds = {
        APPEND_ONLY: sorted(set(append_only)),
        READ_ONLY: sorted(set(read_only)),
    }
    missing = sorted(name for names in kinds.values() for name in names if name not in tables)
    if missing:
        raise DatabaseRoleError(f"no table {', '.join(missing)} (run migrate first)")
    # A partition gets its partitioned table's rights (rows reached through the parent are
    # checked against the parent's; these are for the partition named directly).
    partitions = set()
    for name, root in _rows(
        cursor,
        "SELECT c.relname, r.relname FROM pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace JOIN pg_class r ON r.oid = pg_partition_root(c.oid)"
        " WHERE n.nspname = %s AND c.relispartition",
        [schema],
    ):
        for names in kinds.values():
            if root in names and name not in names:
                names.append(name)
                partitions.add(name)
    listed = {name for names in kinds.values() for name in names}
    kinds[READ_WRITE] = sorted(name for name in tables if name not in listed)
    grantee, in_schema = quoted(role), f"IN SCHEMA {quoted(schema)}"

    statements = [
        # Connecting and temporary tables (the profile import's) only for whom they are meant.
        f"REVOKE ALL ON DATABASE {quoted(database)} FROM PUBLIC",
        f"GRANT CONNECT, TEMPORARY ON DATABASE {quoted(database)} TO {grantee}",
        # Before PostgreSQL 15 every role could create objects in the public schema.
        f"REVOKE CREATE ON SCHEMA {quoted(schema)} FROM PUBLIC",
        f"REVOKE ALL ON SCHEMA {quoted(schema)} FROM {grantee}",
        f"GRANT USAGE ON SCHEMA {quoted(schema)} TO {grantee}",
        f"REVOKE ALL ON ALL TABLES {in_schema} FROM {grantee}",
        f"REVOKE ALL ON ALL SEQUENCES {in_schema} FROM {grantee}",
        f"REVOKE ALL ON ALL FUNCTIONS {in_schema} FROM {grantee}",
        *(
            f"GRANT {', '.join(privileges)} ON TABLE"
            f" {', '.join(f'{quoted(schema)}.{quoted(name)}' for name in names)} TO {grantee}"
            for privileges, names in kinds.items()
            if names
        ),
        f"GRANT USAGE ON ALL SEQUENCES {in_schema} TO {grantee}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {quoted(owner)} {in_schema}"
        f" REVOKE ALL ON TABLES FROM {grantee}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {quoted(owner)} {in_schema}"
        f" GRANT {', '.join(NEW_TABLES)} ON TABLES TO {grantee}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {quoted(owner)} {in_schema}"
        f" GRANT USAGE ON SEQUENCES TO {grantee}",
    ]
    for statement in statements:
        cursor.execute(statement)
    [(sequences,)] = _rows(
        cursor,
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind = 'S'",
        [schema],
    )
    return ServingGrants(
        role=role,
        append_only=len(set(kinds[APPEND_ONLY]) - partitions),
        read_only=len(set(kinds[READ_ONLY]) - partitions),
        read_write=len(kinds[READ_WRITE]),
        sequences=int(sequences),
    )


def password_verifier(password: str, role: str, connection: Any) -> str:
    """The SCRAM-SHA-256 verifier of a role's password, computed by libpq on this side."""
    from psycopg2.extensions import encrypt_password

    return str(encrypt_password(password, role, connection, "scram-sha-256"))
