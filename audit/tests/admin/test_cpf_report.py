"""The consultation report for a CPF (Decreto 9.936/2019 art. 10): who consulted, when and
why, over six months by default; each run recorded; the CPF never in an address."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Organization
from accounts.staff import StaffRole
from audit.models import CpfReportRun
from audit.retention import AUDIT_RETENTION_MIN_DAYS
from conftest import admin_search
from scoreportal.error_codes import ErrorCode
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

REPORT = reverse("admin:audit_cpfreport_changelist")
TODAY = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # 15:00 in São Paulo


@pytest.fixture
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def consulted(record, issue_key, organization):
    """The example CPF consulted by two organizations over seven months; another CPF too."""
    other = Organization.objects.create(name="Cooperativa Horizonte", slug="horizonte")
    bank, _ = issue_key(name="originação")
    cooperative, _ = issue_key(organization=other, name="crédito")
    return {
        "long-ago": record(EXAMPLE_CPF, at=TODAY - timedelta(days=200), api_key=bank)[0],
        "bank": record(
            EXAMPLE_CPF, at=TODAY - timedelta(days=30), api_key=bank, purpose="credit_review"
        )[0],
        "cooperative": record(
            EXAMPLE_CPF,
            at=TODAY - timedelta(days=2),
            api_key=cooperative,
            error=ErrorCode.NO_CREDIT_DATA,
            purpose="fraud_prevention",
        )[0],
        "bank-again": record(EXAMPLE_CPF, at=TODAY - timedelta(hours=1), api_key=bank)[0],
        "someone-else": record(OTHER_EXAMPLE_CPF, at=TODAY - timedelta(days=1), api_key=bank)[0],
    }


def ask(client, cpf, since="", until="", output="page", reason="protocolo 2026-118"):
    data = {"cpf": cpf, "since": since, "until": until, "output": output, "reason": reason}
    return client.post(REPORT, data)


def test_if_an_auditor_opens_the_report_then_a_post_form_asks_for_a_cpf_and_six_months(
    auditor_client, frozen_today
):
    response = auditor_client.get(REPORT)

    page = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<form method="post" id="cpf-report-form"', page)
    form = response.context["form"]
    assert form.initial["until"] == date(2026, 11, 22)
    assert form.initial["since"] == date(2026, 11, 22) - timedelta(days=AUDIT_RETENTION_MIN_DAYS)
    assert not CpfReportRun.objects.exists()


@pytest.mark.parametrize("cpf", [EXAMPLE_CPF, "52998224725", " 529.982.247-25 "])
def test_if_an_auditor_asks_for_a_cpf_then_its_consultations_of_six_months_show_by_organization(
    auditor_client, consulted, frozen_today, cpf
):
    response = ask(auditor_client, cpf, since="2026-05-22", until="2026-11-22")

    page = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert [row.pk for row in response.context["report"]["consultations"]] == [
        consulted[name].pk for name in ("bank-again", "cooperative", "bank")
    ]
    summary = response.context["report"]["by_organization"]
    assert [(str(item.organization), item.count) for item in summary] == [
        ("Banco Exemplo", 2),
        ("Cooperativa Horizonte", 1),
    ]
    assert "Consultas ao score do CPF ***.982.247-**" in page
    assert "De 22/05/2026 a 22/11/2026" in page
    for shown in (
        "Revisão de crédito",
        "Prevenção a fraudes",
        "Sem dados de crédito",
        "22/11/2026 14:00:00",
    ):
        assert shown in page, shown
    report = page[page.index('id="cpf-report"') :]  # the form keeps what the auditor typed
    assert "52998224725" not in report
    assert "529.982.247-25" not in report


def test_if_a_report_is_run_then_who_when_and_which_cpf_are_recorded_before_it_shows(
    auditor_client, auditor, consulted, frozen_today
):
    response = ask(auditor_client, EXAMPLE_CPF, since="2026-05-22", until="2026-11-22")

    run = CpfReportRun.objects.get()
    assert (run.actor, run.actor_name, run.cpf_masked) == (auditor, "ana", "***.982.247-**")
    assert run.reason == "protocolo 2026-118"
    assert run.cpf_hash == consulted["bank"].cpf_hash
    assert (run.period_start, run.period_end) == (date(2026, 5, 22), date(2026, 11, 22))
    assert (run.output, run.row_count, run.occurred_at) == ("page", 3, TODAY)
    assert f"(registro {run.pk})" in response.content.decode()


def test_if_the_range_is_widened_then_older_consultations_show(
    auditor_client, consulted, frozen_today
):
    response = ask(auditor_client, EXAMPLE_CPF, since="2026-01-01", until="2026-11-22")

    assert len(response.context["report"]["consultations"]) == 4


def test_if_no_organization_consulted_the_cpf_then_the_report_says_so(
    auditor_client, consulted, frozen_today
):
    response = ask(auditor_client, "111.444.777-35", since="2026-11-22", until="2026-11-22")

    assert (
        "Nenhuma organização consultou o score deste CPF neste período."
        in response.content.decode()
    )
    assert CpfReportRun.objects.get().row_count == 0


def test_if_the_report_is_downloaded_then_the_csv_lists_the_consultations_and_it_is_recorded(
    auditor_client, consulted, frozen_today
):
    response = ask(
        auditor_client, EXAMPLE_CPF, since="2026-05-22", until="2026-11-22", output="csv"
    )

    body = b"".join(response.streaming_content).decode()
    header, *rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
    assert header == [
        "Horário (America/Sao_Paulo)",
        "Organização",
        "Finalidade",
        "Resultado",
        "CPF",
    ]
    assert rows[0] == [
        "2026-11-22 14:00:00",
        "Banco Exemplo",
        "Análise de crédito",
        "Score fornecido",
        "***.982.247-**",
    ]
    assert len(rows) == 3
    assert CpfReportRun.objects.get().output == CpfReportRun.Output.CSV


@pytest.mark.parametrize(
    ("cpf", "since", "until", "error"),
    [
        pytest.param("", "2026-05-22", "2026-11-22", "Este campo é obrigatório.", id="no-cpf"),
        pytest.param(
            "529.982.247-26", "2026-05-22", "2026-11-22", "Informe um CPF válido", id="check-digit"
        ),
        pytest.param(
            "111.111.111-11", "2026-05-22", "2026-11-22", "Informe um CPF válido", id="repeated"
        ),
        pytest.param(
            "5299822472", "2026-05-22", "2026-11-22", "Informe um CPF válido", id="ten-digits"
        ),
        pytest.param(
            "".join(chr(ord(digit) + 0xFEE0) for digit in "52998224725"),
            "2026-05-22",
            "2026-11-22",
            "Informe um CPF válido",
            id="full-width",
        ),
        pytest.param(
            EXAMPLE_CPF,
            "2026-11-22",
            "2026-05-22",
            "A data inicial é posterior à data final.",
            id="inverted",
        ),
        pytest.param(
            EXAMPLE_CPF, "22/13/2026", "2026-11-22", "Informe uma data válida.", id="bad-date"
        ),
        pytest.param(EXAMPLE_CPF, "", "2026-11-22", "Este campo é obrigatório.", id="no-start"),
    ],
)
def test_if_the_report_is_asked_wrongly_then_the_form_says_why_and_nothing_is_recorded(
    auditor_client, consulted, frozen_today, cpf, since, until, error
):
    response = ask(auditor_client, cpf, since=since, until=until)

    assert response.status_code == 200
    assert response.context["report"] is None
    assert error in response.content.decode()
    assert not CpfReportRun.objects.exists()


def test_if_the_report_is_shown_then_it_prints_with_no_inline_script(
    auditor_client, consulted, frozen_today
):
    page = ask(auditor_client, EXAMPLE_CPF, since="2026-05-22", until="2026-11-22").content.decode()

    assert "data-print" in page
    assert "audit/report_print.js" in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert not re.search(r"\son[a-z]+=", page)


@pytest.mark.parametrize(
    "role",
    [StaffRole.KEY_MANAGERS, StaffRole.CREDIT_DATA_OPERATORS, None],
    ids=["key-manager", "credit-data-operator", "no-role"],
)
def test_if_staff_who_are_not_auditors_ask_for_the_report_then_they_are_refused(
    role_client, consulted, role
):
    client = role_client(role)

    assert client.get(REPORT).status_code == 403
    assert ask(client, EXAMPLE_CPF, since="2026-05-22", until="2026-11-22").status_code == 403
    assert not CpfReportRun.objects.exists()


def test_if_an_auditor_searches_report_runs_by_cpf_then_that_cpfs_runs_show(
    auditor_client, consulted, frozen_today
):
    ask(auditor_client, EXAMPLE_CPF, since="2026-05-22", until="2026-11-22")
    ask(auditor_client, OTHER_EXAMPLE_CPF, since="2026-05-22", until="2026-11-22")

    response = admin_search(
        auditor_client, reverse("admin:audit_cpfreportrun_changelist"), "52998224725"
    )

    assert [run.cpf_masked for run in response.context["cl"].result_list] == ["***.982.247-**"]


def test_if_no_reason_is_given_then_the_report_is_not_run_nor_recorded(auditor_client, consulted):
    response = ask(auditor_client, EXAMPLE_CPF, reason="")

    assert response.context["report"] is None
    assert "reason" in response.context["form"].errors
    assert not CpfReportRun.objects.exists()
