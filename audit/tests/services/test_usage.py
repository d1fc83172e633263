"""audit.services.usage: the daily summary, idempotent, complete days final; and reading
percentiles from its latency histograms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction

from audit.constants import LATENCY_BUCKETS_MS, OUTCOME_CLASSES
from audit.models import DailyUsage, DailyUsageStatus, UsageSummaryRefresh
from audit.selectors import UsageFigures
from audit.services.usage import (
    SETTLE_TIME,
    usage_reopen_from,
    usage_summarize,
    usage_summary_refresh,
)
from conftest import FakeClock
from scoreportal.error_codes import ErrorCode
from scores.constants import OUTCOME_CHOICES
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = pytest.mark.django_db

# 22 November 2026, 10:00 in São Paulo (UTC-3).
MORNING = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)
DAY = date(2026, 11, 22)


def figures_of(day, key=None):
    rows = DailyUsage.objects.filter(day=day)
    if key is not None:
        rows = rows.filter(api_key=key)
    return [
        (
            row.requests,
            row.consultations,
            row.served,
            row.no_credit_data,
            row.invalid,
            row.refused,
            row.throttled,
            row.failed,
            row.from_cache,
            row.band_excellent,
            row.score_sum,
        )
        for row in rows.order_by("api_key_id")
    ]


def test_if_every_outcome_is_counted_then_each_has_a_class():
    assert {value for value, _label in OUTCOME_CHOICES} == set(OUTCOME_CLASSES)


def test_if_a_day_is_summarized_then_its_rows_sum_per_key_and_outcome_class(record, api_key):
    key = api_key[0]
    record(EXAMPLE_CPF, OTHER_EXAMPLE_CPF, at=MORNING, api_key=key, score=800)  # one request
    record(EXAMPLE_CPF, at=MORNING, api_key=key, source="computed", score=900)
    record(EXAMPLE_CPF, at=MORNING, api_key=key, error=ErrorCode.NO_CREDIT_DATA)
    record(None, at=MORNING, api_key=key, error=ErrorCode.QUOTA_EXCEEDED)
    record(None, at=MORNING, error=ErrorCode.INVALID_API_KEY, presented_key_prefix="Zz9Zz9Zz")

    summarized = usage_summarize(now=MORNING + timedelta(hours=1))

    assert summarized == [DAY]
    assert figures_of(DAY, key) == [(4, 5, 3, 1, 0, 0, 1, 0, 2, 3, 2500)]
    anonymous = DailyUsage.objects.get(day=DAY, api_key=None)
    assert (anonymous.organization_id, anonymous.consultations, anonymous.refused) == (None, 1, 1)
    status = DailyUsageStatus.objects.get(day=DAY)
    assert status.complete is False
    assert status.covered_until == MORNING + timedelta(hours=1) - SETTLE_TIME


def test_if_the_summary_runs_twice_then_the_rows_are_the_same(record, api_key):
    record(EXAMPLE_CPF, at=MORNING, api_key=api_key[0])
    usage_summarize(now=MORNING + timedelta(hours=1))
    first = figures_of(DAY)

    usage_summarize(now=MORNING + timedelta(hours=1))

    assert figures_of(DAY) == first
    assert DailyUsage.objects.count() == 1


def test_if_a_day_goes_on_then_the_next_run_counts_its_new_rows(record, api_key):
    key = api_key[0]
    record(EXAMPLE_CPF, at=MORNING, api_key=key)
    usage_summarize(now=MORNING + timedelta(hours=1))
    record(EXAMPLE_CPF, at=MORNING + timedelta(hours=2), api_key=key)

    usage_summarize(now=MORNING + timedelta(hours=3))

    assert DailyUsage.objects.get(day=DAY).consultations == 2


def test_if_rows_are_younger_than_the_settling_time_then_they_wait_for_the_next_run(
    record, api_key
):
    record(EXAMPLE_CPF, at=MORNING, api_key=api_key[0])

    usage_summarize(now=MORNING + SETTLE_TIME / 2)

    assert not DailyUsage.objects.exists()


def test_if_a_day_is_complete_then_it_is_never_summarized_again(record, api_key):
    key = api_key[0]
    record(EXAMPLE_CPF, at=MORNING, api_key=key)
    next_day = MORNING + timedelta(days=1)
    usage_summarize(now=next_day)
    assert DailyUsageStatus.objects.get(day=DAY).complete

    record(EXAMPLE_CPF, at=MORNING, api_key=key)  # cannot happen; and if it did
    usage_summarize(now=next_day + timedelta(hours=1))

    assert DailyUsage.objects.get(day=DAY).consultations == 1


def test_if_days_passed_without_a_run_then_each_is_summarized_including_quiet_ones(record, api_key):
    key = api_key[0]
    record(EXAMPLE_CPF, at=MORNING - timedelta(days=3), api_key=key)
    record(EXAMPLE_CPF, at=MORNING, api_key=key)

    summarized = usage_summarize(now=MORNING + timedelta(hours=1))

    assert summarized == [DAY - timedelta(days=offset) for offset in (3, 2, 1, 0)]
    assert DailyUsageStatus.objects.filter(complete=True).count() == 3
    assert DailyUsage.objects.count() == 2


def test_if_time_runs_out_then_it_stops_between_days_and_the_next_run_goes_on(record, api_key):
    key = api_key[0]
    record(EXAMPLE_CPF, at=MORNING - timedelta(days=2), api_key=key)
    record(EXAMPLE_CPF, at=MORNING, api_key=key)
    clock = FakeClock()

    first = usage_summarize(now=MORNING + timedelta(hours=1), max_seconds=0, clock=clock)
    second = usage_summarize(now=MORNING + timedelta(hours=1))

    assert first == []
    assert second == [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY]


def test_if_a_staff_member_brings_the_summary_up_to_date_then_each_press_is_recorded(
    record, api_key, staff_member
):
    key, ana = api_key[0], staff_member("ana")
    record(EXAMPLE_CPF, at=MORNING - timedelta(days=2), api_key=key)
    record(EXAMPLE_CPF, at=MORNING, api_key=key)
    now = MORNING + timedelta(hours=1)

    cut_short = usage_summary_refresh(actor=ana, now=now, max_seconds=0, clock=FakeClock())
    done = usage_summary_refresh(actor=ana, now=now)
    again = usage_summary_refresh(actor=ana, now=now)

    pressed = [
        (press.actor_name, press.days, press.last_day, press.up_to_date)
        for press in (cut_short, done, again)
    ]
    assert pressed == [("ana", 0, None, False), ("ana", 3, DAY, True), ("ana", 1, DAY, True)]
    assert UsageSummaryRefresh.objects.count() == 3
    with pytest.raises(DatabaseError, match=r"append-only|permission denied"), transaction.atomic():
        UsageSummaryRefresh.objects.all().delete()


def test_if_nothing_was_ever_consulted_then_there_is_nothing_to_summarize():
    assert usage_summarize(now=MORNING) == []


def test_if_the_command_and_the_scheduled_task_run_then_the_summary_is_brought_up_to_date(
    record, api_key, settings
):
    from scoreportal.lambda_tasks import summarize_usage

    record(EXAMPLE_CPF, at=datetime.now(tz=UTC) - timedelta(days=1), api_key=api_key[0])
    out = StringIO()

    call_command("summarize_usage", stdout=out)
    summarize_usage({"source": "aws.events"}, None)

    assert "Summarized 2 days" in out.getvalue()
    assert DailyUsage.objects.count() == 1


@pytest.mark.parametrize(
    ("latencies", "p50", "p95"),
    [
        pytest.param([7] * 10, 7.5, 9.75, id="one-bucket"),  # all in [5, 10)
        pytest.param([3] * 50 + [120] * 50, 5.0, 122.5, id="two-buckets"),
        pytest.param([3] * 90 + [20_000] * 10, 2.78, 10_000.0, id="open-bucket"),
    ],
)
def test_if_latencies_are_in_buckets_then_percentiles_are_read_within_a_bucket(latencies, p50, p95):
    figures = UsageFigures()
    for latency in latencies:
        index = next(
            (i for i, upper in enumerate(LATENCY_BUCKETS_MS) if latency < upper),
            len(LATENCY_BUCKETS_MS),
        )
        figures.latency_histogram[index] += 1

    assert figures.p50_ms == pytest.approx(p50, abs=0.01)
    assert figures.p95_ms == pytest.approx(p95, abs=0.01)


def test_if_there_are_no_latencies_then_there_is_no_percentile():
    assert UsageFigures().p50_ms is None


def test_if_scores_are_served_then_the_summary_keeps_their_histogram_and_bins(record, api_key):
    key = api_key[0]
    record(EXAMPLE_CPF, OTHER_EXAMPLE_CPF, at=MORNING, api_key=key, score=805, bins=(2, 0, 1))
    record(EXAMPLE_CPF, at=MORNING, api_key=key, score=1000, bins=(0, 0, 3))
    record(EXAMPLE_CPF, at=MORNING, api_key=key, score=7)  # an item cached before bins
    record(EXAMPLE_CPF, at=MORNING, api_key=key, score=812, bins=(1,), model_version="2026.2")
    record(EXAMPLE_CPF, at=MORNING, api_key=key, error=ErrorCode.NO_CREDIT_DATA)

    usage_summarize(now=MORNING + timedelta(hours=1))

    row = DailyUsageStatus.objects.get(day=DAY)  # every key's together
    assert len(row.score_histogram) == 100
    assert {i: n for i, n in enumerate(row.score_histogram) if n} == {0: 1, 80: 2, 81: 1, 99: 1}
    assert row.characteristic_bins == {
        "2026.1": {"bins": [[1, 0, 2], [3], [0, 2, 0, 1]], "unknown": 1},
        "2026.2": {"bins": [[0, 1]], "unknown": 0},
    }


def test_if_days_summarized_before_the_histogram_are_reopened_then_they_get_it(record, api_key):
    key = api_key[0]
    record(EXAMPLE_CPF, at=MORNING - timedelta(days=1), api_key=key, score=500)
    record(EXAMPLE_CPF, at=MORNING, api_key=key, score=640, bins=(1, 2))
    usage_summarize(now=MORNING + timedelta(days=1))
    DailyUsageStatus.objects.filter(day=DAY).update(score_histogram=[], characteristic_bins={})

    with pytest.raises(ValueError, match="may no longer hold"):
        usage_reopen_from(DAY - timedelta(days=1))  # the oldest row's day: maybe pruned
    out = StringIO()
    call_command("summarize_usage", "--again-from", DAY.isoformat(), stdout=out)

    assert "Reopened 1 summarized days." in out.getvalue()
    row = DailyUsageStatus.objects.get(day=DAY)
    assert row.score_histogram[64] == 1
    assert row.characteristic_bins == {"2026.1": {"bins": [[0, 1], [0, 0, 1]], "unknown": 0}}
