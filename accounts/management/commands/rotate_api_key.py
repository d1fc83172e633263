from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.constants import DEFAULT_ROTATION_GRACE
from accounts.models import ApiKey
from accounts.services import api_key_rotate
from scoreportal.exceptions import ApplicationError
from scoreportal.operator_handoff import SecretKind, secret_hand_over


class Command(BaseCommand):
    help = (
        "Rotate an API key: issue a key with the same settings, printed once (with "
        "OPERATIONS_BUCKET set: put in the bucket's handoff/ prefix), while the current key "
        "keeps working for a grace period and then expires."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix", help="The prefix of the key to rotate (8 characters).")
        parser.add_argument(
            "--grace-hours",
            type=int,
            default=int(DEFAULT_ROTATION_GRACE.total_seconds() // 3600),
            help="How long the current key keeps working (default 24).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["grace_hours"] < 0:
            raise CommandError("--grace-hours cannot be negative.")
        try:
            old = ApiKey.objects.select_related("organization").get(prefix=options["prefix"])
        except ApiKey.DoesNotExist:
            raise CommandError(f"No API key with prefix {options['prefix']!r}.") from None
        try:
            with transaction.atomic():
                new, plaintext = api_key_rotate(
                    api_key=old,
                    grace=timedelta(hours=options["grace_hours"]),
                    actor="manage.py rotate_api_key",
                )
                handed = secret_hand_over(kind=SecretKind.API_KEY, secret=plaintext)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        old.refresh_from_db()
        shown_here = ", shown once:" if handed is None else "."
        self.stderr.write(
            f"Rotated {old.prefix}: it works until {old.expiry_date:%Y-%m-%d %H:%M %Z}. "
            f"New key {new.prefix} for {new.organization}{shown_here}"
        )
        self.stdout.write(plaintext if handed is None else handed.instructions)
