from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from audit.services.partitions import MONTHS_AHEAD, consultation_partitions_create


class Command(BaseCommand):
    help = (
        f"Create the audit trail's monthly partitions ahead (the current month and the next "
        f"{MONTHS_AHEAD - 1}) with django-postgres-extra's partitioning manager. Runs as the "
        "schema's owner: on AWS the ops function, daily. prune_audit drops old months."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        created = consultation_partitions_create()
        if created:
            self.stdout.write(self.style.SUCCESS(f"Created {', '.join(created)}."))
        else:
            self.stdout.write("Every partition ahead exists.")
