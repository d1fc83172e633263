from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from scores.cache import score_cache


class Command(BaseCommand):
    help = (
        "Create the DynamoDB score cache table (on-demand billing, TTL on expires_at) "
        "if it does not exist. Safe to run any number of times."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        created = score_cache.ensure_table()
        table = settings.SCORE_CACHE_TABLE
        if created:
            self.stdout.write(self.style.SUCCESS(f"Created score cache table {table}."))
        else:
            self.stdout.write(f"Score cache table {table} already exists; TTL checked.")
