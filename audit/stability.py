"""Population stability of the served scores after an activation: the PSI of each week's
and each month's band distribution against the distribution of the first week after the
activation, from the daily usage summary (a few hundred rows a year per key, whatever the
size of the audit trail).

PSI = sum over bins of (actual - expected) * ln(actual / expected), with shares; a bin
empty on either side counts as EMPTY_SHARE, the usual guard against ln(0). The reading is
the usual one: below 0.10 stable, 0.10 to 0.25 watch, above 0.25 act.

The summary counts the served scores per band (low, fair, good, excellent), so the bins
are the four bands. Characteristic stability (CSI) needs each characteristic's
distribution over the served profiles, which the summary does not keep: not reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Sum
from django.utils import timezone

from audit.models import DailyUsage
from scores.selectors import default_scorecard_version, scorecard_activations

BAND_FIELDS = ("band_low", "band_fair", "band_good", "band_excellent")
EMPTY_SHARE = 0.0001
PSI_WATCH = 0.10
PSI_ACT = 0.25
BASELINE_DAYS = 7


def psi(expected: Sequence[float], actual: Sequence[float]) -> float | None:
    """The population stability index of `actual` against `expected` (counts or shares,
    bin by bin); None when either side is empty."""
    expected_total, actual_total = sum(expected), sum(actual)
    if not expected_total or not actual_total:
        return None
    total = 0.0
    for e_count, a_count in zip(expected, actual, strict=True):
        e_share = max(e_count / expected_total, EMPTY_SHARE)
        a_share = max(a_count / actual_total, EMPTY_SHARE)
        total += (a_share - e_share) * math.log(a_share / e_share)
    return total


def reading(value: float | None) -> str:
    """stable, watch or act (the usual thresholds); "" without a value."""
    if value is None:
        return ""
    if value < PSI_WATCH:
        return "stable"
    if value <= PSI_ACT:
        return "watch"
    return "act"


@dataclass(frozen=True, slots=True)
class StabilityRow:
    label: str
    start: date
    end: date  # inclusive
    counts: tuple[int, ...]
    psi: float | None
    reading: str

    @property
    def served(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class StabilityReport:
    version: str
    activated_on: date | None  # None: the first boot's default, since the first summary
    baseline_start: date | None
    baseline_end: date | None
    baseline: tuple[int, ...]
    weeks: list[StabilityRow]
    months: list[StabilityRow]


def _daily_bands(since: date, until: date) -> dict[date, tuple[int, ...]]:
    rows = (
        DailyUsage.objects.filter(day__gte=since, day__lte=until)
        .values("day")
        .annotate(**{f"total_{field}": Sum(field) for field in BAND_FIELDS})
        .order_by("day")
        .values_list("day", *(f"total_{field}" for field in BAND_FIELDS))
    )
    return {row[0]: tuple(int(count or 0) for count in row[1:]) for row in rows}


def _summed(days: dict[date, tuple[int, ...]], start: date, end: date) -> tuple[int, ...]:
    totals = [0] * len(BAND_FIELDS)
    for day, counts in days.items():
        if start <= day <= end:
            totals = [t + c for t, c in zip(totals, counts, strict=True)]
    return tuple(totals)


def stability_report(*, today: date | None = None) -> StabilityReport:
    """The stability of the served scores since the active version's activation."""
    today = today or timezone.localdate()
    activations = scorecard_activations()
    activated_on: date | None = None
    first: date
    if activations:
        version = activations[0].version
        activated_on = timezone.localdate(activations[0].occurred_at)
        first = activated_on + timedelta(days=1)  # the activation day mixes both versions
    else:
        version = default_scorecard_version()
        earliest: date | None = (
            DailyUsage.objects.order_by("day").values_list("day", flat=True).first()
        )
        first = earliest or today
    days = _daily_bands(first, today)
    baseline_end = first + timedelta(days=BASELINE_DAYS - 1)
    baseline = _summed(days, first, baseline_end)
    weeks: list[StabilityRow] = []
    start = first
    while start <= today:
        end = start + timedelta(days=6)
        counts = _summed(days, start, end)
        value = psi(baseline, counts)
        weeks.append(
            StabilityRow(
                f"{start:%d/%m}-{min(end, today):%d/%m}", start, end, counts, value, reading(value)
            )
        )
        start = end + timedelta(days=1)
    months: list[StabilityRow] = []
    month = first.replace(day=1)
    while month <= today:
        following = (month + timedelta(days=32)).replace(day=1)
        start, end = max(month, first), following - timedelta(days=1)
        counts = _summed(days, start, end)
        value = psi(baseline, counts)
        months.append(StabilityRow(f"{month:%m/%Y}", start, end, counts, value, reading(value)))
        month = following
    return StabilityReport(
        version=version,
        activated_on=activated_on,
        baseline_start=first if sum(baseline) else None,
        baseline_end=min(baseline_end, today) if sum(baseline) else None,
        baseline=baseline,
        weeks=weeks,
        months=months,
    )


def latest_psi() -> StabilityRow | None:
    """The latest week with a PSI (for a start page: the credit data operators')."""
    report = stability_report()
    for row in reversed(report.weeks):
        if row.psi is not None:
            return row
    return None
