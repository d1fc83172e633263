"""The audit trail's CSV export: what the changelist shows, written by a task to a file,
masked, recorded, downloaded from the export's page (each download recorded). The task's
steps, the bucket and resuming: test_export_task.py."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from accounts.staff import StaffRole
from audit.models import AuditExport, AuditExportDownload
from audit.selectors import consultations_in_order
from conftest import admin_search, sign_in
from scoreportal.error_codes import ErrorCode
from scores.models import Consultation
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

EXPORT = reverse("admin:scores_consultation_export")
CONSULTATIONS = reverse("admin:scores_consultation_changelist")
NOON = datetime(2026, 11, 20, 18, 25, 7, tzinfo=UTC)  # 15:25:07 in São Paulo, in the past


@pytest.fixture
def export(auditor_client, django_capture_on_commit_callbacks):
    """Post the export as the trail's button does (its task runs, in-process, as on a
    laptop); the download's response."""

    def exported(query=""):
        with django_capture_on_commit_callbacks(execute=True):
            started = auditor_client.post(f"{EXPORT}{query}")
        assert started.status_code == 302
        made = AuditExport.objects.latest("pk")
        assert started["Location"] == reverse("admin:audit_auditexport_change", args=[made.pk])
        return auditor_client.post(reverse("admin:audit_auditexport_download", args=[made.pk]))

    return exported


def read_csv(response):
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")  # spreadsheets then read it as UTF-8
    delimiter = ";" if response.headers["Content-Language"] == "pt-br" else ","
    return list(csv.reader(io.StringIO(body[1:]), delimiter=delimiter))


@pytest.fixture
def trail(record, api_key):
    """Two scored rows of the example CPF, one of another CPF, a rate-limited request."""
    key = api_key[0]
    return {
        "first": record(EXAMPLE_CPF, at=NOON - timedelta(hours=2), api_key=key)[0],
        "second": record(EXAMPLE_CPF, at=NOON - timedelta(hours=1), api_key=key)[0],
        "other": record(OTHER_EXAMPLE_CPF, at=NOON, api_key=key, latency_ms=1234)[0],
        "limited": record(None, at=NOON, api_key=key, error=ErrorCode.RATE_LIMITED)[0],
    }


def test_if_an_auditor_exports_a_filtered_trail_then_the_csv_has_its_rows_in_portuguese(
    export, trail
):
    response = export("?outcome__exact=scored")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="consultas-de-score-')
    assert "no-store" in response["Cache-Control"]
    header, *rows = read_csv(response)
    assert header[:4] == [
        "Horário (America/Sao_Paulo)",
        "Id da requisição",
        "Organização",
        "Chave de API",
    ]
    assert "Resultado" in header
    assert [row[1] for row in rows] == [
        str(trail[name].request_id) for name in ("other", "second", "first")
    ]
    newest = dict(zip(header, rows[0], strict=True))
    assert newest["Horário (America/Sao_Paulo)"] == "2026-11-20 15:25:07"
    assert newest["CPF"] == "***.444.777-**"
    assert newest["Resultado"] == "Score fornecido"
    assert newest["Latência (ms)"] == "1234"
    body = "".join(";".join(row) for row in rows)
    for consultation in trail.values():
        assert consultation.cpf_hash not in body or not consultation.cpf_hash
    assert "52998224725" not in body
    assert "529.982.247-25" not in body


def test_if_an_english_speaking_auditor_exports_then_headers_are_english_and_commas_separate(
    auditor_client, export, trail
):
    auditor_client.post(reverse("admin:language"), {"language": "en", "next": CONSULTATIONS})

    header, *rows = read_csv(export())

    assert header[:3] == ["Time (America/Sao_Paulo)", "Request id", "Organization"]
    assert len(rows) == 4


def test_if_an_export_runs_then_it_and_its_download_are_recorded(
    auditor_client, auditor, trail, export
):
    searched = admin_search(auditor_client, CONSULTATIONS, EXAMPLE_CPF, outcome__exact="scored")
    response = export(f"?{searched.request['QUERY_STRING']}")

    export = AuditExport.objects.get()
    [download] = AuditExportDownload.objects.all()
    assert (download.export, download.actor, download.actor_name) == (export, auditor, "ana")
    assert (export.actor, export.actor_name, export.row_count) == (auditor, "ana", 2)
    assert export.cpf_masked == "***.982.247-**"
    assert export.cpf_hash == trail["first"].cpf_hash
    assert export.filters == "outcome__exact=scored&q=%2A%2A%2A.982.247-%2A%2A"
    assert "529" not in export.filters
    assert len(read_csv(response)) == 1 + 2


@pytest.mark.parametrize(
    ("search", "kept"),
    [
        pytest.param("52998224725", "q=%2A%2A%2A.982.247-%2A%2A", id="bare-cpf"),
        pytest.param("5299822472", "q=%E2%80%A6", id="near-cpf"),
        pytest.param(
            "0f6f2a3c-5a07-4b8e-9c1e-2b0f8f6f3a11",
            "q=0f6f2a3c-5a07-4b8e-9c1e-2b0f8f6f3a11",
            id="request-id",
        ),
    ],
)
def test_if_an_export_searched_then_the_record_keeps_no_cpf(auditor_client, trail, search, kept):
    searched = admin_search(auditor_client, CONSULTATIONS, search)
    auditor_client.post(f"{EXPORT}?{searched.request['QUERY_STRING']}")

    assert AuditExport.objects.get().filters == kept


