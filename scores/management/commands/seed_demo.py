from __future__ import annotations

import base64
import csv
import io
import random
import secrets
import tempfile
from pathlib import Path
from typing import Any

import segno
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.constants import Scope
from accounts.models import ApiKey, Organization
from accounts.services import api_key_issue, api_key_revoke
from scores.core.cpf import Cpf
from scores.imports.profile_file import COLUMNS
from scores.models import CreditProfile
from scores.services import (
    ProfileImportReport,
    credit_profiles_import,
    profile_import_command_begin,
    profile_import_command_end,
)

DEMO_ORGANIZATION = "Demo Bank"
DEMO_KEY_NAME = "demo"
DEMO_USERNAME = "admin"
# The CPFs published in the docs, with a strong and a weak profile.
EXAMPLE_PROFILES = {
    "529.982.247-25": ["0.9800", 0, 0, 0, 0, "0.2500", 1, 96, 3],
    "111.444.777-35": ["0.7200", 2, 45, 1, 0, "0.8500", 4, 20, 7],
}


class Command(BaseCommand):
    help = (
        "Seed a laptop with demo data: an organization, a fresh API key (printed once; "
        "the previous demo key is revoked), a staff superuser with an authenticator "
        "(printed as a QR code) and, into an empty database, credit profiles including the "
        "published example CPFs. "
        "Safe to run again. Refuses to run with DJANGO_DEBUG off unless --force: it "
        "prints secrets."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--profiles", type=int, default=3000, help="Generated profiles.")
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Server URL for the example."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DJANGO_DEBUG off (never on a deployed stage: it prints secrets).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo prints an admin password, its authenticator and an API key: it is "
                "for a laptop and refuses to run with DJANGO_DEBUG off. Use --force to run it "
                "anyway on a disposable database."
            )
        existing = CreditProfile.objects.count()
        if existing:
            # Imported once: importing again would revert what an operator changed since.
            self.stdout.write(
                f"Credit profiles: {existing:,} already here; the demo profiles are not "
                "imported again (changes made since are kept)."
            )
        else:
            report = demo_profiles_import(demo_profiles_csv(options["profiles"]))
            self.stdout.write(
                f"Credit profiles: {report.created:,} created, {report.updated:,} updated, "
                f"{report.unchanged:,} unchanged."
            )
        password = self._ensure_superuser()
        device = self._ensure_authenticator()
        plaintext = self._fresh_demo_key()

        url = options["base_url"].rstrip("/")
        admin_url = f"{url}/{settings.ADMIN_URL}"
        self.stdout.write("")
        if password:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Admin: {admin_url}  user {DEMO_USERNAME!r}, password {password}"
                )
            )
        else:
            self.stdout.write(
                f"Admin: {admin_url}  user {DEMO_USERNAME!r} (password unchanged; reset it "
                f"with `manage.py changepassword {DEMO_USERNAME}`)"
            )
        self._print_authenticator(device)
        self.stdout.write(self.style.WARNING(f"Demo API key (shown once): {plaintext}"))
        self.stdout.write("Try it:")
        self.stdout.write(
            f"  curl -s -X POST {url}/api/v1/scores -H 'Authorization: Api-Key {plaintext}' "
            "-H 'Content-Type: application/json' -d '{\"cpf\": \"529.982.247-25\"}'"
        )

    @staticmethod
    def _ensure_superuser() -> str | None:
        """Create the demo superuser; return its password, or None if it already existed."""
        user_model = get_user_model()
        if user_model.objects.filter(username=DEMO_USERNAME).exists():
            return None
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser(
            username=DEMO_USERNAME, email="admin@example.com", password=password
        )
        return password

    @staticmethod
    def _ensure_authenticator() -> TOTPDevice:
        """The demo superuser's authenticator (superusers sign in with a TOTP code)."""
        user = get_user_model().objects.get(username=DEMO_USERNAME)
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="Demo authenticator")
        return device

    def _print_authenticator(self, device: TOTPDevice) -> None:
        qr = io.StringIO()
        segno.make(device.config_url, error="l").terminal(out=qr, compact=True)
        secret = base64.b32encode(device.bin_key).decode()
        self.stdout.write(
            "Sign-in also asks for a code: scan this with an authenticator app "
            f"(or type the key {secret}):"
        )
        self.stdout.write(qr.getvalue(), ending="")

    @staticmethod
    @transaction.atomic
    def _fresh_demo_key() -> str:
        organization, _ = Organization.objects.get_or_create(
            slug="demo", defaults={"name": DEMO_ORGANIZATION, "contact_email": "demo@example.com"}
        )
        for old in ApiKey.objects.filter(
            organization=organization, name=DEMO_KEY_NAME, revoked=False
        ):
            api_key_revoke(api_key=old)
        _, plaintext = api_key_issue(
            organization=organization,
            name=DEMO_KEY_NAME,
            scopes=[Scope.SCORES_READ, Scope.SCORES_BATCH],
        )
        return plaintext


def demo_profiles_import(data: io.StringIO) -> ProfileImportReport:
    """Import a CSV of profiles as `import_profiles` does, recorded like a run of it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo_profiles.csv"
        path.write_text(data.getvalue(), encoding="utf-8")
        record = profile_import_command_begin(path=path, strict=False, dry_run=False)
        with path.open(encoding="utf-8", newline="") as file:
            report = credit_profiles_import(file=file, import_id=record.pk)
        profile_import_command_end(profile_import=record, report=report)
    return report


def demo_profiles_csv(count: int) -> io.StringIO:
    """Deterministic demo profiles as the import's CSV (the same path real data takes)."""
    rng = random.Random(2026)  # noqa: S311 (reproducible demo data, not secrets)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for example, values in EXAMPLE_PROFILES.items():
        writer.writerow([example, *values])
    written = {Cpf.parse(example).digits for example in EXAMPLE_PROFILES}
    while len(written) < count + len(EXAMPLE_PROFILES):
        base = f"{rng.randrange(1, 10**9):09d}"
        try:
            cpf = Cpf.from_base(base)
        except ValueError:
            continue  # a repeated-digit base
        if cpf.digits in written:
            continue
        written.add(cpf.digits)
        writer.writerow([cpf.digits, *_random_profile(rng)])
    buffer.seek(0)
    return buffer


def _random_profile(rng: random.Random) -> list[object]:
    risk = rng.random()  # one latent risk level drives every characteristic
    late = risk > 0.55
    return [
        f"{min(1.0, max(0.0, rng.gauss(0.98 - 0.45 * risk, 0.06))):.4f}",
        rng.choice([0, 1, 2, 3, 5]) if late else 0,
        rng.choice([5, 20, 45, 75, 120]) if late else rng.choice([0, 0, 0, 3]),
        rng.choice([1, 2, 3]) if risk > 0.8 else 0,
        rng.choice([1, 2]) if risk > 0.9 else 0,
        f"{min(1.5, max(0.0, rng.gauss(0.25 + 0.7 * risk, 0.15))):.4f}",
        rng.randrange(0, 3 + int(6 * risk)),
        rng.randrange(1, 240),
        rng.randrange(0, 12),
    ]
