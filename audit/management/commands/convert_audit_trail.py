from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services.partitions import consultation_trail_convert


class Command(BaseCommand):
    help = (
        "Copy the audit rows that migration scores 0016 left in "
        "scores_consultation_unpartitioned into the monthly partitions, newest first, in "
        "committed batches while the service writes; drop that table when done. Resumable. "
        "Runs as the schema's owner (docs/deploy.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=10_000)
        parser.add_argument(
            "--max-seconds",
            type=float,
            default=None,
            help="Stop between batches after this long (the next run continues).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        progress = consultation_trail_convert(
            batch_size=options["batch_size"], max_seconds=options["max_seconds"]
        )
        self.stdout.write(f"Copied {progress.copied:,} audit rows.")
        if progress.done:
            self.stdout.write(self.style.SUCCESS("The audit trail is partitioned."))
        else:
            self.stdout.write("Rows remain; run it again to continue.")
