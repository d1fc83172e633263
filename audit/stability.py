"""Population stability of the served scores after an activation: the PSI of each week's
and each month's score distribution, and the CSI of each characteristic's, against those of
the first week after the activation, from the daily usage summary (a row a day for the
scores, whatever the number of keys or the size of the audit trail).

PSI = sum over bins of (actual - expected) * ln(actual / expected), with shares; a bin
empty on either side counts as EMPTY_SHARE, the usual guard against ln(0). The reading is
the usual one: below 0.10 stable, 0.10 to 0.25 watch, above 0.25 act.

The score's bins are the deciles of the reference week, cut on the summary's 10-point
boundaries: each holds about a tenth of the reference population, so a shift anywhere
moves a bin, where fixed ranges would leave most of the population in two or three of
them (docs/credit-data.md argues it). A characteristic's bins are the scorecard's own.
Days summarized before the summary kept the histogram make their period not comparable
(`summarize_usage --again-from DAY` fills them while their audit rows exist).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from operator import add

from django.db.models import JSONField, OuterRef, Subquery, Sum
from django.utils import timezone

from audit.constants import SCORE_BUCKET
from audit.models import DailyUsage, DailyUsageStatus
from scores.core.scorecard import MAX_SCORE, InvalidScorecard, Scorecard
from scores.selectors import default_scorecard_version, scorecard_activations, scorecard_get

BAND_FIELDS = ("band_low", "band_fair", "band_good", "band_excellent")
EMPTY_SHARE = 0.0001
PSI_WATCH = 0.10
PSI_ACT = 0.25
BASELINE_DAYS = 7
SCORE_BINS = 10
BUCKETS = MAX_SCORE // SCORE_BUCKET


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


def decile_edges(histogram: Sequence[int], bins: int = SCORE_BINS) -> list[int]:
    """Where each score bin starts, as bucket positions: the reference histogram cut where
    its cumulative share passes each tenth, on bucket boundaries. Fewer bins when one bucket
    holds more than a tenth; never a bin the reference leaves empty (leading and trailing
    empty buckets join their neighbour)."""
    total = sum(histogram)
    edges = [0]
    if not total:
        return edges
    cumulative, step = 0, 1
    for position, count in enumerate(histogram[:-1]):
        cumulative += count
        if cumulative >= total:
            break
        if cumulative * bins >= step * total and count:
            edges.append(position + 1)
            while step * total <= cumulative * bins:
                step += 1
    return edges


def binned(histogram: Sequence[int], edges: Sequence[int]) -> tuple[int, ...]:
    """The histogram's counts summed between consecutive edges (the last bin to its end)."""
    bounds = [*edges, len(histogram)]
    return tuple(sum(histogram[bounds[i] : bounds[i + 1]]) for i in range(len(edges)))


@dataclass(slots=True)
class _Counts:
    """What a set of days' summary rows add up to."""

    bands: list[int] = field(default_factory=lambda: [0] * len(BAND_FIELDS))
    histogram: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    # Whether every served score is in the histogram (rows summarized before it: not).
    comparable: bool = True
    bins: list[list[int]] = field(default_factory=list)
    unknown: int = 0

    def add(self, other: _Counts) -> None:
        self.bands = list(map(add, self.bands, other.bands))
        self.histogram = list(map(add, self.histogram, other.histogram))
        self.comparable = self.comparable and other.comparable
        _add_bins(self.bins, other.bins)
        self.unknown += other.unknown


def _add_bins(into: list[list[int]], bins: Iterable[Sequence[int]]) -> None:
    for position, counts in enumerate(bins):
        if len(into) <= position:
            into.append([])
        target = into[position]
        if len(target) < len(counts):
            target.extend([0] * (len(counts) - len(target)))
        target[: len(counts)] = map(add, target, counts)


