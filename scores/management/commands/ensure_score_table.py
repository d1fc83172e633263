from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from scores.cache import score_cache


class Command(BaseCommand):
    help = (
        "Create the DynamoDB score cache table (on-demand billing, TTL on expires_at) "
        "if it does not exist. Safe to run any number of times."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--active-scorecard",
            action="store_true",
            help=(
                "Also name the scorecard version the portal's record says is active in the "
                "cache's generation item (a table created anew has none). Needs the database."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        created = score_cache.ensure_table()
        table = settings.SCORE_CACHE_TABLE
        if created:
            self.stdout.write(self.style.SUCCESS(f"Created score cache table {table}."))
        else:
            self.stdout.write(f"Score cache table {table} already exists; TTL checked.")
        if options["active_scorecard"]:
            from scores.services.scorecards import scorecard_serving_restore

            version = scorecard_serving_restore()
            self.stdout.write(f"Active scorecard: {version}.")
