"""manage.py consumer_request: register a consumer's request, or resolve a dispute, as the
admin does (recorded the same way, in the staff member's name)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from scores.constants import PROFILE_CHARACTERISTICS
from scores.core.cpf import Cpf, InvalidCpf
from scores.exceptions import ConsumerRequestRefused
from scores.models import (
    ConsumerRequest,
    ConsumerRequestChannel,
    ConsumerRequestKind,
    DisputeOutcome,
)
from scores.services import consumer_request_register, consumer_request_resolve


class Command(BaseCommand):
    help = (
        "Register what a consumer asks (suspend, reopen, cancel, dispute CPF) or resolve a "
        "dispute (resolve REQUEST_ID), in a staff member's name, as the admin does. The CPF "
        "is kept as its lookup hash and masked form, and printed masked."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        for kind in ConsumerRequestKind:
            register = actions.add_parser(kind.value, help=str(kind.label))
            register.add_argument("cpf", help="The consumer's CPF, bare or formatted.")
            register.add_argument("--channel", required=True, choices=ConsumerRequestChannel.values)
            register.add_argument(
                "--protocol", default="", help="The number given to the consumer (default: new)."
            )
            register.add_argument("--user", required=True, help="The staff member's username.")
            register.add_argument("--reason", default="", help="The consumer's account.")
            if kind == ConsumerRequestKind.DISPUTE:
                register.add_argument(
                    "--field",
                    action="append",
                    default=[],
                    choices=PROFILE_CHARACTERISTICS,
                    help="A disputed characteristic (repeat for several).",
                )
        resolve = actions.add_parser("resolve", help="Resolve an open dispute.")
        resolve.add_argument("request_id", type=int)
        resolve.add_argument("--user", required=True, help="The staff member's username.")
        resolve.add_argument("--outcome", required=True, choices=DisputeOutcome.values)
        resolve.add_argument("--reason", required=True, help="Why: given to the consumer.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._staff(options["user"])
        try:
            if options["action"] == "resolve":
                self._resolve(options, user)
            else:
                self._register(options, user)
        except ConsumerRequestRefused as exc:
            raise CommandError(exc.message) from None

    def _staff(self, username: str) -> User:
        try:
            user: User = get_user_model().objects.get(username=username, is_staff=True)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No staff member is called {username!r}.") from None
        return user

    def _register(self, options: dict[str, Any], user: User) -> None:
        try:
            cpf = Cpf.parse(options["cpf"])
        except InvalidCpf as exc:
            raise CommandError(str(exc)) from None
        request = consumer_request_register(
            cpf=cpf,
            kind=options["action"],
            channel=options["channel"],
            protocol=options["protocol"],
            disputed_fields=options.get("field") or [],
            reason=options["reason"],
            actor=user,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered request {request.pk} ({request.get_kind_display()}) for "
                f"{request.cpf_masked}: protocol {request.protocol}, due on "
                f"{request.due_on.isoformat()}."
            )
        )

    def _resolve(self, options: dict[str, Any], user: User) -> None:
        try:
            dispute = ConsumerRequest.objects.get(pk=options["request_id"])
        except ConsumerRequest.DoesNotExist:
            raise CommandError(f"No request {options['request_id']}.") from None
        resolved = consumer_request_resolve(
            request=dispute, outcome=options["outcome"], resolution=options["reason"], actor=user
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Dispute {resolved.protocol} resolved: {resolved.get_outcome_display()}."
            )
        )
