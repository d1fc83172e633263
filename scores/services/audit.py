"""The audit trail of score queries: the one writer of Consultation rows, and pruning."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.models import ApiKey
from scoreportal.error_codes import ErrorCode
from scores.constants import OUTCOME_SCORED, Endpoint
from scores.cpf import Cpf
from scores.exceptions import AuditPruneNotPermitted, AuditUnavailable
from scores.models import AuditExport, Consultation, CpfReportRun
from scores.retention import AUDIT_RETENTION_MIN_DAYS
from scores.services.scoring import ServedScore

# The append-only tables prune_audit may remove old rows from.
AUDIT_MODELS: tuple[type[Consultation] | type[AuditExport] | type[CpfReportRun], ...] = (
    Consultation,
    AuditExport,
    CpfReportRun,
)


@dataclass(frozen=True, slots=True)
class ConsultationRequest:
    """What all audit rows of one request share."""

    request_id: str
    endpoint: Endpoint
    api_key: ApiKey | None
    presented_key_prefix: str
    client_ip: str | None
    purpose: str
    latency_ms: int


@dataclass(frozen=True, slots=True)
class ConsultedCpf:
    """One CPF of a request and what was answered for it (cpf is None when unparsable)."""

    cpf: Cpf | None
    http_status: int
    error: ErrorCode | None = None
    served: ServedScore | None = None


def consultations_record(
    *, request: ConsultationRequest, consulted: Sequence[ConsultedCpf]
) -> list[Consultation]:
    """Write the request's audit rows, one per CPF, in one INSERT (bulk_create).

    Raises AuditUnavailable when they cannot be written: the caller must then not send
    personal data without its trail.
    """
    api_key = request.api_key
    rows = [
        Consultation(
            request_id=request.request_id,
            endpoint=request.endpoint,
            organization_id=api_key.organization_id if api_key else None,
            api_key=api_key,
            api_key_prefix=api_key.prefix if api_key else request.presented_key_prefix,
            client_ip=request.client_ip,
            purpose=request.purpose,
            cpf_hash=item.cpf.lookup_hash(settings.CPF_HASH_KEY) if item.cpf else "",
            cpf_masked=item.cpf.masked if item.cpf else "",
            outcome=item.error.value if item.error else OUTCOME_SCORED,
            http_status=item.http_status,
            score=item.served.score if item.served else None,
            band=item.served.band if item.served else "",
            model_version=item.served.model_version if item.served else "",
            source=item.served.source if item.served else "",
            latency_ms=request.latency_ms,
        )
        for item in consulted
    ]
    try:
        return Consultation.objects.bulk_create(rows)
    except DatabaseError as exc:
        raise AuditUnavailable() from exc


def consultations_prune(
    *, retention_days: int, batch_size: int = 10_000, max_seconds: float | None = None
) -> int:
    """Delete audit rows older than `retention_days`: the one sanctioned deletion. Audit
    rows are consultations and the records of who read them (exports, per-CPF reports).

    Batches keep each transaction short; with `max_seconds` it stops between batches once
    that time is spent (a Lambda invocation has a hard limit), and the next run goes on.
    On Postgres only the schema's owner may delete audit rows (the serving role may read
    and insert them only: AuditPruneNotPermitted), and the append-only trigger lets a
    DELETE through only inside a transaction that set `scoreportal.audit_prune`, and only
    for rows older than AUDIT_RETENTION_MIN_DAYS (six months).
    """
    if retention_days < AUDIT_RETENTION_MIN_DAYS:
        raise ValueError(f"retention must be at least {AUDIT_RETENTION_MIN_DAYS} days")
    _check_may_delete_audit_rows()
    cutoff = timezone.now() - timedelta(days=retention_days)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    deleted = 0
    for model in AUDIT_MODELS:
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                return deleted
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL scoreportal.audit_prune = 'on'")
                batch = list(
                    model.objects.filter(occurred_at__lt=cutoff)
                    .order_by("occurred_at")
                    .values_list("pk", flat=True)[:batch_size]
                )
                if not batch:
                    break
                model.objects.filter(pk__in=batch).delete()
                deleted += len(batch)
    return deleted


def _check_may_delete_audit_rows() -> None:
    """Refuse at once, naming the role and the tables, rather than at the first batch with
    the database's bare "permission denied"."""
    if connection.vendor != "postgresql":
        return  # SQLite has no roles; its triggers still guard young rows
    tables = [model._meta.db_table for model in AUDIT_MODELS]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, name FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, n)"
            " WHERE NOT has_table_privilege(name, 'DELETE') ORDER BY n",
            [tables],
        )
        refused = cursor.fetchall()
    if refused:
        role = refused[0][0]
        raise AuditPruneNotPermitted(
            f"prune_audit runs as the schema's owner (on AWS, the ops function): role {role} "
            f"has no DELETE privilege on {', '.join(table for _, table in refused)}."
        )
