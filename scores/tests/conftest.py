"""Fixtures of the auditors' pages: staff of each role, and audit rows where a test wants
them (written as the audit service writes them, at chosen times)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client

from accounts.models import ApiKey
from accounts.staff import StaffRole
from conftest import sign_in
from scoreportal.error_codes import ErrorCode
from scores.constants import Endpoint, ScoreSource
from scores.core.cpf import Cpf
from scores.models import Consultation
from scores.services import ConsultationRequest, ConsultedCpf, ServedScore, consultations_record


@pytest.fixture
def staff_member(staff_user: Callable[..., tuple[Any, Any]]) -> Callable[..., Any]:
    """A staff user with a role (a group of accounts/staff.py), or a superuser, with a
    first name (the pages greet them by it); password STAFF_PASSWORD."""

    def make(username: str = "ana", *, role: str | None = None, superuser: bool = False) -> Any:
        user, _device = staff_user(username, role=role, superuser=superuser)
        user.first_name = username.title()
        user.save(update_fields=["first_name"])
        return user

    return make


@pytest.fixture
def auditor(staff_member: Callable[..., Any]) -> Any:
    return staff_member("ana", role=StaffRole.AUDITORS)


@pytest.fixture
def auditor_client(auditor: Any) -> Client:
    """A client signed in as an Auditor."""
    return sign_in(Client(), auditor)


@pytest.fixture
def role_client(staff_member: Callable[..., Any]) -> Callable[[str | None], Client]:
    """A client signed in as staff of a role (None: staff with no role)."""

    def make(role: str | None) -> Client:
        username = (role or "no role").lower().replace(" ", "-")
        return sign_in(Client(), staff_member(username, role=role))

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
                    model_version="2026.1",
                    computed_at=at,
                    source=ScoreSource(source),
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
