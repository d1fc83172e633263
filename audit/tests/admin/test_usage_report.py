"""The usage report: per organization and key, per day, from the daily summary; charts
from our own static files; CSV; Auditors and Credit data operators only."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Organization
from accounts.staff import StaffRole
from audit.services.usage import usage_summarize
from scoreportal.error_codes import ErrorCode
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

REPORT = reverse("admin:audit_usagereport_changelist")
NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # 15:00 in São Paulo


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def usage(record, issue_key, organization):
    """Two organizations' keys over three days, summarized."""
    other = Organization.objects.create(name="Cooperativa Horizonte", slug="horizonte")
    bank, _ = issue_key(name="originação")
    cooperative, _ = issue_key(organization=other, name="crédito")
    yesterday = NOW - timedelta(days=1)
    record(EXAMPLE_CPF, at=yesterday, api_key=bank, score=850, latency_ms=8)
    record(EXAMPLE_CPF, at=yesterday, api_key=bank, score=450, latency_ms=12, source="computed")
    record(None, at=yesterday, api_key=bank, error=ErrorCode.RATE_LIMITED, latency_ms=2)
    record(OTHER_EXAMPLE_CPF, at=NOW - timedelta(hours=2), api_key=cooperative, score=250)
    record(None, at=NOW - timedelta(hours=2), error=ErrorCode.MISSING_API_KEY)
    record(EXAMPLE_CPF, at=NOW - timedelta(days=40), api_key=bank)  # outside 30 days
    usage_summarize(now=NOW)
    return {"bank": bank, "cooperative": cooperative, "other": other}


def test_if_an_auditor_opens_the_usage_report_then_the_last_30_days_show_per_key_and_day(
    auditor_client, usage, frozen_now
):
    response = auditor_client.get(REPORT)

    assert response.status_code == 200
    report = response.context["report"]
    assert (report.since, report.until) == (date(2026, 10, 24), date(2026, 11, 22))
    assert len(report.by_day) == 30
    total = report.total
    assert (total.requests, total.consultations, total.served, total.throttled, total.refused) == (
        5,
        5,
        3,
        1,
        1,
    )
    assert total.cache_hit_ratio == pytest.approx(2 / 3)
    assert total.mean_score == pytest.approx((850 + 450 + 250) / 3)
    by_key = {
        (str(k.organization or ""), k.api_key.prefix if k.api_key else ""): k.figures
        for k in report.by_key
    }
    bank = by_key[("Banco Exemplo", usage["bank"].prefix)]
    assert (
        bank.consultations,
        bank.served,
        bank.throttled,
        bank.band_excellent,
        bank.band_fair,
    ) == (3, 2, 1, 1, 1)
    assert by_key[("", "")].refused == 1
    page = response.content.decode()
    assert "Relatório de uso" in page
    assert f"{usage['bank'].prefix}</span> · originação" in page
    assert "nenhuma (autenticações que falharam)" in page


def test_if_the_usage_report_is_shown_then_its_charts_are_drawn_from_our_static_files(
    auditor_client, usage, frozen_now
):
    response = auditor_client.get(REPORT)

    page = response.content.decode()
    scripts = re.findall(r"<script[^>]*>", page)
    assert all("src=" in script or 'type="application/json"' in script for script in scripts)
    assert "/static/audit/vendor/chartjs/chart.umd.min.js" in page
    assert "/static/audit/usage_report.js" in page
    assert "cdn" not in page.lower()
    found = re.search(
        r'<script id="usage-chart-data" type="application/json">(.*?)</script>', page, re.S
    )
    assert found is not None
    data = json.loads(found.group(1))
    assert data["labels"][-1] == "22/11"
    served = next(series for series in data["outcomes"] if series["label"] == "Scores fornecidos")
    assert served["data"][-2:] == [2, 1]
    assert [series["label"] for series in data["bands"]] == ["Baixo", "Regular", "Bom", "Excelente"]
    assert data["mean_score"]["data"][-2] == 650.0
    assert auditor_client.get("/static/audit/vendor/chartjs/chart.umd.min.js").status_code == 200


def test_if_the_report_is_narrowed_to_an_organization_then_only_its_keys_count(
    auditor_client, usage, frozen_now
):
    response = auditor_client.get(
        REPORT, {"since": "2026-11-01", "until": "2026-11-22", "organization": usage["other"].pk}
    )

    report = response.context["report"]
    assert [item.api_key.prefix for item in report.by_key] == [usage["cooperative"].prefix]
    assert report.total.consultations == 1


