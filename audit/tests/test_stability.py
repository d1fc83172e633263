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
from audit.local_days import midnight
from audit.models import DailyUsage, DailyUsageStatus
from audit.stability import binned, decile_edges, latest_psi, psi, reading, stability_report
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


def histogram(counts: dict[int, int]) -> list[int]:
    """The summary's score histogram: {bucket of 10 points: count}."""
    return [counts.get(bucket, 0) for bucket in range(100)]


def usage_row(day, buckets: dict[int, int], *, bins=None, unknown=0, version="2026.2"):
    bands = [0, 0, 0, 0]
    for bucket, count in buckets.items():
        score = bucket * 10
        bands[0 if score <= 300 else 1 if score <= 500 else 2 if score <= 700 else 3] += count
    DailyUsageStatus.objects.create(
        day=day,
        covered_until=midnight(day + timedelta(days=1)),
        complete=True,
        summarized_at=midnight(day + timedelta(days=1)),
        score_histogram=histogram(buckets),
        characteristic_bins={version: {"bins": bins or [], "unknown": unknown}},
    )
    return DailyUsage.objects.create(
        day=day,
        band_low=bands[0],
        band_fair=bands[1],
        band_good=bands[2],
        band_excellent=bands[3],
    )


# Ten 10-point buckets from 400 to 850, ten scores a day each: the reference's deciles are
# these buckets. From 2026-11-16 the lower five hold 15 a day and the upper five 5.
EVEN = dict.fromkeys(range(40, 90, 5), 10)
SHIFTED = {bucket: 15 if bucket < 65 else 5 for bucket in range(40, 90, 5)}
# The first characteristic (on_time_payment_ratio, five bins): even, then shifted.
EVEN_BINS = [[20, 20, 20, 20, 20]]
SHIFTED_BINS = [[40, 20, 20, 10, 10]]


@pytest.fixture
def activated_with_usage(db, admin_user):
    """2026.2 activated on 2026-11-01 (São Paulo); served scores per day from the 2nd: the
    first two weeks even over ten score ranges, then shifted from 2026-11-16."""
    with time_machine.travel(datetime(2026, 11, 1, 15, 0, tzinfo=timezone.get_current_timezone())):
        ScorecardEvent.objects.create(action="activated", version="2026.2", actor=admin_user)
    day = date(2026, 11, 2)
    while day <= TODAY:
        if day < date(2026, 11, 16):
            usage_row(day, EVEN, bins=EVEN_BINS)
        else:
            usage_row(day, SHIFTED, bins=SHIFTED_BINS, unknown=5)
        day += timedelta(days=1)


# Five bins from 10 % to 15 % and five to 5 %:
# 5 * (0.15 - 0.10) ln(1.5) + 5 * (0.05 - 0.10) ln(0.5) = 0.1013663 + 0.1732868 = 0.2746531.
SHIFTED_PSI = 0.274653
# 20/20/20/20/20 % to 40/20/20/10/10 %: 0.2 ln 2 + 2 * 0.1 ln 2 = 0.2772589.
SHIFTED_CSI = 0.277259


def test_if_the_scores_shift_after_activation_then_the_weeks_and_months_show_it(
    activated_with_usage,
):
    report = stability_report(today=TODAY)

    assert (report.version, report.activated_on) == ("2026.2", date(2026, 11, 1))
    assert [(b.low, b.high, round(b.share, 1)) for b in report.score_bins] == [
        (0, 409, 10.0),
        *((low, low + 49, 10.0) for low in range(410, 810, 50)),
        (810, 1000, 10.0),
    ]
    assert [(row.start, row.psi is not None and round(row.psi, 6)) for row in report.weeks] == [
        (date(2026, 11, 2), 0.0),
        (date(2026, 11, 9), 0.0),
        (date(2026, 11, 16), SHIFTED_PSI),
        (date(2026, 11, 23), SHIFTED_PSI),
        (date(2026, 11, 30), SHIFTED_PSI),
        (date(2026, 12, 7), SHIFTED_PSI),
    ]
    assert [row.reading for row in report.weeks] == ["stable"] * 2 + ["act"] * 4
    november, december = report.months
    assert november.served == 29 * 100
    assert december.reading == "act"
    assert report.characteristics[0] == "on_time_payment_ratio"
    assert [round(row.csi[0] or 0, 6) for row in report.weeks] == [0.0, 0.0] + [SHIFTED_CSI] * 4
    assert [row.csi_readings[0] for row in report.weeks] == ["stable"] * 2 + ["act"] * 4
    # Characteristics without bins in the summary have no CSI; scores without bins counted.
    assert report.weeks[0].csi[1] is None
    assert [row.without_bins for row in report.weeks] == [0, 0, 35, 35, 35, 5]


def test_if_a_day_was_summarized_before_the_histogram_then_its_periods_are_not_compared(
    activated_with_usage,
):
    DailyUsageStatus.objects.filter(day=date(2026, 11, 24)).update(
        score_histogram=[], characteristic_bins={}
    )

    report = stability_report(today=TODAY)

    week = report.weeks[3]
    assert (week.start, week.comparable, week.psi, week.reading) == (
        date(2026, 11, 23),
        False,
        None,
        "",
    )
    assert week.without_bins == 6 * 5 + 100  # the old day's scores have no bins either
    assert report.weeks[4].comparable
    assert report.weeks[4].psi == pytest.approx(SHIFTED_PSI)
    assert not report.months[0].comparable
    assert report.months[1].comparable


def test_if_the_reference_is_concentrated_then_the_deciles_merge_and_empty_ends_join():
    # 0-9 empty; 35 % in 400-409; the rest spread; nothing above 700.
    counts = histogram({40: 35, 50: 15, 55: 15, 60: 15, 65: 10, 69: 10})

    edges = decile_edges(counts)

    assert edges == [0, 41, 51, 56, 61, 66]
    assert binned(counts, edges) == (35, 15, 15, 15, 10, 10)


def test_if_the_operators_start_page_asks_then_the_latest_week_s_psi_is_given(
    activated_with_usage,
):
    with time_machine.travel(datetime(2026, 12, 7, 12, 0, tzinfo=timezone.get_current_timezone())):
        latest = latest_psi()

    assert latest is not None
    assert (latest.start, round(latest.psi or 0, 4), latest.reading) == (
        date(2026, 12, 7),
        0.2747,
        "act",
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
    assert 'id="chart-csi"' in page
    assert "0,2747" in page
    assert "agir" in page
    assert "Estabilidade das características (CSI)" in page
    assert "pagamentos em dia (12 meses)" in page
    lines = csv.splitlines()
    assert lines[0].startswith(
        "Período;De;Até;Baixo;Regular;Bom;Excelente;PSI;Leitura;Scores sem faixas;"
        "CSI: pagamentos em dia (12 meses);"
    )
    assert "semana;2026-11-16;2026-11-22;0;315;280;105;0,2747;agir;35;0,2773;" in csv


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
