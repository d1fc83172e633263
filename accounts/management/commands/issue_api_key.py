from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.constants import DEFAULT_PURPOSE, DEFAULT_SCOPES, Purpose, Scope
from accounts.models import Organization
from accounts.services import api_key_issue
from scoreportal.exceptions import ApplicationError
from scoreportal.operator_handoff import SecretKind, secret_hand_over


class Command(BaseCommand):
    help = (
        "Issue an API key for an organization and print it; with OPERATIONS_BUCKET set (a "
        "deployed stage) put it in the bucket's handoff/ prefix and print where. The key is "
        "shown this once; only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organization", help="Slug of an active organization.")
        parser.add_argument("--name", required=True, help="What the key is for (50 chars max).")
        parser.add_argument(
            "--scope",
            action="append",
            choices=Scope.values,
            dest="scopes",
            help=f"Repeatable. Default: {', '.join(DEFAULT_SCOPES)}.",
        )
        parser.add_argument(
            "--expires-in-days", type=int, default=None, help="Default: never expires."
        )
        parser.add_argument(
            "--rate-limit-per-minute",
            type=int,
            default=None,
            help="CPFs per minute. Default: API_KEY_DEFAULT_RATE_LIMIT_PER_MINUTE.",
        )
        parser.add_argument(
            "--daily-quota",
            type=int,
            default=None,
            help="CPFs per day (São Paulo time). Default: API_KEY_DEFAULT_DAILY_QUOTA.",
        )
        parser.add_argument(
            "--allowed-network",
            action="append",
            default=[],
            dest="allowed_networks",
            help="CIDR the key may be used from (repeatable; IPv4 or IPv6). Default: any.",
        )
        parser.add_argument(
            "--default-purpose",
            choices=Purpose.values,
            default=None,
            help=f"Recorded when a request gives none. Default: {DEFAULT_PURPOSE}.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization = Organization.objects.get(slug=options["organization"], is_active=True)
        except Organization.DoesNotExist:
            raise CommandError(f"No active organization {options['organization']!r}.") from None
        days = options["expires_in_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        try:
            with transaction.atomic():
                api_key, plaintext = api_key_issue(
                    organization=organization,
                    name=options["name"],
                    scopes=sorted(set(options["scopes"] or DEFAULT_SCOPES)),
                    expiry_date=timezone.now() + timedelta(days=days) if days else None,
                    rate_limit_per_minute=options["rate_limit_per_minute"],
                    daily_quota=options["daily_quota"],
                    allowed_networks=options["allowed_networks"],
                    default_purpose=options["default_purpose"],
                    actor="manage.py issue_api_key",
                )
                handed = secret_hand_over(kind=SecretKind.API_KEY, secret=plaintext)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stderr.write(
            f"Issued key {api_key.prefix} ({api_key.name}) for {organization}, "
            f"scopes {', '.join(api_key.scopes)}, {api_key.rate_limit_per_minute} CPFs a minute, "
            f"{api_key.daily_quota} a day.{' It is shown once:' if handed is None else ''}"
        )
        self.stdout.write(plaintext if handed is None else handed.instructions)
