"""Reads of the audit trail and its summary: in keyset order, for one CPF, counted, the
usage report, and what prune_audit would remove."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, connections
from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from accounts.models import ApiKey, Organization
from audit.constants import LATENCY_BUCKETS_MS
from audit.local_days import midnight
from audit.models import AuditExport, CpfReportRun, DailyUsage, DailyUsageStatus
from audit.order import NEWEST_FIRST, Cursor
from scores.models import Consultation, ShadowScore

# A conversion in progress (convert_audit_trail) keeps the old rows here until copied.
UNPARTITIONED_TABLE = "scores_consultation_unpartitioned"


def is_partitioned() -> bool:
    """Whether this database keeps the trail in monthly partitions (Postgres does)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)",
            [Consultation._meta.db_table],
        )
        return cursor.fetchone() is not None


def conversion_pending() -> bool:
    """Whether rows of the trail are still in the unpartitioned table (convert_audit_trail)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [UNPARTITIONED_TABLE])
        row = cursor.fetchone()
    return bool(row and row[0])


def consultations_prunable_count(*, retention_days: int) -> int:
    """How many audit rows (consultations, records of exports and of per-CPF reports, the
    challenger's shadow scores) are older than `retention_days`: what prune_audit would
    remove."""
    cutoff = timezone.now() - timedelta(days=retention_days)
    # A partitioned trail loses whole months: those that ended before the cutoff.
    trail_cutoff = (
        cutoff.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if is_partitioned()
        else cutoff
    )
    records = (AuditExport, CpfReportRun, ShadowScore)
    return Consultation.objects.filter(occurred_at__lt=trail_cutoff).count() + sum(
        model.objects.filter(occurred_at__lt=cutoff).count() for model in records
    )


@dataclass(frozen=True, slots=True)
class RowCount:
    """How many rows a query has: exactly, or the database's estimate when there are more
    than a page could ever show (`exact` False; `value` may then be None where the
    database gives no estimate)."""

    value: int | None
    exact: bool
    at_least: int = 0


def rows_counted(queryset: QuerySet[Any], *, limit: int) -> RowCount:
    """Count exactly up to `limit` rows (a COUNT over at most limit + 1 of them); beyond,
    the planner's estimate: counting ten million audit rows would take seconds."""
    bounded = queryset.order_by().values("pk")[: limit + 1].count()
    if bounded <= limit:
        return RowCount(bounded, exact=True, at_least=bounded)
    return RowCount(planner_row_estimate(queryset), exact=False, at_least=limit)


def planner_row_estimate(queryset: QuerySet[Any]) -> int | None:
    """The rows Postgres's planner expects the query to return (EXPLAIN, nothing run);
    None on other databases."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    return int(plan[0]["Plan"]["Plan Rows"])


def consultations_in_order(
    queryset: QuerySet[Consultation], *, fields: Sequence[str], chunk_size: int = 2000
) -> Iterator[tuple[Any, ...]]:
    """The `fields` of every row of `queryset`, newest first, read `chunk_size` rows at a
    time from where the last chunk ended (keyset): memory stays constant, no transaction
    or server-side cursor stays open between chunks (RDS Proxy would pin the connection),
    and each chunk costs what the first one does."""
    position: Cursor | None = None
    ordered = queryset.order_by(*NEWEST_FIRST)
    while True:
        chunk = ordered if position is None else ordered.filter(position.older())
        rows = list(chunk.values_list("occurred_at", "pk", *fields)[:chunk_size])
        for row in rows:
            yield row[2:]
        if len(rows) < chunk_size:
            return
        position = Cursor(rows[-1][0], rows[-1][1])


def consultations_for_cpf(*, cpf_hash: str, since: datetime, until: datetime) -> list[Consultation]:
    """Every consultation of one CPF in [since, until), newest first, with its
    organization: what the per-CPF report lists."""
    return list(
        Consultation.objects.filter(
            cpf_hash=cpf_hash, occurred_at__gte=since, occurred_at__lt=until
        )
        .select_related("organization")
        .order_by(*NEWEST_FIRST)
    )


@dataclass(frozen=True, slots=True)
class OrganizationConsultations:
    """One organization's consultations of a CPF in the report's period."""

    organization: Organization | None
    count: int
    first: datetime
    last: datetime


def consultations_by_organization(
    consultations: Sequence[Consultation],
) -> list[OrganizationConsultations]:
    """The report's summary: per organization, how many consultations, first and last;
    the organizations that consulted most first."""
    grouped: dict[int | None, list[Consultation]] = {}
    for consultation in consultations:
        grouped.setdefault(consultation.organization_id, []).append(consultation)
    summary = [
        OrganizationConsultations(
            organization=rows[0].organization,
            count=len(rows),
            first=min(row.occurred_at for row in rows),
            last=max(row.occurred_at for row in rows),
        )
        for rows in grouped.values()
    ]
    return sorted(summary, key=lambda item: (-item.count, str(item.organization or "")))


# ---------------------------------------------------------------------------------------
# The usage report
# ---------------------------------------------------------------------------------------
@dataclass(slots=True)
class UsageFigures:
    """Sums of DailyUsage rows (any days, any keys), and what is read from them."""

    requests: int = 0
    consultations: int = 0
    served: int = 0
    no_credit_data: int = 0
    invalid: int = 0
    refused: int = 0
    throttled: int = 0
    failed: int = 0
    from_cache: int = 0
    band_low: int = 0
    band_fair: int = 0
    band_good: int = 0
    band_excellent: int = 0
    score_sum: int = 0
    latency_histogram: list[int] = field(
        default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1)
    )

    def add(self, usage: DailyUsage) -> None:
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(usage, name))
        for index, count in enumerate(usage.latency_histogram):
            self.latency_histogram[index] += count

    @property
    def scored(self) -> int:
        return self.band_low + self.band_fair + self.band_good + self.band_excellent

    @property
    def cache_hit_ratio(self) -> float | None:
        """Share of the scores served that came from the cache."""
        return self.from_cache / self.served if self.served else None

    @property
    def cache_hit_percent(self) -> float | None:
        ratio = self.cache_hit_ratio
        return None if ratio is None else 100 * ratio

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None

    @property
    def p50_ms(self) -> float | None:
        return self.latency_percentile(0.50)

    @property
    def p95_ms(self) -> float | None:
        return self.latency_percentile(0.95)

    def latency_percentile(self, fraction: float) -> float | None:
        """The latency under which `fraction` of the consultations answered, read from
        the histogram: linear within the bucket it falls in (exact to the bucket's width);
        in the open last bucket, its lower bound."""
        total = sum(self.latency_histogram)
        if not total:
            return None
        target = fraction * total
        seen = 0
        for index, count in enumerate(self.latency_histogram):
            if count and seen + count >= target:
                lower = LATENCY_BUCKETS_MS[index - 1] if index else 0
                if index == len(LATENCY_BUCKETS_MS):
                    return float(lower)
                upper = LATENCY_BUCKETS_MS[index]
                return lower + (upper - lower) * (target - seen) / count
            seen += count
        return float(LATENCY_BUCKETS_MS[-1])  # pragma: no cover  (the loop always returns)


_SUMMED = [name for name in UsageFigures.__dataclass_fields__ if name != "latency_histogram"]


@dataclass(frozen=True, slots=True)
class KeyUsage:
    """One key's (or, with no key, failed authentications') figures over the period."""

    organization: Organization | None
    api_key: ApiKey | None
    figures: UsageFigures


@dataclass(frozen=True, slots=True)
class UsageReportData:
    """The usage report: per key and per day over [since, until], and how complete it is."""

    since: date
    until: date
    by_key: list[KeyUsage]
    by_day: list[tuple[date, UsageFigures]]
    total: UsageFigures
    # Consultations before this moment are counted (None: no day of the period is summarized).
    covered_until: datetime | None
    unsummarized_days: list[date]
    # The latest summary of the period's days: when, and by whom ("" for the schedule).
    last_summarized: DailyUsageStatus | None = None


def usage_report(
    *, since: date, until: date, organization: Organization | None = None
) -> UsageReportData:
    """The usage report, read from the daily summary (audit.services.usage)."""
    rows = DailyUsage.objects.filter(day__gte=since, day__lte=until).select_related(
        "organization", "api_key"
    )
    if organization is not None:
        rows = rows.filter(organization=organization)
    days = [since + timedelta(days=offset) for offset in range((until - since).days + 1)]
    by_day = {day: UsageFigures() for day in days}
    by_key: dict[tuple[int | None, str | None], KeyUsage] = {}
    total = UsageFigures()
    for row in rows:
        by_day[row.day].add(row)
        total.add(row)
        key = (row.organization_id, row.api_key_id)
        if key not in by_key:
            by_key[key] = KeyUsage(row.organization, row.api_key, UsageFigures())
        by_key[key].figures.add(row)
    statuses = {
        status.day: status
        for status in DailyUsageStatus.objects.filter(day__gte=since, day__lte=until)
    }
    # Days before the first consultation have nothing to summarize: they are not missing.
    first = _first_day_with_consultations()
    unsummarized = [
        day
        for day in days
        if day not in statuses and first is not None and first <= day <= timezone.localdate()
    ]
    incomplete = [status.covered_until for status in statuses.values() if not status.complete]
    covered_until = (
        min(incomplete)
        if incomplete
        else (midnight(until + timedelta(days=1)) if statuses else None)
    )
    return UsageReportData(
        since=since,
        until=until,
        by_key=sorted(
            by_key.values(),
            key=lambda item: (
                item.organization is None,
                str(item.organization or ""),
                -item.figures.consultations,
            ),
        ),
        by_day=list(by_day.items()),
        total=total,
        covered_until=covered_until,
        unsummarized_days=unsummarized,
        last_summarized=max(statuses.values(), key=lambda s: s.summarized_at, default=None),
    )


def _first_day_with_consultations() -> date | None:
    """The first summarized day (the summary starts at the first consultation's day), or,
    before any summary, the first consultation's day: an index's first entry."""
    first = DailyUsageStatus.objects.aggregate(day=Min("day"))["day"]
    if first is not None:
        return first  # type: ignore[no-any-return]
    oldest = Consultation.objects.aggregate(at=Min("occurred_at"))["at"]
    return None if oldest is None else timezone.localdate(oldest)


def daily_usage_rows(
    *, since: date, until: date, organization: Organization | None = None
) -> QuerySet[DailyUsage]:
    """The daily summary's rows over [since, until], by day then organization and key:
    what the usage report's CSV lists."""
    rows = DailyUsage.objects.filter(day__gte=since, day__lte=until).select_related("organization")
    if organization is not None:
        rows = rows.filter(organization=organization)
    return rows.order_by("day", "organization__name", "api_key_id")


def consultations_count_by_key(prefixes: Sequence[str], *, since: datetime) -> dict[str, int]:
    """How many audit rows each key (by prefix) has since `since`: one grouped query."""
    counts = (
        Consultation.objects.filter(api_key__prefix__in=prefixes, occurred_at__gte=since)
        .values_list("api_key__prefix")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(counts)


def consultations_count_for_organization(organization_id: int, *, since: datetime) -> int:
    """How many audit rows an organization has since `since`."""
    return Consultation.objects.filter(
        organization_id=organization_id, occurred_at__gte=since
    ).count()