def test_if_the_report_is_downloaded_then_the_csv_has_a_row_per_day_and_key(
    auditor_client, usage, frozen_now
):
    page = auditor_client.get(REPORT).content.decode()
    found = re.search(r'id="usage-csv" href="([^"]+)"', page)
    assert found is not None
    link = found.group(1).replace("&amp;", "&")

    response = auditor_client.get(REPORT + link)

    body = b"".join(response.streaming_content).decode().lstrip("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert header[:5] == ["Dia", "Organização", "Chave de API", "Requisições", "Consultas"]
    assert [(row[0], row[2]) for row in rows] == [
        ("2026-11-21", usage["bank"].prefix),
        ("2026-11-22", usage["cooperative"].prefix),
        ("2026-11-22", ""),  # failed authentications: no organization, listed last
    ]
    bank = dict(zip(header, rows[0], strict=True))
    assert bank["Acertos no cache (% dos scores fornecidos)"] == "50,0"
    assert bank["Score médio"] == "650,0"


def test_if_the_report_says_how_complete_it_is_then_it_names_the_moment(
    auditor_client, usage, frozen_now
):
    page = auditor_client.get(REPORT).content.decode()

    assert "São contadas as consultas até 22/11/2026 14:55:00." in page


def test_if_days_of_the_period_were_never_summarized_then_the_report_warns(
    auditor_client, usage, frozen_now
):
    from audit.models import DailyUsageStatus

    DailyUsageStatus.objects.filter(day__in=[date(2026, 11, 1), date(2026, 11, 2)]).delete()

    page = auditor_client.get(
        REPORT, {"since": "2026-01-01", "until": "2026-11-22"}
    ).content.decode()

    assert "2 dias deste período, a partir de 01/11/2026, ainda não estão resumidos" in page


def test_if_the_period_starts_before_the_first_consultation_then_those_days_are_not_missing(
    auditor_client, usage, frozen_now
):
    page = auditor_client.get(
        REPORT, {"since": "2026-01-01", "until": "2026-11-22"}
    ).content.decode()

    assert "usage-unsummarized" not in page


@pytest.mark.parametrize(
    ("since", "until", "error"),
    [
        pytest.param(
            "2026-11-22", "2026-11-01", "A data inicial é posterior à data final.", id="inverted"
        ),
        pytest.param("2026-11-40", "2026-11-22", "Informe uma data válida.", id="bad-date"),
        pytest.param("", "2026-11-22", "Este campo é obrigatório.", id="no-start"),
    ],
)
def test_if_the_report_is_asked_wrongly_then_the_form_says_why(
    auditor_client, usage, frozen_now, since, until, error
):
    response = auditor_client.get(REPORT, {"since": since, "until": until})

    assert response.status_code == 200
    assert response.context["report"] is None
    assert error in response.content.decode()


@pytest.mark.parametrize(
    ("role", "status"),
    [
        pytest.param(StaffRole.AUDITORS, 200, id="auditor"),
        pytest.param(StaffRole.CREDIT_DATA_OPERATORS, 200, id="credit-data-operator"),
        pytest.param(StaffRole.KEY_MANAGERS, 403, id="key-manager"),
        pytest.param(None, 403, id="no-role"),
    ],
)
def test_if_staff_open_the_usage_report_then_only_auditors_and_credit_data_operators_see_it(
    role_client, usage, frozen_now, role, status
):
    assert role_client(role).get(REPORT).status_code == status


def test_if_an_auditor_brings_the_summary_up_to_date_then_the_day_is_counted_and_recorded(
    auditor_client, record, api_key, frozen_now
):
    from audit.models import DailyUsageStatus, UsageSummaryRefresh

    record(EXAMPLE_CPF, at=NOW - timedelta(hours=1), api_key=api_key[0])
    before = auditor_client.get(REPORT).context["report"]
    assert before.total.consultations == 0
    assert before.unsummarized_days == [date(2026, 11, 22)]  # not the 29 days before it

    response = auditor_client.post(
        reverse("admin:audit_usagereport_refresh"), {"query": "since=2026-11-20&until=2026-11-22"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"{REPORT}?since=2026-11-20&until=2026-11-22"
    after = auditor_client.get(response["Location"])
    assert after.context["report"].total.consultations == 1
    assert after.context["report"].unsummarized_days == []
    assert "O resumo de uso está atualizado" in after.content.decode()
    assert "Atualizado por último por ana" in after.content.decode()
    assert DailyUsageStatus.objects.get(day=date(2026, 11, 22)).summarized_by == "ana"
    [press] = UsageSummaryRefresh.objects.all()
    assert (press.actor_name, press.days, press.last_day, press.up_to_date) == (
        "ana",
        1,
        date(2026, 11, 22),
        True,
    )
    presses = reverse("admin:audit_usagesummaryrefresh_changelist")
    assert presses in after.content.decode()
    listed = auditor_client.get(presses).content.decode()
    assert "ana" in listed
    assert "Atualizações do resumo de uso" in listed


def test_if_the_summary_is_brought_up_to_date_with_a_get_then_nothing_is_summarized(
    auditor_client, record, api_key, frozen_now
):
    record(EXAMPLE_CPF, at=NOW - timedelta(hours=1), api_key=api_key[0])

    response = auditor_client.get(reverse("admin:audit_usagereport_refresh"))

    assert response.status_code == 405
    assert auditor_client.get(REPORT).context["report"].total.consultations == 0


def test_if_there_are_no_consultations_yet_then_no_day_is_missing(auditor_client, frozen_now):
    report = auditor_client.get(REPORT).context["report"]

    assert report.unsummarized_days == []
    assert "usage-unsummarized" not in auditor_client.get(REPORT).content.decode()
