"""The daily usage summary the usage report reads (DailyUsage), kept up to date from the
audit trail.

Summing 30 days of a ten-million-row audit trail for every report would take seconds;
summing one day once, and the current day every few minutes, takes a fraction of one.
`usage_summarize` runs on a schedule (Zappa's event, scoreportal/lambda_tasks.py, and
`manage.py summarize_usage`): it summarizes every day from the first incomplete one up
to now. A day is rewritten whole each time (delete its rows, insert them again, under a
lock on its DailyUsageStatus), so running twice, or at once, leaves the same rows. Once
a day has ended, and SETTLE_TIME has passed for rows still being written, it is complete
and is never summarized again: its audit rows may later be pruned, its summary stays.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from audit.constants import LATENCY_BUCKETS_MS, OUTCOME_CLASSES, SCORE_BUCKET, OutcomeClass
from audit.local_days import midnight
from audit.models import DailyUsage, DailyUsageStatus, UsageSummaryRefresh
from scores.constants import ScoreSource
from scores.core.scorecard import MAX_SCORE, Band, bins_from_text
from scores.models import Consultation

# A row's time is taken just before it is written, within its request (at most 29 s on
# Lambda): after this long, a past moment has all its rows.
SETTLE_TIME = timedelta(minutes=5)

_BAND_FIELDS = {band: f"band_{band.value}" for band in Band}


def usage_summarize(
    *,
    now: datetime | None = None,
    max_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    by: str = "",
) -> list[date]:
    """Summarize every day from the first one not complete up to today; returns the days
    summarized. With `max_seconds` it stops between days once that time is spent (a
    Lambda invocation has a hard limit); the next run goes on. `by` names the staff
    member who asked for it from the usage report (empty: the schedule)."""
    now = now or timezone.now()
    covered_until = now - SETTLE_TIME
    first = _first_day_to_summarize()
    if first is None:
        return []
    last = timezone.localdate(covered_until)
    deadline = None if max_seconds is None else clock() + max_seconds
    summarized: list[date] = []
    day = first
    while day <= last and (deadline is None or clock() < deadline):
        usage_summarize_day(day=day, covered_until=covered_until, now=now, by=by)
        summarized.append(day)
        day += timedelta(days=1)
    return summarized


def usage_summary_refresh(
    *,
    actor: User,
    now: datetime | None = None,
    max_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> UsageSummaryRefresh:
    """Summarize what is not summarized yet, in the name of `actor` (the usage report's
    button), and record that they did: how many days, up to which, and whether it got to
    now (with `max_seconds`, a long backlog takes a few presses)."""
    now = now or timezone.now()
    days = usage_summarize(now=now, max_seconds=max_seconds, clock=clock, by=actor.get_username())
    # Up to date when what is left is at most today's (never complete before midnight).
    left = _first_day_to_summarize()
    return UsageSummaryRefresh.objects.create(
        occurred_at=now,
        actor=actor,
        actor_name=actor.get_username(),
        days=len(days),
        last_day=days[-1] if days else None,
        up_to_date=left is None or left >= timezone.localdate(now - SETTLE_TIME),
    )


def usage_reopen_from(day: date) -> int:
    """Mark the summarized days from `day` on as not complete, so the next summary rewrites
    them (and fills what older rows lack: the score histogram, the characteristic bins).
    Refuses a day whose audit rows may be gone, pruned: any day up to the oldest row's (a
    summary rewritten from a partial trail would lose counts). Returns the days reopened."""
    oldest = Consultation.objects.aggregate(at=Min("occurred_at"))["at"]
    if oldest is None or day <= timezone.localdate(oldest):
        raise ValueError("the audit trail may no longer hold every row of that day")
    return DailyUsageStatus.objects.filter(day__gte=day, complete=True).update(complete=False)


def _first_day_to_summarize() -> date | None:
    incomplete = DailyUsageStatus.objects.filter(complete=False).aggregate(day=Min("day"))
    if incomplete["day"] is not None:
        return incomplete["day"]  # type: ignore[no-any-return]
    latest = DailyUsageStatus.objects.aggregate(day=Max("day"))["day"]
    if latest is not None:
        return latest + timedelta(days=1)  # type: ignore[no-any-return]
    oldest = Consultation.objects.aggregate(at=Min("occurred_at"))["at"]
    return None if oldest is None else timezone.localdate(oldest)


@transaction.atomic
def usage_summarize_day(
    *, day: date, covered_until: datetime, now: datetime, by: str = ""
) -> DailyUsageStatus:
    """Rewrite `day`'s DailyUsage rows from its consultations before `covered_until`,
    unless the day is already complete."""
    status, _created = DailyUsageStatus.objects.select_for_update().get_or_create(
        day=day, defaults={"covered_until": midnight(day), "summarized_at": now}
    )
    if status.complete:
        return status
    start, end = midnight(day), midnight(day + timedelta(days=1))
    until = min(end, covered_until)
    in_day = Consultation.objects.filter(occurred_at__gte=start, occurred_at__lt=until)
    rows = [
        _daily_usage(day, values)
        for values in in_day.order_by().values("organization_id", "api_key_id").annotate(**_SUMS)
    ]
    DailyUsage.objects.filter(day=day).delete()
    DailyUsage.objects.bulk_create(rows)
    status.covered_until = until
    status.complete = until >= end
    status.summarized_at = now
    status.summarized_by = by
    status.score_histogram, status.characteristic_bins = _served_histograms(in_day)
    status.save()
    return status


def _latency_bucket(index: int) -> Q:
    lower = LATENCY_BUCKETS_MS[index - 1] if index else None
    upper = LATENCY_BUCKETS_MS[index] if index < len(LATENCY_BUCKETS_MS) else None
    condition = Q()
    if lower is not None:
        condition &= Q(latency_ms__gte=lower)
    if upper is not None:
        condition &= Q(latency_ms__lt=upper)
    return condition


# One GROUP BY over a day's rows computes all of these, per organization and key.
_SUMS: dict[str, Any] = {
    "requests": Count("request_id", distinct=True),
    "consultations": Count("pk"),
    **{
        outcome_class.value: Count(
            "pk",
            filter=Q(
                outcome__in=[code for code, cls in OUTCOME_CLASSES.items() if cls == outcome_class]
            ),
        )
        for outcome_class in OutcomeClass
    },
    "from_cache": Count("pk", filter=Q(source=ScoreSource.CACHE)),
    **{field: Count("pk", filter=Q(band=band.value)) for band, field in _BAND_FIELDS.items()},
    "score_sum": Sum("score"),
    **{
        f"latency_{index}": Count("pk", filter=_latency_bucket(index))
        for index in range(len(LATENCY_BUCKETS_MS) + 1)
    },
}


def _served_histograms(consultations: Any) -> tuple[list[int], dict[str, Any]]:
    """The day's served scores, every key's together: per SCORE_BUCKET points, and each
    scorecard version's characteristic bins ({version: {"bins": [[count per bin] per
    characteristic], "unknown": count}}). One more GROUP BY over the day's served rows (by
    version, score and bins: far fewer groups than rows), summed here."""
    histogram = [0] * (MAX_SCORE // SCORE_BUCKET)
    by_version: dict[str, Any] = {}
    for version, score, bins_text, count in (
        consultations.filter(score__isnull=False)
        .order_by()
        .values_list("model_version", "score", "characteristic_bins")
        .annotate(count=Count("pk"))
    ):
        histogram[min(score // SCORE_BUCKET, len(histogram) - 1)] += count
        counted = by_version.setdefault(version, {"bins": [], "unknown": 0})
        bins = bins_from_text(bins_text)
        if not bins:
            counted["unknown"] += count
            continue
        per_characteristic = counted["bins"]
        while len(per_characteristic) < len(bins):
            per_characteristic.append([])
        for position, index in enumerate(bins):
            counts = per_characteristic[position]
            if len(counts) <= index:
                counts.extend([0] * (index + 1 - len(counts)))
            counts[index] += count
    return histogram, by_version


def _daily_usage(day: date, values: Mapping[str, Any]) -> DailyUsage:
    return DailyUsage(
        day=day,
        organization_id=values["organization_id"],
        api_key_id=values["api_key_id"],
        requests=values["requests"],
        consultations=values["consultations"],
        **{outcome_class.value: values[outcome_class.value] for outcome_class in OutcomeClass},
        from_cache=values["from_cache"],
        **{field: values[field] for field in _BAND_FIELDS.values()},
        score_sum=values["score_sum"] or 0,
        latency_histogram=[
            values[f"latency_{index}"] for index in range(len(LATENCY_BUCKETS_MS) + 1)
        ],
    )
