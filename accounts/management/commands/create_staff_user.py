from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from scoreportal.operator_handoff import SecretKind, secret_hand_over


class Command(BaseCommand):
    help = (
        "Create a staff user without a password and print a one-time link to set it. "
        "No password is ever printed or logged. With OPERATIONS_BUCKET set (a deployed "
        "stage, where command output lands in CloudWatch) the link is put in the bucket's "
        "handoff/ prefix and only its location is printed. The link works once and expires "
        "after PASSWORD_RESET_TIMEOUT."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", required=True)
        parser.add_argument("--superuser", action="store_true", help="All permissions.")
        parser.add_argument(
            "--group", action="append", default=[], help="Staff group to join (repeatable)."
        )
        parser.add_argument(
            "--base-url",
            default=None,
            help="The admin's public address for the link (default: DJANGO_PUBLIC_URL).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        if user_model.objects.filter(username=options["username"]).exists():
            raise CommandError(f"User {options['username']!r} already exists.")
        groups = []
        for name in options["group"]:
            try:
                groups.append(Group.objects.get(name=name))
            except Group.DoesNotExist:
                raise CommandError(f"No group {name!r}.") from None
        base_url = (options["base_url"] or settings.PUBLIC_BASE_URL).rstrip("/")
        with transaction.atomic():
            user = user_model(
                username=options["username"],
                email=options["email"],
                is_staff=True,
                is_superuser=options["superuser"],
            )
            user.set_unusable_password()
            user.full_clean(exclude=["password"])
            user.save()
            user.groups.set(groups)
            # The code goes after '#': browsers never send that part, so no server or
            # access log between the operator and the portal sees it.
            uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
            token = default_token_generator.make_token(user)
            link = f"{base_url}{reverse('admin_password_set')}#{uidb64}/{token}"
            handed = secret_hand_over(kind=SecretKind.PASSWORD_LINK, secret=link)
        self.stdout.write(self.style.SUCCESS(f"Created staff user {user.username!r}."))
        if handed is not None:
            self.stdout.write(f"The one-time link to set the password: {handed.instructions}")
        elif base_url:
            self.stdout.write(f"Set the password once, at: {link}")
        else:
            self.stdout.write(
                f"Set the password once, at this path of the portal's address: {link} "
                "(set DJANGO_PUBLIC_URL or pass --base-url to print the whole link)"
            )
