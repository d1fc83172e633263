from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.exceptions import AuditPruneNotPermitted
from audit.retention import AUDIT_RETENTION_MIN_DAYS
from audit.selectors import consultations_prunable_count
from audit.services import consultations_prune


class Command(BaseCommand):
    help = (
        "Delete audit rows (score consultations) older than AUDIT_RETENTION_DAYS. The only "
        "sanctioned way to remove audit rows; never younger than six months. Runs as the "
        "schema's owner: on AWS the ops function, daily."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Retention in days (default AUDIT_RETENTION_DAYS; at least "
            f"{AUDIT_RETENTION_MIN_DAYS}).",
        )
        parser.add_argument("--batch-size", type=int, default=10_000)
        parser.add_argument(
            "--max-seconds",
            type=float,
            default=None,
            help="Stop between batches after this long (the next run continues).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count; delete nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] or settings.AUDIT_RETENTION_DAYS
        if days < AUDIT_RETENTION_MIN_DAYS:
            raise CommandError(
                f"--days must be at least {AUDIT_RETENTION_MIN_DAYS} days (six months)."
            )
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if options["dry_run"]:
            count = consultations_prunable_count(retention_days=days)
            self.stdout.write(f"Dry run: {count:,} audit rows older than {days} days.")
            return
        try:
            deleted = consultations_prune(
                retention_days=days,
                batch_size=options["batch_size"],
                max_seconds=options["max_seconds"],
            )
        except AuditPruneNotPermitted as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            self.style.SUCCESS(f"Deleted {deleted:,} audit rows older than {days} days.")
        )
        remaining = consultations_prunable_count(retention_days=days)
        if remaining:
            self.stdout.write(f"{remaining:,} remain; the next run continues.")
