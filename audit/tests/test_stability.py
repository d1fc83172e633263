"""Population stability: PSI against a worked example by hand, the report per week and
month since the activation from the daily summary, its reading, page, chart and CSV."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.staff import StaffRole
from audit.models import DailyUsage
from audit.stability import latest_psi, psi, reading, stability_report
from conftest import sign_in
from scores.models import ScorecardEvent

PAGE = reverse("admin:audit_stabilityreport_changelist")
TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("expected", "actual", "value"),
    [
        # Development sample evenly in four score ranges, monitoring 10/20/30/40 % (the
        # distributions of the KAscore psi() documentation, after Siddiqi 2017, p. 369):
        # (0.10 - 0.25) ln(0.4) = 0.1374436; (0.20 - 0.25) ln(0.8) = 0.0111572;
        # (0.30 - 0.25) ln(1.2) = 0.0091161; (0.40 - 0.25) ln(1.6) = 0.0705005;
        # sum 0.2282174.
        pytest.param([25, 25, 25, 25], [10, 20, 30, 40], 0.228217, id="worked-example"),
        pytest.param([250, 250, 250, 250], [100, 200, 300, 400], 0.228217, id="counts"),
        pytest.param([1, 2, 3, 4], [10, 20, 30, 40], 0.0, id="same-shares"),
        # An empty bin counts as 0.0001: (0.5 - 0.0001) ln(5000) + (0.0001 - 0.5) ln(0.0002)
        # = 0.49990 * 8.51719 + 0.49990 * 8.51719 = 8.51549.
        pytest.param([1, 1, 0, 0], [1, 0, 1, 0], 8.51549, id="empty-bins"),
    ],
)
def test_if_psi_is_computed_then_it_matches_the_hand_computed_value(expected, actual, value):
    assert psi(expected, actual) == pytest.approx(value, abs=1e-5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, "stable"), (0.0999, "stable"), (0.10, "watch"), (0.25, "watch"), (0.2501, "act")],
)
def test_if_a_psi_is_read_then_the_usual_thresholds_apply(value, expected):
    assert reading(value) == expected


@pytest.fixture
def activated_with_usage(db, admin_user):
    """2026.2 activated on 2026-11-01 (São Paulo); served bands per day from the 2nd: the
    first week even, then shifted to 10/20/30/40 from 2026-11-16."""
    with time_machine.travel(datetime(2026, 11, 1, 15, 0, tzinfo=timezone.get_current_timezone())):
        ScorecardEvent.objects.create(action="activated", version="2026.2", actor=admin_user)
    day = date(2026, 11, 2)
    while day <= TODAY:
        shares = (10, 10, 10, 10) if day < date(2026, 11, 16) else (4, 8, 12, 16)
        DailyUsage.objects.create(
            day=day,
            band_low=shares[0],
            band_fair=shares[1],
            band_good=shares[2],
            band_excellent=shares[3],
        )
        day += timedelta(days=1)


def test_if_the_bands_shift_after_activation_then_the_weeks_and_months_show_it(
    activated_with_usage,
):
    report = stability_report(today=TODAY)

    assert (report.version, report.activated_on) == ("2026.2", date(2026, 11, 1))
    assert report.baseline == (70, 70, 70, 70)
    assert [(row.start, row.psi is not None and round(row.psi, 6)) for row in report.weeks] == [
        (date(2026, 11, 2), 0.0),
        (date(2026, 11, 9), 0.0),
        (date(2026, 11, 16), 0.228217),
        (date(2026, 11, 23), 0.228217),
        (date(2026, 11, 30), 0.228217),
        (date(2026, 12, 7), 0.228217),
    ]
    assert [row.reading for row in report.weeks] == ["stable"] * 2 + ["watch"] * 4
    november, december = report.months
    # November: 14 even days (10 each) and 15 shifted (4, 8, 12, 16): 200, 260, 320, 380.
    assert november.counts == (200, 260, 320, 380)
    assert december.counts == (28, 56, 84, 112)
    assert december.reading == "watch"


def test_if_the_operators_start_page_asks_then_the_latest_week_s_psi_is_given(
    activated_with_usage,
):
    with time_machine.travel(datetime(2026, 12, 7, 12, 0, tzinfo=timezone.get_current_timezone())):
        latest = latest_psi()

    assert latest is not None
    assert (latest.start, round(latest.psi or 0, 4), latest.reading) == (
        date(2026, 12, 7),
        0.2282,
        "watch",
    )


def test_if_an_operator_opens_the_report_then_it_is_in_portuguese_with_a_chart_and_a_csv(
    activated_with_usage, staff_member
):
    client = sign_in(Client(), staff_member("otto", role=StaffRole.CREDIT_DATA_OPERATORS))

    with time_machine.travel(datetime(2026, 12, 7, 12, 0, tzinfo=timezone.get_current_timezone())):
        page = client.get(PAGE).content.decode()
        csv = b"".join(client.post(PAGE).streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]

    assert "Scorecard 2026.2, ativado em" in page
    assert 'id="chart-psi"' in page
    assert "0,2282" in page
    assert "atenção" in page
    lines = csv.splitlines()
    assert lines[0].startswith("Período;De;Até;Baixo;Regular;Bom;Excelente;PSI;Leitura")
    assert "semana;2026-11-16;2026-11-22;28;56;84;112;0,2282;atenção" in lines


@pytest.mark.parametrize(
    ("role", "status"),
    [
        pytest.param(StaffRole.CREDIT_DATA_OPERATORS, 200, id="operator"),
        pytest.param(StaffRole.MODEL_APPROVERS, 200, id="approver"),
        pytest.param(StaffRole.AUDITORS, 200, id="auditor"),
        pytest.param(StaffRole.KEY_MANAGERS, 403, id="key-manager"),
    ],
)
def test_if_staff_open_the_stability_report_then_only_those_allowed_see_it(
    db, staff_member, role, status
):
    client = sign_in(Client(), staff_member("x", role=role))

    assert client.get(PAGE).status_code == status
