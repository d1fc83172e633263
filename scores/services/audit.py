"""The audit trail of score queries: the one writer of Consultation rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError

from accounts.models import ApiKey
from scoreportal.error_codes import ErrorCode
from scores.constants import OUTCOME_SCORED, Endpoint
from scores.core.cpf import Cpf
from scores.core.scorecard import bins_text
from scores.exceptions import AuditUnavailable
from scores.models import Consultation
from scores.services.scoring import ServedScore


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
    # Without a usable key: the organization of a key refused once its secret was verified
    # (revoked, expired, its organization inactive).
    refused_key_organization_id: int | None = None


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
    """Write the request's audit rows, one per CPF, in one INSERT: a single row with save()
    (one statement in autocommit), more with bulk_create (which wraps its INSERT in a
    transaction: BEGIN and COMMIT are two more round trips).

    Raises AuditUnavailable when they cannot be written: the caller must then not send
    personal data without its trail.
    """
    api_key = request.api_key
    rows = [
        Consultation(
            request_id=request.request_id,
            endpoint=request.endpoint,
            organization_id=api_key.organization_id
            if api_key
            else request.refused_key_organization_id,
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
            characteristic_bins=bins_text(item.served.bins) if item.served else "",
            latency_ms=request.latency_ms,
        )
        for item in consulted
    ]
    try:
        if len(rows) == 1:
            rows[0].save(force_insert=True)
            return rows
        return Consultation.objects.bulk_create(rows)
    except DatabaseError as exc:
        raise AuditUnavailable() from exc
