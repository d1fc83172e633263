from __future__ import annotations

import contextlib
from typing import Any

import psycopg2
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from scoreportal import database_roles


class Command(BaseCommand):
    help = (
        "Create or repair the database's two roles with its administrator (the RDS master "
        "user, DATABASE_ADMIN_URL): the schema's owner (the user of DATABASE_URL) and the "
        "serving role (the user of DATABASE_SERVING_URL), each with its password, and hand "
        "the database and what the administrator owns in it to the owner. Run before "
        "migrate, on the ops function; idempotent. PostgreSQL only."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        owner = connections[DEFAULT_DB_ALIAS].settings_dict
        if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
            raise CommandError("Roles are PostgreSQL's: this database has none.")
        administrator = database_roles.database_from_environment(database_roles.ADMIN_URL_VARIABLE)
        serving = database_roles.database_from_environment(database_roles.SERVING_URL_VARIABLE)
        if administrator is None or serving is None:
            raise CommandError(
                "DATABASE_ADMIN_URL and DATABASE_SERVING_URL must be set (the ops function's "
                "secret carries both; docs/deploy.md)."
            )
        try:
            with (
                contextlib.closing(_connect(administrator)) as connection,
                connection,  # one transaction
                connection.cursor() as cursor,
            ):
                done = []
                for role in (owner, serving):
                    verifier = (
                        database_roles.password_verifier(role["PASSWORD"], role["USER"], connection)
                        if role["PASSWORD"]
                        else None
                    )
                    what = database_roles.ensure_login_role(
                        cursor, role["USER"], password_verifier=verifier
                    )
                    done.append((role["USER"], what))
                moved = database_roles.hand_database_to_owner(cursor, owner["USER"])
        except database_roles.DatabaseRoleError as exc:
            raise CommandError(str(exc)) from None
        except psycopg2.Error as exc:
            # The driver's message, never the URL (it holds the password).
            raise CommandError(f"as the administrator: {exc}".strip()) from None
        for name, what in done:
            self.stdout.write(f"{name}: {what}.")
        self.stdout.write(
            self.style.SUCCESS(
                f"{owner['NAME']} is {owner['USER']}'s ({moved} objects handed over); "
                f"{serving['USER']} serves. Now: migrate, then grant_serving_role."
            )
        )


def _connect(database: dict[str, Any]) -> Any:
    return psycopg2.connect(
        dbname=database["NAME"],
        user=database["USER"],
        password=database["PASSWORD"] or None,
        host=database["HOST"] or None,
        port=database["PORT"] or None,
        connect_timeout=10,
        **database.get("OPTIONS", {}),
    )
