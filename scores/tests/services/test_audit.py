"""scores.services.audit: one row per consulted CPF, in one INSERT; failures are domain errors."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import owner_sql
from scoreportal.error_codes import ErrorCode
from scores.constants import Endpoint
from scores.core.cpf import Cpf
from scores.exceptions import AuditUnavailable
from scores.models import Consultation
from scores.services import ConsultationRequest, ConsultedCpf, consultations_record

EXAMPLE = Cpf.parse("529.982.247-25")


def a_request(**overrides):
    values = {
        "request_id": str(uuid.uuid4()),
        "endpoint": Endpoint.SCORE,
        "api_key": None,
        "presented_key_prefix": "Abcd1234",
        "client_ip": "2001:db8::1",
        "purpose": "collection",
        "latency_ms": 7,
    }
    return ConsultationRequest(**{**values, **overrides})


def test_if_a_request_consults_several_cpfs_then_one_insert_writes_a_row_for_each(
    db, django_assert_num_queries, settings
):
    request = a_request()
    consulted = [
        ConsultedCpf(cpf=EXAMPLE, http_status=404, error=ErrorCode.NO_CREDIT_DATA),
        ConsultedCpf(
            cpf=Cpf.parse("111.444.777-35"), http_status=404, error=ErrorCode.NO_CREDIT_DATA
        ),
        ConsultedCpf(cpf=None, http_status=400, error=ErrorCode.INVALID_CPF),
    ]

    with django_assert_num_queries(1):
        consultations_record(request=request, consulted=consulted)

    rows = list(Consultation.objects.filter(request_id=request.request_id).order_by("id"))
    assert [row.cpf_masked for row in rows] == ["***.982.247-**", "***.444.777-**", ""]
    assert rows[0].cpf_hash == EXAMPLE.lookup_hash(settings.CPF_HASH_KEY)
    assert {
        (r.outcome, r.http_status, r.client_ip, r.purpose, r.api_key_prefix, r.latency_ms)
        for r in rows
    } == {
        ("no_credit_data", 404, "2001:db8::1", "collection", "Abcd1234", 7),
        ("invalid_cpf", 400, "2001:db8::1", "collection", "Abcd1234", 7),
    }
    assert all(timezone.now() - row.occurred_at < timedelta(seconds=5) for row in rows)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("cpfs", "statements"),
    [
        pytest.param(1, ["INSERT"], id="one-row"),
        pytest.param(3, ["BEGIN", "INSERT", "COMMIT"], id="three-rows"),
    ],
)
def test_if_a_request_is_recorded_in_autocommit_then_it_is_one_insert(cpfs, statements):
    # Outside the test transaction, what the database really receives: one INSERT, whatever
    # the number of rows; bulk_create's BEGIN and COMMIT only when there are several.
    with CaptureQueriesContext(connection) as queries:
        consultations_record(
            request=a_request(),
            consulted=[ConsultedCpf(cpf=EXAMPLE, http_status=200)] * cpfs,
        )

    assert [query["sql"].split(" ", 1)[0] for query in queries.captured_queries] == statements
    assert Consultation.objects.count() == cpfs


@pytest.mark.django_db(transaction=True)
def test_if_the_audit_table_cannot_be_written_then_audit_unavailable_is_raised():
    owner_sql("ALTER TABLE scores_consultation RENAME TO scores_consultation_away")
    try:
        with pytest.raises(AuditUnavailable):
            consultations_record(
                request=a_request(), consulted=[ConsultedCpf(cpf=EXAMPLE, http_status=200)]
            )
    finally:
        owner_sql("ALTER TABLE scores_consultation_away RENAME TO scores_consultation")