def test_if_the_trail_is_filtered_then_its_export_button_posts_the_filters(auditor_client, trail):
    page = auditor_client.get(CONSULTATIONS, {"outcome__exact": "rate_limited"}).content.decode()

    form = re.search(
        r'<form method="post" action="([^"]+)" id="audit-export-form">(.*?)</form>', page, re.S
    )
    assert form is not None
    assert form[1] == f"{EXPORT}?outcome__exact=rate_limited"
    assert 'name="csrfmiddlewaretoken"' in form[2]


def test_if_the_export_is_asked_with_a_get_then_it_is_refused_and_nothing_is_recorded(
    auditor_client, trail
):
    """A link followed from another site (a GET) must not write an export in the
    auditor's name."""
    response = auditor_client.get(EXPORT, {"outcome__exact": "scored"})

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert not AuditExport.objects.exists()


def test_if_the_export_is_posted_without_the_page_s_csrf_token_then_nothing_is_recorded(auditor):
    """A form on another site posting to the export gets no token: refused."""
    client = sign_in(Client(enforce_csrf_checks=True), auditor)

    response = client.post(EXPORT)

    assert response.status_code == 403
    assert not AuditExport.objects.exists()


def test_if_the_filters_are_too_long_to_record_then_no_export_is_made_and_the_list_says_why(
    auditor_client, trail
):
    response = auditor_client.post(f"{EXPORT}?o={'9' * 5000}", follow=True)

    assert response.redirect_chain[-1][0] == CONSULTATIONS
    assert "longos demais para serem registrados" in response.content.decode()
    assert not AuditExport.objects.exists()


def test_if_the_export_has_a_filter_the_list_does_not_know_then_it_goes_back_to_the_list(
    auditor_client, trail
):
    response = auditor_client.post(f"{EXPORT}?nonsense=1")

    assert response.status_code == 302
    assert response["Location"] == f"{CONSULTATIONS}?e=1"  # what the list does with it
    assert not AuditExport.objects.exists()


def test_if_rows_share_a_time_across_chunks_then_the_export_has_each_once_newest_first(
    db, record, api_key
):
    rows = [record(EXAMPLE_CPF, at=NOON, api_key=api_key[0])[0] for _ in range(5)]
    rows += [record(EXAMPLE_CPF, at=NOON - timedelta(seconds=1), api_key=api_key[0])[0]]

    streamed = list(consultations_in_order(Consultation.objects.all(), fields=["pk"], chunk_size=2))

    assert [pk for (pk,) in streamed] == [
        row.pk for row in sorted(rows, key=lambda r: (r.occurred_at, r.pk), reverse=True)
    ]


@pytest.mark.parametrize(
    "role",
    [StaffRole.KEY_MANAGERS, StaffRole.CREDIT_DATA_OPERATORS, None],
    ids=["key-manager", "credit-data-operator", "no-role"],
)
def test_if_staff_who_are_not_auditors_export_then_they_are_refused(role_client, trail, role):
    response = role_client(role).post(EXPORT)

    assert response.status_code == 403
    assert not AuditExport.objects.exists()


def test_if_an_auditor_opens_the_export_records_then_they_are_read_only(
    auditor_client, trail, export
):
    export("?outcome__exact=scored")
    export = AuditExport.objects.get()

    listing = auditor_client.get(reverse("admin:audit_auditexport_changelist"))
    detail = auditor_client.get(reverse("admin:audit_auditexport_change", args=[export.pk]))
    delete = auditor_client.post(reverse("admin:audit_auditexport_delete", args=[export.pk]))

    assert listing.status_code == 200
    assert f"{CONSULTATIONS}?outcome__exact=scored" in listing.content.decode()
    assert detail.status_code == 200
    assert delete.status_code == 403


def test_if_an_export_is_started_then_its_page_shows_the_file_and_the_download_button(
    auditor_client, trail, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        started = auditor_client.post(f"{EXPORT}?outcome__exact=scored")
    page = auditor_client.get(started["Location"])

    body = page.content.decode()
    assert "A exportação está sendo escrita (3 linhas)" in body
    assert 'id="export-status"><strong>Pronta</strong>' in body
    assert 'value="Baixar CSV"' in body
    assert "529" not in started["Location"]


def test_if_a_download_is_asked_with_a_get_then_it_is_refused_and_nothing_is_recorded(
    auditor_client, trail, export
):
    export()
    made = AuditExport.objects.get()

    response = auditor_client.get(reverse("admin:audit_auditexport_download", args=[made.pk]))

    assert response.status_code == 405
    assert AuditExportDownload.objects.count() == 1


@pytest.mark.parametrize(
    "role",
    [StaffRole.KEY_MANAGERS, StaffRole.CREDIT_DATA_OPERATORS],
    ids=["key-manager", "credit-data-operator"],
)
def test_if_staff_who_are_not_auditors_download_an_export_then_they_are_refused(
    role_client, trail, export, role
):
    export()
    made = AuditExport.objects.get()

    response = role_client(role).post(reverse("admin:audit_auditexport_download", args=[made.pk]))

    assert response.status_code == 403
    assert AuditExportDownload.objects.count() == 1
