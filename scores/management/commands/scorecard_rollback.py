"""manage.py scorecard_rollback --user V --reason R: back to the previously active version."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoreportal.exceptions import ApplicationError
from scores.management.commands._scorecard_command import staff_user
from scores.selectors import scorecard_active_version
from scores.services.scorecards import scorecard_rollback


class Command(BaseCommand):
    help = (
        "Roll back to the scorecard version active before the current one, as USER (a model "
        "approver), recorded with REASON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="The approver's username.")
        parser.add_argument("--reason", required=True, help="Why.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = staff_user(options["user"])
        before = scorecard_active_version()
        try:
            version = scorecard_rollback(actor=user, reason=options["reason"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Rolled back: scorecard {version} is active (was {before}).")