@dataclass(frozen=True, slots=True)
class StabilityRow:
    label: str
    start: date
    end: date  # inclusive
    counts: tuple[int, ...]  # per band
    psi: float | None
    reading: str
    # False: some of its days were summarized before the score histogram was kept.
    comparable: bool = True
    # Per characteristic of the scorecard (its order): CSI and its reading.
    csi: tuple[float | None, ...] = ()
    csi_readings: tuple[str, ...] = ()
    # Scores served without their bins (cached before they were kept): not in the CSI.
    without_bins: int = 0

    @property
    def served(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class ScoreBin:
    low: int
    high: int  # inclusive
    share: float  # of the reference, percent


@dataclass(frozen=True, slots=True)
class StabilityReport:
    version: str
    activated_on: date | None  # None: the first boot's default, since the first summary
    baseline_start: date | None
    baseline_end: date | None
    baseline: tuple[int, ...]  # per band
    weeks: list[StabilityRow]
    months: list[StabilityRow]
    score_bins: list[ScoreBin] = field(default_factory=list)
    baseline_comparable: bool = True
    characteristics: tuple[str, ...] = ()  # names, the scorecard's order


def _daily(since: date, until: date, version: str) -> dict[date, _Counts]:
    """Each day's served scores, in one query: the bands summed over the day's rows (one
    per key) in the database, and the day's histogram and bins, every key's together, from
    its status: a row a day whatever the number of keys."""
    status = DailyUsageStatus.objects.filter(day=OuterRef("day"))
    days: dict[date, _Counts] = {}
    for day, histogram, characteristic_bins, *bands in (
        DailyUsage.objects.filter(day__gte=since, day__lte=until)
        .order_by()
        .values("day")
        .annotate(
            **{f"total_{name}": Sum(name) for name in BAND_FIELDS},
            histogram=Subquery(status.values("score_histogram")[:1], output_field=JSONField()),
            bins=Subquery(status.values("characteristic_bins")[:1], output_field=JSONField()),
        )
        .values_list("day", "histogram", "bins", *(f"total_{name}" for name in BAND_FIELDS))
    ):
        counts = days[day] = _Counts(bands=[int(count or 0) for count in bands])
        served = sum(counts.bands)
        if histogram and len(histogram) == BUCKETS:
            counts.histogram = list(histogram)
        elif served:
            counts.comparable = False  # summarized before the histogram was kept
        of_version = (characteristic_bins or {}).get(version)
        if of_version:
            _add_bins(counts.bins, of_version.get("bins", []))
            counts.unknown += int(of_version.get("unknown", 0))
        else:
            counts.unknown += served  # another version's, or summarized before bins were kept
    return days


def _summed(days: dict[date, _Counts], start: date, end: date) -> _Counts:
    total = _Counts()
    day = start
    while day <= end:
        counts = days.get(day)
        if counts is not None:
            total.add(counts)
        day += timedelta(days=1)
    return total


def _csi(
    baseline: _Counts, counts: _Counts, scorecard: Scorecard | None
) -> tuple[float | None, ...]:
    if scorecard is None:
        return ()
    values: list[float | None] = []
    for position, characteristic in enumerate(scorecard.characteristics):
        size = len(characteristic.bins)

        def of(bins: list[list[int]], size: int = size, position: int = position) -> list[int]:
            found = bins[position] if position < len(bins) else []
            return [*found[:size], *([0] * (size - len(found)))]

        values.append(psi(of(baseline.bins), of(counts.bins)))
    return tuple(values)


def stability_report(*, today: date | None = None, characteristics: bool = True) -> StabilityReport:
    """The stability of the served scores since the active version's activation; with
    `characteristics`, the CSI of each of the version's characteristics too."""
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
    scorecard: Scorecard | None = None
    if characteristics:
        try:
            scorecard = scorecard_get(version)
        except InvalidScorecard:
            scorecard = None
    days = _daily(first, today, version)
    baseline_end = first + timedelta(days=BASELINE_DAYS - 1)
    baseline = _summed(days, first, baseline_end)
    edges = decile_edges(baseline.histogram)
    expected = binned(baseline.histogram, edges)

    def row(label: str, start: date, end: date) -> StabilityRow:
        counts = _summed(days, start, end)
        comparable = counts.comparable and baseline.comparable
        value = psi(expected, binned(counts.histogram, edges)) if comparable else None
        csi = _csi(baseline, counts, scorecard)
        return StabilityRow(
            label,
            start,
            end,
            tuple(counts.bands),
            value,
            reading(value),
            comparable=comparable,
            csi=csi,
            csi_readings=tuple(reading(item) for item in csi),
            without_bins=counts.unknown,
        )

    weeks: list[StabilityRow] = []
    start = first
    while start <= today:
        end = start + timedelta(days=6)
        weeks.append(row(f"{start:%d/%m}-{min(end, today):%d/%m}", start, end))
        start = end + timedelta(days=1)
    months: list[StabilityRow] = []
    month = first.replace(day=1)
    while month <= today:
        following = (month + timedelta(days=32)).replace(day=1)
        months.append(row(f"{month:%m/%Y}", max(month, first), following - timedelta(days=1)))
        month = following
    served = sum(baseline.bands)
    total = sum(expected)
    bounds = [*edges, BUCKETS]
    return StabilityReport(
        version=version,
        activated_on=activated_on,
        baseline_start=first if served else None,
        baseline_end=min(baseline_end, today) if served else None,
        baseline=tuple(baseline.bands),
        weeks=weeks,
        months=months,
        score_bins=[
            ScoreBin(
                low=bounds[i] * SCORE_BUCKET,
                high=MAX_SCORE if i == len(edges) - 1 else bounds[i + 1] * SCORE_BUCKET - 1,
                share=100 * expected[i] / total,
            )
            for i in range(len(edges))
        ]
        if total and baseline.comparable
        else [],
        baseline_comparable=baseline.comparable,
        characteristics=scorecard.characteristic_names if scorecard else (),
    )


def latest_psi() -> StabilityRow | None:
    """The latest week with a PSI (for a start page: the credit data operators')."""
    report = stability_report(characteristics=False)
    for row in reversed(report.weeks):
        if row.psi is not None:
            return row
    return None
