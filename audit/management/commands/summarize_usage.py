from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services.usage import usage_reopen_from, usage_summarize


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
        parser.add_argument(
            "--again-from",
            type=date.fromisoformat,
            default=None,
            metavar="YYYY-MM-DD",
            help=(
                "Summarize again every day from this one on (fills the score histogram and "
                "characteristic bins of days summarized before they were kept); refused for "
                "a day whose audit rows may have been pruned."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["again_from"] is not None:
            try:
                reopened = usage_reopen_from(options["again_from"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"Reopened {reopened:,} summarized days.")
        days = usage_summarize(max_seconds=options["max_seconds"])
        if not days:
            self.stdout.write("Nothing to summarize.")
            return
        self.stdout.write(
            self.style.SUCCESS(f"Summarized {len(days):,} days, {days[0]} to {days[-1]}.")
        )
