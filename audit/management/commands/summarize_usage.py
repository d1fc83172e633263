from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.services.usage import usage_summarize


class Command(BaseCommand):
    help = (
        "Bring the daily usage summary (what the usage report reads) up to date: every day "
        "from the first one not complete up to now. Idempotent; Zappa runs it every 15 "
        "minutes. The first run summarizes the whole audit trail."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-seconds",
            type=float,
            default=None,
            help="Stop between days after this long (the next run continues).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = usage_summarize(max_seconds=options["max_seconds"])
        if not days:
            self.stdout.write("Nothing to summarize.")
            return
        self.stdout.write(
            self.style.SUCCESS(f"Summarized {len(days):,} days, {days[0]} to {days[-1]}.")
        )
