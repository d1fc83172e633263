from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.recorder import MigrationRecorder

from scoreportal import database_roles
from scoreportal.models import append_only_tables


class Command(BaseCommand):
    help = (
        "Give the serving role exactly what the request path needs, as the schema's owner: "
        "SELECT and INSERT on append-only records, SELECT on the migration history, SELECT, "
        "INSERT, UPDATE and DELETE on the other tables, USAGE on sequences; take back "
        "anything else. Run after every migrate (new tables get their grants); idempotent. "
        "PostgreSQL only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--role",
            help="The serving role (default: the user of DATABASE_SERVING_URL, as the ops "
            "function has it).",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help="The connection of the schema's owner (default: the default one).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"]
        connection = connections[alias]
        if connection.vendor != "postgresql":
            raise CommandError(
                f"Roles are PostgreSQL's: this database is {connection.vendor}, which keeps "
                "its append-only triggers and has no grants."
            )
        serving = database_roles.database_from_environment(database_roles.SERVING_URL_VARIABLE)
        role = options["role"] or (serving or {}).get("USER", "")
        if not role:
            raise CommandError("Name the serving role: --role, or DATABASE_SERVING_URL.")
        try:
            with transaction.atomic(using=alias), connection.cursor() as cursor:
                grants = database_roles.grant_serving_role(
                    cursor,
                    role,
                    append_only=append_only_tables(),
                    read_only=[MigrationRecorder.Migration._meta.db_table],
                )
        except database_roles.DatabaseRoleError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{grants.role}: SELECT, INSERT on {grants.append_only} append-only tables; "
                f"SELECT on {grants.read_only}; SELECT, INSERT, UPDATE, DELETE on "
                f"{grants.read_write}; USAGE on {grants.sequences} sequences."
            )
        )
