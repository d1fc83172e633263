from __future__ import annotations

import io
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.constants import Scope
from accounts.models import ApiKey, Organization
from accounts.services import api_key_issue, api_key_revoke
from audit.synthetic_audit import Generator, SyntheticKey, SyntheticRow, rows_per_day
from scores.models import Consultation

# Organizations of very different sizes (share of the traffic), and their keys' names.
ORGANIZATIONS = (
    ("Banco Aurora", 0.34, ("originação", "antifraude", "cobrança")),
    ("Cooperativa Horizonte", 0.2, ("crédito",)),
    ("Financeira Ipê", 0.15, ("sistema de crédito", "legado")),
    ("Banco Jacarandá", 0.11, ("originação", "revisão de carteira")),
    ("Fintech Sabiá", 0.09, ("app",)),
    ("Varejo Tucano", 0.06, ("crediário", "loja online", "piloto", "parceiro")),
    ("Seguradora Araucária", 0.04, ("subscrição",)),
    ("Consórcio Quero-Quero", 0.01, ("cadastro",)),
)
SLUG_PREFIX = "generated-"
SEPARATOR = "\t"
NULL = r"\N"


class Command(BaseCommand):
    help = (
        "Append N synthetic audit rows (score consultations) for measuring the auditors' "
        "pages at scale (bench/README.md): organizations and keys of their own, every "
        "outcome, spread over --days days. Audit rows can never be deleted, so this is for "
        "a disposable database: it refuses to run with DJANGO_DEBUG off unless --force. "
        "Postgres is loaded with COPY."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("rows", type=int, help="How many rows to add.")
        parser.add_argument("--days", type=int, default=400, help="Spread over this many days.")
        parser.add_argument("--end", default=None, help="The last moment (ISO 8601; default: now).")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run with DJANGO_DEBUG off (a disposable database only: the rows stay).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "generate_audit_rows adds audit rows that can never be removed: it is for a "
                "disposable database and refuses to run with DJANGO_DEBUG off. Use --force "
                "to run it anyway."
            )
        total, days = options["rows"], options["days"]
        if total < 1 or days < 1:
            raise CommandError("rows and --days must be at least 1.")
        end = timezone.now()
        if options["end"]:
            parsed = parse_datetime(options["end"])
            if parsed is None or timezone.is_naive(parsed):
                raise CommandError("--end must be an ISO 8601 time with its offset.")
            end = parsed
        keys, presented = self.synthetic_keys()
        generator = Generator(
            keys=keys,
            presented=presented,
            total=total,
            cpf_hash_key=settings.CPF_HASH_KEY,
            scorecard_changed_at=end - timedelta(days=days // 2),
            seed=options["seed"],
        )
        write = self.copy_day if connection.vendor == "postgresql" else self.create_day
        started = time.monotonic()
        written = 0
        next_report = total // 10
        for day_start, count in rows_per_day(total=total, days=days, end=end):
            rows = list(generator.day(day_start, count, until=end))
            write(rows)
            written += len(rows)
            if written >= next_report and options["verbosity"] >= 1:
                self.stdout.write(f"  {written:,} rows ({written / total:.0%})")
                next_report += total // 10
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {Consultation._meta.db_table}")
        seconds = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {written:,} audit rows over {days} days for {len(ORGANIZATIONS)} "
                f"organizations and {len(keys)} keys in {seconds:.0f} s "
                f"({written / max(seconds, 1e-9):,.0f} rows/s)."
            )
        )

    def synthetic_keys(self) -> tuple[list[SyntheticKey], list[str]]:
        """The generated organizations' keys (issued the first time), and the prefixes of
        a revoked and an expired one, which fail authentication."""
        keys: list[SyntheticKey] = []
        presented: list[str] = []
        for number, (name, share, key_names) in enumerate(ORGANIZATIONS, start=1):
            organization, _created = Organization.objects.get_or_create(
                slug=f"{SLUG_PREFIX}{number}", defaults={"name": name}
            )
            existing = list(
                ApiKey.objects.filter(organization=organization, revoked=False).order_by("created")
            )
            for key_name in key_names[len(existing) :]:
                issued, _plaintext = api_key_issue(
                    organization=organization, name=key_name, scopes=[Scope.SCORES_READ]
                )
                existing.append(issued)
            network = f"200.{10 + number}.{number * 7 % 256}"
            # Within an organization, the first key carries most of the traffic.
            weights = [1 / (index + 1) for index in range(len(existing))]
            for index, api_key in enumerate(existing):
                keys.append(
                    SyntheticKey(
                        prefix=api_key.prefix,
                        organization_id=organization.pk,
                        addresses=tuple(f"{network}.{10 + index * 4 + n}" for n in range(3)),
                        weight=share * weights[index] / sum(weights),
                    )
                )
            if number == 1:
                presented.extend(self.failing_prefixes(organization))
        return keys, presented

    def failing_prefixes(self, organization: Organization) -> list[str]:
        revoked = ApiKey.objects.filter(organization=organization, revoked=True).first()
        if revoked is None:
            revoked, _plaintext = api_key_issue(
                organization=organization, name="vazada", scopes=[Scope.SCORES_READ]
            )
            api_key_revoke(api_key=revoked)
        expired = ApiKey.objects.filter(
            organization=organization, expiry_date__lt=timezone.now()
        ).first()
        if expired is None:
            expired, _plaintext = api_key_issue(
                organization=organization, name="homologação", scopes=[Scope.SCORES_READ]
            )
            # Synthetic history: a key that expired a month ago. No service sets an expiry
            # in the past, so it is written as the passing of time would have left it.
            expired.expiry_date = timezone.now() - timedelta(days=30)
            ApiKey.objects.filter(pk=expired.pk).update(expiry_date=expired.expiry_date)
        return [revoked.prefix, expired.prefix]

    def copy_day(self, rows: list[SyntheticRow]) -> None:
        """COPY the rows into the audit table: its columns, named by the model."""
        if not rows:
            return
        columns = list(rows[0].values)
        table = connection.ops.quote_name(Consultation._meta.db_table)
        column_of = {
            field.attname: str(field.column) for field in Consultation._meta.concrete_fields
        }
        names = ", ".join(connection.ops.quote_name(column_of[name]) for name in columns)
        buffer = io.StringIO()
        for row in rows:
            buffer.write(SEPARATOR.join(_copy_text(row.values[name]) for name in columns))
            buffer.write("\n")
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN", buffer)

    def create_day(self, rows: list[SyntheticRow]) -> None:
        Consultation.objects.bulk_create(
            [Consultation(**row.values) for row in rows], batch_size=500
        )


def _copy_text(value: object) -> str:
    """A value in COPY's text format (none of ours holds a tab, newline or backslash)."""
    if value is None:
        return NULL
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
