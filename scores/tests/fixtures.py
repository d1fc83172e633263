"""The scores app's fixtures, for every app's tests: the published example CPFs, credit
profiles, audit rows written as the score path writes them (at chosen times), and a record
for each import a test runs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from accounts.models import ApiKey
from scoreportal.error_codes import ErrorCode
from scores.constants import Endpoint, ScoreSource
from scores.core.cpf import Cpf
from scores.models import Consultation, CreditProfile
from scores.services import ConsultationRequest, ConsultedCpf, ServedScore, consultations_record

# The CPFs published in the documentation.
EXAMPLE_CPF = "529.982.247-25"
OTHER_EXAMPLE_CPF = "111.444.777-35"

GOOD_PROFILE: dict[str, Any] = {
    "on_time_payment_ratio": "0.9800",
    "delinquencies_30d_12m": 0,
    "max_days_past_due_12m": 0,
    "active_negative_records": 0,
    "protests": 0,
    "credit_utilization": "0.2500",
    "hard_inquiries_90d": 1,
    "credit_history_months": 96,
    "active_credit_contracts": 3,
}


@pytest.fixture
def make_profile(db: None, settings: Any) -> Callable[..., CreditProfile]:
    """Create a credit profile for a CPF (default: the published example) directly."""

    def make(cpf: str = EXAMPLE_CPF, **values: Any) -> CreditProfile:
        parsed = Cpf.parse(cpf)
        return CreditProfile.objects.create(
            cpf_hash=parsed.lookup_hash(settings.CPF_HASH_KEY),
            cpf_masked=parsed.masked,
            **{**GOOD_PROFILE, **values},
        )

    return make


@pytest.fixture
def record(db: None) -> Callable[..., list[Consultation]]:
    """Record consultations through the audit service, as the API would, at `at`."""

    def make(
        *cpfs: str | None,
        at: datetime,
        api_key: ApiKey | None = None,
        error: ErrorCode | None = None,
        purpose: str = "credit_analysis",
        score: int = 742,
        source: str = ScoreSource.CACHE,
        latency_ms: int = 12,
        presented_key_prefix: str = "",
        http_status: int | None = None,
        bins: tuple[int, ...] = (),
        model_version: str = "2026.1",
    ) -> list[Consultation]:
        consulted = []
        for cpf in cpfs or (None,):
            parsed = Cpf.parse(cpf) if cpf else None
            if error is None:
                assert parsed is not None, "a served score has a CPF"
                served = ServedScore(
                    cpf=parsed,
                    score=score,
                    band=_band(score),
                    probability_of_default=Decimal("0.0100"),
                    reasons=(),
                    model_version=model_version,
                    computed_at=at,
                    source=ScoreSource(source),
                    under_dispute=False,
                    bins=bins,
                )
                consulted.append(ConsultedCpf(cpf=parsed, http_status=200, served=served))
            else:
                status = http_status or _STATUS[error]
                consulted.append(ConsultedCpf(cpf=parsed, http_status=status, error=error))
        with time_machine.travel(at, tick=False):
            return consultations_record(
                request=ConsultationRequest(
                    request_id=str(uuid.uuid4()),
                    endpoint=Endpoint.SCORE,
                    api_key=api_key,
                    presented_key_prefix=presented_key_prefix,
                    client_ip="203.0.113.7",
                    purpose=purpose,
                    latency_ms=latency_ms,
                ),
                consulted=consulted,
            )

    return make


def _band(score: int) -> str:
    from scores.core.scorecard import band_for

    return band_for(score).value


def _status_of(code: ErrorCode) -> int:
    from scoreportal.api.errors import ERROR_STATUS_AND_MESSAGE

    return ERROR_STATUS_AND_MESSAGE[code][0]


_STATUS = {code: _status_of(code) for code in ErrorCode}


@pytest.fixture
def new_import_id(db):
    """A new import's record, for each import a test runs through the engine: every import
    is recorded, and the CPFs it reads are kept under its record while it runs."""
    from scores.models import ProfileImport

    def record():
        return ProfileImport.objects.create(
            source=ProfileImport.Source.COMMAND,
            actor_name="test",
            file_name="test.csv",
            file_sha256="0" * 64,
            file_size=0,
            status=ProfileImport.Status.IMPORTING,
        ).pk

    return record
